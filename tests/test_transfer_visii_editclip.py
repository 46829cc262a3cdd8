"""VISII on an EditCLIP-conditioned IP2P: the learned thing is the projected EditCLIP token sequence; offline CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_image
from PIL import Image
from torch_fixtures import one_thread  # noqa: F401 - the fixture, used by pytestmark

from editsearch.core.errors import UsageError
from editsearch.transfer.visii import LearnedInstruction
from editsearch.transfer.visii_editclip import EditVisii

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run several times faster on one thread
PAIR = (random_image(1, (32, 32)), random_image(2, (32, 32)))


@pytest.fixture(scope="module")
def visii(tiny_model):
    from test_transfer_pipeline import tiny_transfer

    return EditVisii(tiny_transfer(tiny_model), "tiny-editclip-ip2p")


def test_the_instruction_starts_as_the_exemplars_own_conditioning(visii):
    """Before any step, VISII's instruction is the projected EditCLIP tokens: it edits as `apply` does."""
    settings = visii.settings(steps=1, size=32)
    start = visii.initial([PAIR], settings)
    assert torch.equal(start, visii.transfer.encode_edit(*PAIR)[0].float())
    assert start.shape == (visii.tokens, visii.pipe.unet.config.cross_attention_dim)
    query = random_image(3, (32, 32))
    [ours] = visii.apply(LearnedInstruction(start, settings), [query], steps=2, seed=4, guidance=7.0, size=32)
    [default] = visii.transfer.apply(*PAIR, [query], steps=2, seed=4, edit_guidance=7.0, size=32)
    assert np.array_equal(np.asarray(ours), np.asarray(default))
    both = visii.initial([PAIR, (PAIR[1], PAIR[0])], settings)  # n pairs start at their mean
    assert torch.allclose(both, (start + visii.transfer.encode_edit(PAIR[1], PAIR[0])[0].float()) / 2, atol=1e-6)


@pytest.fixture(scope="module")
def mini():
    return EditVisii.from_pretrained("editclip-ip2p-mini", device="cpu")


def reconstruction_loss(visii, pair, tokens, draws=16):
    """The mean ||target - prediction||^2 of a pair over fixed (t, noise) draws, for given conditioning tokens."""
    from editsearch.transfer.text_pipelines import image_latents

    vae, unet, side = visii.pipe.vae, visii.pipe.unet, visii.resolution
    z_x = image_latents(vae, [pair[0]], (side, side))
    z_y = image_latents(vae, [pair[1]], (side, side)) * vae.config.scaling_factor
    generator, total = torch.Generator().manual_seed(99), 0.0
    with torch.no_grad():
        for _ in range(draws):
            noise, t = torch.randn(z_y.shape, generator=generator), torch.randint(0, 1000, (1,), generator=generator)
            model_in = torch.cat([visii._noised(z_y, noise, t), z_x], 1)
            pred = unet(model_in, t, encoder_hidden_states=visii.condition(tokens)).sample
            total += float(torch.nn.functional.mse_loss(pred, visii._target(z_y, noise, t)))
    return total / draws


def test_inversion_fits_the_pair_by_the_conditioning_alone(mini):
    """On the shipped (trained) pipeline, 20 steps lower the pair's reconstruction loss on held-fixed draws;
    only the conditioning changes."""
    from PIL import ImageOps

    before = random_image(1, (64, 64))
    pair = (before, ImageOps.grayscale(before).convert("RGB"))
    frozen = {k: v.clone() for k, v in mini.pipe.unet.state_dict().items()}
    settings = mini.settings(steps=20, lr=0.05)
    learned = mini.invert([pair], settings)
    start = mini.initial([pair], settings)
    assert learned.tokens == mini.tokens == 50 and len(learned.history) == 20
    assert reconstruction_loss(mini, pair, learned.embeddings) < 0.98 * reconstruction_loss(mini, pair, start)
    assert all(torch.equal(v, frozen[k]) for k, v in mini.pipe.unet.state_dict().items())


def test_the_text_only_options_are_refused_by_name(visii):
    settings = visii.settings(seed=3)
    assert (settings.lambda_clip, settings.tokens, settings.clip, settings.seed) == (0.0, visii.tokens, "", 3)
    for given, flag in (({"init_text": "red"}, "--init-text"), ({"lambda_clip": 0.1}, "--lambda-clip")):
        with pytest.raises(UsageError, match=flag):
            visii.settings(**given)
    with pytest.raises(UsageError, match="--text"):
        visii.refuse_text("a watercolor cat")


def test_a_v_prediction_pipeline_is_fitted_to_v():
    """The shipped pipeline predicts v: the target is diffusers' own velocity for the same schedule."""
    from diffusers import DDPMScheduler

    from editsearch.transfer.pipeline_names import PIPELINES, TINY_NAME
    from editsearch.transfer.visii import VisiiBase

    config = json.loads((Path(PIPELINES[TINY_NAME].location) / "scheduler" / "scheduler_config.json").read_text())
    assert config["prediction_type"] == "v_prediction"
    ddpm = DDPMScheduler.from_config(config)
    holder = VisiiBase()
    holder.pipe = type("Pipe", (), {"scheduler": ddpm})()
    latents, noise, t = torch.randn(1, 4, 4, 4), torch.randn(1, 4, 4, 4), torch.tensor([999])
    assert torch.allclose(holder._target(latents, noise, t), ddpm.get_velocity(latents, noise, t), atol=1e-6)


def cli(*args):
    from click.testing import CliRunner

    from editsearch.cli.main import cli as main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_visii_runs_offline_on_the_shipped_pipeline_and_reuses(tiny_model_dir, tmp_path, monkeypatch):
    """With no --model, VISII inverts the shipped editclip-ip2p-mini, offline with no hub cache; a second run
    reuses the learned instruction and gives the same image."""
    from index_fixtures import make_collection

    from editsearch.index.store import EditIndex

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    idx, query = tmp_path / "idx", tmp_path / "q.png"
    random_image(3, (40, 40)).save(query)
    built = cli("build-index", make_collection(tmp_path / "data", 3), "--index", idx, "--model", tiny_model_dir, "-q")
    assert built.exit_code == 0, built.output
    with EditIndex.open(idx) as index:
        edit_id = min(index.catalog.existing_ids(list(range(1, 50))))
    args = ["apply", "--method", "visii", "--index", idx, "--edit-id", edit_id, "--image", query, "--visii-steps", 2]
    first = cli(*args, "--out", tmp_path / "o.png", "--steps", 2)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == str(tmp_path / "o.png") and Image.open(tmp_path / "o.png").size == (64, 64)
    assert "64-px demonstration pipeline" in first.stderr
    second = cli(*args, "--out", tmp_path / "o2.png", "--steps", 2, "--json")
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert report["reused"] and report["timings"]["invert_s"] == 0.0 and report["model"] == "editclip-ip2p-mini"
    assert report["conditioning"] == "editclip" and report["demonstration"] is True and report["tokens"] == 50
    assert Image.open(tmp_path / "o.png").tobytes() == Image.open(tmp_path / "o2.png").tobytes()
    text = cli(*args, "--out", tmp_path / "o3.png", "--text", "a cat")
    assert text.exit_code == 2 and "--text" in text.output and not (tmp_path / "o3.png").exists()
    clip = cli(*args, "--out", tmp_path / "o3.png", "--clip-model", tmp_path)
    assert clip.exit_code == 2 and "--clip-model goes with a text-conditioned" in clip.output
