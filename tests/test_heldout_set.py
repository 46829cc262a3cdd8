"""The independent held-out edit set (benchmarks/heldout): a valid manifest that build-index reads, every family."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from benchmarks.heldout import write_heldout
from benchmarks.heldout.__main__ import main
from benchmarks.heldout.families import FAMILIES
from benchmarks.heldout.sheet import GAP, TILE
from benchmarks.heldout.wordings import wordings
from editsearch.cli.main import cli

NOT_DIRECTIONAL = {"flip_horizontal", "flip_vertical", "invert", "hue_shift", "rotate_90"}


def read_manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_family_has_its_wordings_and_direction():
    assert len(FAMILIES) == 47
    assert set(wordings()) == set(FAMILIES)
    assert all(len(set(texts)) >= 5 for texts in wordings().values())
    assert {name for name, f in FAMILIES.items() if not f.directional} == NOT_DIRECTIONAL


def test_two_pairs_per_family_make_an_index(tmp_path, tiny_model_dir):
    manifest = write_heldout(tmp_path / "set", pairs=2 * 47, seed=0, size=64)
    assert manifest == tmp_path / "set" / "manifest.jsonl"
    records = read_manifest(manifest)
    assert len(records) == 94
    assert Counter(r["family"] for r in records) == dict.fromkeys(FAMILIES, 2)
    for r in records:
        assert set(r) == {"before", "after", "instruction", "family", "source", "directional"}
        assert r["instruction"] in wordings()[r["family"]] and r["source"]
        assert r["directional"] is FAMILIES[r["family"]].directional
        before = np.asarray(Image.open(manifest.parent / r["before"]), np.int16)
        after = np.asarray(Image.open(manifest.parent / r["after"]), np.int16)
        assert before.shape == after.shape == (64, 64, 3)
        diff = np.abs(before - after)
        assert diff.mean() >= 1.0 or (diff.max(axis=2) > 24).mean() >= 0.005, r  # the edit shows

    args = ["build-index", manifest, "--index", tmp_path / "idx", "--model", tiny_model_dir, "-q", "--json"]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"], report["index"]["edits"]) == (94, 0, 94)


def test_the_same_seed_writes_the_same_set(tmp_path):
    first = write_heldout(tmp_path / "a", pairs=47, seed=3, size=48)
    again = write_heldout(tmp_path / "b", pairs=47, seed=3, size=48)
    other = write_heldout(tmp_path / "c", pairs=47, seed=4, size=48)
    assert first.read_bytes() == again.read_bytes()
    for r in read_manifest(first):
        for key in ("before", "after"):
            assert (first.parent / r[key]).read_bytes() == (again.parent / r[key]).read_bytes()
    assert (
        sum(
            (first.parent / r["after"]).read_bytes() != (other.parent / r["after"]).read_bytes()
            for r in read_manifest(first)
        )
        >= 40
    )  # another seed: other photos and other strengths (a flip of the same photo may repeat)


def test_cli_writes_a_sheet_and_refuses_unknown_families(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert main(["--out", str(tmp_path / "s"), "--pairs", "4", "--seed", "0", "--size", "48",
                 "--families", "blur,frame", "--sheet", str(sheet)]) == 0  # fmt: skip
    assert capsys.readouterr().out.strip() == str(tmp_path / "s" / "manifest.jsonl")
    assert Image.open(sheet).height == 2 * (TILE + GAP) + GAP  # two rows: one per family asked for

    assert main(["--out", str(tmp_path / "t"), "--pairs", "4", "--seed", "0", "--families", "blur,sparkle"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: unknown families: sparkle") and "\n" not in err
