"""Shared fixtures: tiny random EditCLIP models (no network, no downloads) and small images."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
if "EDITSEARCH_CACHE_DIR" not in os.environ:  # exported query towers go to a throwaway cache, not the user's
    os.environ["EDITSEARCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="editsearch-test-cache-")
    atexit.register(shutil.rmtree, os.environ["EDITSEARCH_CACHE_DIR"], ignore_errors=True)

TINY_VISION = {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "head_width": 16, "mlp_ratio": 2.0}
TINY_TEXT = {"kind": "open_clip", "context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}


def tiny_config(text: dict | None = None, embed_dim: int = 16, name: str = "tiny-test"):
    """A 2-layer, 32-px EditCLIP config with an open_clip text tower (the test-size model)."""
    from editsearch.encoder import EditCLIPConfig

    return EditCLIPConfig(embed_dim=embed_dim, vision=dict(TINY_VISION), text=dict(text or TINY_TEXT), name=name)


@pytest.fixture(scope="session")
def tiny_model():
    """A deterministic tiny random EditCLIP (seed 0) on CPU."""
    from editsearch.encoder.registry import random_model

    return random_model(tiny_config(), seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model, tmp_path_factory) -> Path:
    """The tiny model saved in our own format."""
    return tiny_model.save_pretrained(tmp_path_factory.mktemp("tiny-editclip"))


def random_image(seed: int, size: tuple[int, int] = (48, 40), mode: str = "RGB") -> Image.Image:
    """A reproducible noisy RGB image."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)


@pytest.fixture
def image_files(tmp_path) -> list[Path]:
    """Four small distinct PNG files on disk."""
    paths = []
    for i in range(4):
        p = tmp_path / f"img{i}.png"
        random_image(i).save(p)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def browser():
    """Chromium driven by Playwright, for the tests of the served page."""
    from browser_fixtures import browser_path
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=browser_path(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page of that browser, 1200 x 900, past the page's content-security policy: wait_for_function
    evaluates its predicate as a string, which the policy refuses (test_serve_browser runs the page under it)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900}, bypass_csp=True)
    page.set_default_timeout(30_000)
    yield page
    page.close()


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory):
    """A tiny random Stable Diffusion of the stock layout, saved once per test module."""
    from editsearch.transfer.tiny_pipelines import tiny_sd

    folder = tmp_path_factory.mktemp("sd") / "sd"
    tiny_sd(seed=0).save_pretrained(folder)
    return folder
