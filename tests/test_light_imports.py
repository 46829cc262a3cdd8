"""The light commands (help, query, stats, show, score of one pair) import neither torch nor pandas, and a text
query no imaging library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"torch", "pandas", "torchvision", "open_clip", "transformers", "diffusers"}
# Runs the CLI in this fresh process; at exit writes the top-level modules it imported to $MODULES_OUT.
WRAPPER = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules))))
from editsearch.cli.main import cli
cli()
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A 6-pair index of the tiny model (loaded by folder) and the default model, both with their towers exported."""
    from conftest import tiny_config
    from index_fixtures import exported_tiny_index

    from editsearch.encoder import load_model
    from editsearch.encoder.export import export_towers
    from editsearch.encoder.registry import DEFAULT_MODEL

    root = tmp_path_factory.mktemp("light")
    exported_tiny_index(root, tiny_config(), pairs=6, seed=2, image_format="png")
    assert export_towers(load_model(DEFAULT_MODEL, device="cpu"), DEFAULT_MODEL)
    return root


def imported(args: list[str], tmp_path: Path) -> tuple[set[str], str]:
    """Run the CLI with `args` in a fresh process (it must succeed): (the top-level modules it imported, stdout)."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "MODULES_OUT": str(out)}
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {name.split(".")[0] for name in json.loads(out.read_text())}, proc.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["apply", "--help"],
        ["query", "--index", "{index}", "--text", "make it brighter", "--json", "-k", "3"],
        ["query", "--index", "{index}", "--edit-id", "1", "--json", "-k", "3"],
        ["stats", "--index", "{index}"],
        ["show", "1", "--index", "{index}"],
        ["score", "--before", "{before}", "--after", "{after}", "--text", "make it brighter", "--json"],
    ],
    ids=["help", "apply-help", "query-text", "query-edit-id", "stats", "show", "score"],
)
def test_light_commands_import_no_heavy_module(built, tmp_path, command):
    names = {
        "index": str(built / "index"),
        "before": str(built / "data/images/000000_before.png"),
        "after": str(built / "data/images/000000_after.png"),
    }
    modules, stdout = imported([arg.format(**names) for arg in command], tmp_path)
    assert stdout.strip()
    assert sorted(modules & HEAVY) == []
    if command[0] in ("query", "score") and "--edit-id" not in command:
        assert "onnxruntime" in modules  # embedded by the exported towers
    if "--text" in command and command[0] == "query":
        assert "PIL" not in modules  # a text query reads no image
