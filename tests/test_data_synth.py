"""Synthetic edit generator: catalogue rules, visible edits, split hygiene, determinism, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from editsearch.data import EditPair, iter_source
from editsearch.data.synthetic.families import FAMILIES, GROUPS
from editsearch.data.synthetic.generator import make_demo, make_pair, synth_pairs, write_synth
from editsearch.data.synthetic.photos import HELDOUT_GROUPS, available_photos, sample_source, source_photo, source_split
from editsearch.data.synthetic.phrasings import fill


def test_catalogue_has_enough_families_groups_and_phrasings() -> None:
    assert len(FAMILIES) >= 30
    groups = {f.group for f in FAMILIES.values()}
    assert groups == set(GROUPS)
    assert sum(f.group == "compound" for f in FAMILIES.values()) >= 5
    all_train = {p for f in FAMILIES.values() for p in f.train_phrasings}
    for f in FAMILIES.values():
        assert len(f.train_phrasings) + len(f.heldout_phrasings) >= 6, f.name
        assert len(f.heldout_phrasings) >= 2 and len(f.train_phrasings) >= 2, f.name
        assert not set(f.heldout_phrasings) & all_train, f.name


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_makes_a_visible_change(name: str) -> None:
    diffs = []
    for k in range(5):
        rng = np.random.default_rng([5, k])
        before = source_photo(rng, "train", 64)
        after, params = FAMILIES[name].apply(before, rng)
        assert after.size == before.size and after.mode == "RGB"
        json.dumps(params)
        diffs.append(np.abs(np.asarray(after, np.float32) - np.asarray(before, np.float32)).mean())
    assert min(diffs) > 0.5, f"{name} left an image unchanged: {diffs}"
    assert np.mean(diffs) > 5.0, f"{name} is too faint: mean abs diff {np.mean(diffs):.2f}"


def test_split_uses_only_its_phrasings_and_sources() -> None:
    heldout = {p for f in FAMILIES.values() for p in f.heldout_phrasings}
    for split in ("train", "test"):
        for pair in synth_pairs(2 * len(FAMILIES), seed=1, split=split, size=32):
            family = FAMILIES[pair.family]
            allowed = family.train_phrasings if split == "train" else family.heldout_phrasings
            assert pair.split == split
            assert pair.instruction in {fill(p, pair.params) for p in allowed}
            assert source_split(pair.photo) == split
            if split == "train":
                assert pair.instruction not in heldout
                assert pair.instruction not in {fill(p, pair.params) for p in family.heldout_phrasings}


def test_sources_include_shipped_photos_and_scenes_split_by_id() -> None:
    photos = available_photos()
    assert photos, "scikit-image ships sample photos; none were found"
    assert {p.split for p in photos} == {"train", "test"}
    assert all((p.group in HELDOUT_GROUPS) == (p.split == "test") for p in photos)
    rng = np.random.default_rng(0)
    seen = [sample_source(rng, "train", 40)[1] for _ in range(40)]
    assert any(s.startswith("photo:") for s in seen) and any(s.startswith("scene:") for s in seen)


def test_make_pair_is_deterministic_per_seed() -> None:
    a = make_pair(np.random.default_rng(42), "train", 48)
    b = make_pair(np.random.default_rng(42), "train", 48)
    c = make_pair(np.random.default_rng(43), "train", 48)
    assert (a.family, a.params, a.instruction, a.photo) == (b.family, b.params, b.instruction, b.photo)
    assert a.before.tobytes() == b.before.tobytes() and a.after.tobytes() == b.after.tobytes()
    assert a.before.tobytes() != c.before.tobytes()
    forced = make_pair(np.random.default_rng(1), "test", 32, family="sepia")
    assert forced.family == "sepia" and forced.split == "test"
    with pytest.raises(ValueError):
        make_pair(np.random.default_rng(1), "validation", 32)


def test_write_synth_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_synth(tmp_path / run, pairs=6, seed=9, size=40, split="both")
    manifest = (tmp_path / "a" / "manifest.jsonl").read_bytes()
    assert manifest == (tmp_path / "b" / "manifest.jsonl").read_bytes()
    for row in map(json.loads, manifest.decode().splitlines()):
        for half in ("before", "after"):
            assert (tmp_path / "a" / row[half]).read_bytes() == (tmp_path / "b" / row[half]).read_bytes()
    splits = [json.loads(line)["split"] for line in manifest.decode().splitlines()]
    assert splits == ["train"] * 4 + ["test", "train"]


def test_cli_synth_and_sheet(tmp_path: Path) -> None:
    from editsearch.cli.main import cli

    out = tmp_path / "synth"
    result = CliRunner().invoke(
        cli, ["data", "synth", "--out", str(out), "--pairs", "40", "--seed", "2", "--size", "48", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["pairs"] == 40 and len(summary["families"]) >= 30
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and len({r["family"] for r in rows}) == 40
    for row in rows:
        assert {"id", "before", "after", "instruction", "family", "params", "split", "photo"} <= set(row)
        assert (out / row["before"]).is_file() and (out / row["after"]).is_file()
    pairs = [p for p in iter_source(out / "manifest.jsonl", require_instruction=True)]
    assert all(isinstance(p, EditPair) for p in pairs) and len(pairs) == 40
    assert pairs[0].metadata["family"] == rows[0]["family"]

    result = CliRunner().invoke(cli, ["data", "sheet", str(out), "--out", str(tmp_path / "s.png"), "--thumb", "48"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.png").stat().st_size > 1000

    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"before": 1}\nnot json\n')
    result = CliRunner().invoke(cli, ["data", "sheet", str(empty), "--out", str(tmp_path / "e.png")])
    assert result.exit_code == 1 and "no pairs with 'before' and 'after'" in result.stderr
    assert "Traceback" not in result.output


def test_cli_covers_every_family_when_pairs_suffice(tmp_path: Path) -> None:
    summary = write_synth(tmp_path, pairs=len(FAMILIES), seed=4, size=32)
    assert set(summary["families"]) == set(FAMILIES)


def test_make_demo_writes_once(tmp_path: Path) -> None:
    manifest = make_demo(tmp_path / "demo", pairs=8, seed=0)
    rows = manifest.read_text().splitlines()
    assert len(rows) == 8
    first = manifest.stat().st_mtime_ns
    assert make_demo(tmp_path / "demo", pairs=8, seed=0) == manifest
    assert manifest.stat().st_mtime_ns == first
