"""Each audit check measures its reliability on the collection before it flags: reliable where the model reads the
pairs, unreliable (flagging nothing, saying why) where it cannot, and a clear summary on degenerate collections."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from editsearch.audit.checks.base import RELIABLE, coverage, reading
from editsearch.audit.peers import InstructionPeers
from editsearch.cli.main import cli
from editsearch.index.store import EditIndex

FIELDS = {"reliable": bool, "reliability": float, "why": str}


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """120 pairs of the project's generator (every family), as `editsearch data synth` writes them."""
    root = tmp_path_factory.mktemp("synth")
    made = run("data", "synth", "--out", root, "--pairs", 120, "--seed", 11, "--size", 128, "--format", "jpg")
    assert made.exit_code == 0, made.output
    return root / "manifest.jsonl"


@pytest.fixture(scope="module")
def read_audit(synth, tmp_path_factory):
    """The synthetic set indexed with the shipped model, which reads it, and audited: (summary, report, stdout)."""
    root = tmp_path_factory.mktemp("read")
    assert run("build-index", synth, "--index", root / "idx", "-q").exit_code == 0
    result = run("audit", "--index", root / "idx", "--out", root / "out", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads((root / "out" / "summary.json").read_text())
    return summary, (root / "out" / "report.html").read_text(), result.stdout


@pytest.fixture(scope="module")
def unread(synth, tmp_path_factory, tiny_model_dir) -> Path:
    """The same synthetic set indexed with the tiny random model, which reads nothing of it."""
    index = tmp_path_factory.mktemp("unread") / "idx"
    assert run("build-index", synth, "--index", index, "--model", tiny_model_dir, "-q").exit_code == 0
    return index


def assert_fields(info: dict) -> None:
    for key, kind in FIELDS.items():
        assert isinstance(info[key], kind), (key, info)
    assert 0.0 <= info["reliability"] <= 1.0 and info["why"].strip() and "\n" not in info["why"]


def test_every_check_is_reliable_on_a_collection_the_model_reads(read_audit):
    summary, report, stdout = read_audit
    for check in ("noop", "mismatch", "reversed", "duplicate"):
        info = summary["checks"][check]
        assert_fields(info)
        assert info["reliable"] and info["reliability"] >= RELIABLE and info["threshold"]["value"] is not None
    assert summary["checks"]["noop"]["reliability"] == 1.0 == summary["checks"]["duplicate"]["reliability"]
    assert "the model reads these pairs" in summary["checks"]["mismatch"]["why"]
    assert not [note for note in summary["notes"] if "not reliable" in note]
    assert stdout.splitlines()[0].split()[:3] == ["check", "reliable", "scored"]
    assert "mismatch   yes (" in stdout
    assert report.count("Reliable on this collection") == 4 and "Not reliable" not in report


def test_checks_the_model_cannot_read_say_so_and_flag_nothing(unread, tmp_path):
    result = run("audit", "--index", unread, "--out", tmp_path / "out", "--json", "-q")
    assert result.exit_code == 0 and "Traceback" not in result.output
    summary = json.loads(result.stdout)
    for check in ("mismatch", "reversed"):
        info = summary["checks"][check]
        assert_fields(info)
        assert not info["reliable"] and info["reliability"] < RELIABLE and info["flagged"] == 0
        assert info["scored"] == 120 and info["threshold"]["value"] is None
        assert "barely better than chance" in info["why"]
        assert f"note: {check}: not reliable on this collection (" in result.stderr
        assert any(n.startswith(f"{check}: not reliable") and n.endswith("nothing flagged") for n in summary["notes"])
    assert summary["checks"]["noop"]["reliable"] and summary["checks"]["duplicate"]["reliable"]
    rows = pq.read_table(tmp_path / "out" / "audit.parquet").to_pylist()
    assert not any(r["is_mismatch"] or r["is_reversed"] for r in rows)
    assert all(r["mismatch_score"] is not None for r in rows)  # scored, shown, but not flagged
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("Not reliable on this collection") == 2 and "Not reliable on this collection (reliability" in page
    assert "it flags nothing. The model reads these pairs barely better than chance" in page


def test_a_given_threshold_applies_but_the_check_stays_unreliable_and_write_clean_keeps_its_pairs(unread, tmp_path):
    out, clean = tmp_path / "out", tmp_path / "clean.jsonl"
    args = ("--checks", "noop,mismatch", "--threshold", "mismatch=-1000", "--write-clean", clean, "--json", "-q")
    result = run("audit", "--index", unread, "--out", out, *args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    mismatch = summary["checks"]["mismatch"]
    assert mismatch["flagged"] == 120 and not mismatch["reliable"] and "not reliable" in mismatch["threshold"]["how"]
    assert any(n.startswith("mismatch: not reliable") and "120 flagged by the threshold you gave" in n
               for n in summary["notes"])  # fmt: skip
    rows = pq.read_table(out / "audit.parquet").to_pylist()
    noops = {r["before"] for r in rows if r["is_noop"]}
    listed = [json.loads(line)["before"] for line in clean.read_text().splitlines()]
    assert len(listed) == 120 - len(noops) == summary["clean_manifest"]["pairs"] == summary["clean"]
    assert not noops & set(listed)  # a reliable check's flags still drop their pairs


def test_the_served_problems_carry_each_checks_reliability_and_explanation(unread, tmp_path):
    from editsearch.serve import create_app

    out = tmp_path / "out"
    assert run("audit", "--index", unread, "--out", out, "--threshold", "mismatch=-1000", "-q").exit_code == 0
    with TestClient(create_app(unread, allowed_hosts=["testserver"], readers=1, audit=out)) as client:
        data = client.get("/api/audit", params={"limit": 2}).json()
    assert list(data["checks"]) == ["noop", "mismatch", "reversed", "duplicate"]
    for info in data["checks"].values():
        assert_fields(info)
        assert info["explains"] and info["why"]
    assert data["checks"]["noop"]["reliable"] and not data["checks"]["mismatch"]["reliable"]
    flagged = data["flagged"]["mismatch"]
    assert flagged and all(r["shows"] == [f"Suggested instruction: {r['suggested_instruction']}"] for r in flagged)


def subset(synth: Path, root: Path, n: int, keep_instructions: bool = True) -> Path:
    """A manifest of the first n synthetic pairs, their images copied under root."""
    import shutil

    lines = []
    for line in synth.read_text().splitlines()[:n]:
        row = json.loads(line)
        for half in ("before", "after"):
            (root / row[half]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(synth.parent / row[half], root / row[half])
        if not keep_instructions:
            del row["instruction"]
        lines.append(json.dumps(row) + "\n")
    (root / "manifest.jsonl").write_text("".join(lines))
    return root / "manifest.jsonl"


def audit_json(manifest: Path, model_dir: Path, out: Path, code: int = 0) -> dict:
    index = manifest.parent / "idx"
    assert run("build-index", manifest, "--index", index, "--model", model_dir, "-q").exit_code == 0
    result = run("audit", "--index", index, "--out", out, "--json", "-q")
    assert result.exit_code == code and "Traceback" not in result.output, result.output
    return json.loads(result.stdout)


def test_one_edit_and_a_collection_without_instructions_give_a_clear_summary(synth, tiny_model_dir, tmp_path):
    cases = ((1, True, "a single edit has nothing to duplicate"), (30, False, "no two pairs carry"))
    for n, instructions, why in cases:
        manifest = subset(synth, tmp_path / f"c{n}", n, instructions)
        summary = audit_json(manifest, tiny_model_dir, tmp_path / f"out{n}")
        assert summary["checks"]["noop"]["reliable"] and not summary["checks"]["mismatch"]["reliable"]
        for check in ("mismatch", "reversed"):
            assert summary["checks"][check]["reliability"] is None and summary["checks"][check]["flagged"] == 0
        assert any(why in info["why"] for info in summary["checks"].values()), summary["checks"]
        assert all(f"{c}: not reliable" in " ".join(summary["notes"]) for c in ("mismatch", "reversed"))


def test_a_collection_where_no_check_is_reliable_flags_nothing_and_says_so(synth, tiny_model_dir, tmp_path):
    manifest = subset(synth, tmp_path, 30)
    index = tmp_path / "idx"
    assert run("build-index", manifest, "--index", index, "--model", tiny_model_dir, "-q").exit_code == 0
    with EditIndex.open(index, writable=True) as opened:
        opened.catalog.db.execute("DELETE FROM pair_signatures")  # and no image left to make them from
    for path in (tmp_path / "images").iterdir():
        path.unlink()
    result = run("audit", "--index", index, "--out", tmp_path / "out", "--json", "-q")
    assert result.exit_code == 3 and "Traceback" not in result.output
    summary = json.loads(result.stdout)
    assert not any(info["reliable"] for info in summary["checks"].values()) and summary["flagged_any"] == 0
    assert "no check is reliable on this collection" in " ".join(summary["notes"])
    assert summary["checks"]["noop"]["why"] == "only 0 of 30 pairs' visible change could be measured from the pixels"
    assert summary["checks"]["mismatch"]["scored"] == 30 and summary["checks"]["reversed"]["scored"] == 0
    assert len(summary["failed"]) == 30


def test_reading_needs_most_pairs_read_beyond_chance_and_more_than_luck():
    assert reading(np.ones(30), "{share} won", "none").reliable
    few = reading(np.ones(3), "{share} won", "none")  # three wins in three: chance gives that one time in eight
    assert not few.reliable and few.value == 1.0 and "too few" in few.why
    chance = reading(np.r_[np.ones(65), np.zeros(35)], "{share} won", "none")  # 65%: 30% read beyond chance
    assert not chance.reliable and chance.value == pytest.approx(0.3) and "65% won" in chance.why
    assert reading(np.r_[np.ones(80), np.zeros(20)], "{share} won", "none").reliable
    empty = reading(np.zeros(0), "{share} won", "nothing to read")
    assert not empty.reliable and empty.value is None and "nothing to read" in empty.why
    assert coverage(3, 4, "change").reliable and not coverage(1, 4, "change").reliable


def test_a_pair_read_with_another_instruction_is_left_out_of_its_peers():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(18, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    own = np.repeat([0, 1, 2], 6)
    peers = InstructionPeers(own, 8)
    peers.add(np.arange(18), vectors)
    texts = np.eye(3, 8, dtype=np.float32)
    peers.settle(texts, target=0.95)  # six pairs a group: each group's peers take in one other group
    assert (peers.used.sum(axis=1) == 2).all()
    positions = np.arange(18)
    np.testing.assert_allclose(peers.z_as(positions, vectors, peers.group), peers.z(positions, vectors))
    other = (peers.group + 1) % 3
    got = peers.z_as(positions, vectors, other)
    members = [np.flatnonzero(np.isin(peers.group, peers.chosen[g][peers.used[g]])) for g in range(3)]
    assert any(p in members[other[p]] for p in positions) and any(p not in members[other[p]] for p in positions)
    for p in positions:
        others = [m for m in members[other[p]] if m != p]
        mean_cos = float(np.mean(vectors[others] @ vectors[p]))
        expected = float(peers.population.z(vectors[p : p + 1], np.asarray([mean_cos]))[0])
        assert got[p] == pytest.approx(expected, abs=1e-5)  # float32 sums
