"""`editsearch demo`: generate, index, query; a second run reuses everything."""

from __future__ import annotations

from click.testing import CliRunner
from PIL import Image

from editsearch.cli.main import cli
from editsearch.index.store import EditIndex


def test_demo_runs_twice_incrementally(tmp_path, tiny_model_dir):
    args = ["demo", "--out", str(tmp_path / "demo"), "--pairs", "10", "--model", str(tiny_model_dir), "-q"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "added 8," in first.stdout  # the train split: the held-out pairs the demo queries with stay out
    with EditIndex.open(tmp_path / "demo" / "index") as index:
        assert index.stats()["edits"] == 8
        assert (
            index.catalog.db.execute("SELECT count(*) FROM edits WHERE metadata LIKE '%\"test\"%'").fetchone()[0] == 0
        )
    assert "Text query (EC2T)" in first.stdout and "Exemplar query (EC2EC)" in first.stdout
    assert first.stdout.count("rank  ") == 2
    assert "UNTRAINED" in first.output
    assert "Apply (EditCLIP-conditioned IP2P" in first.stdout  # the shipped pipeline, on a held-out photo
    assert "64-px demonstration" in first.stdout and "64-px demonstration pipeline" in first.stderr
    assert first.stdout.rstrip().endswith(f"editsearch serve --index {tmp_path / 'demo' / 'index'}")
    applied = Image.open(tmp_path / "demo" / "applied.png")
    assert applied.size == (64, 64) and len(set(applied.getdata())) > 100  # a real picture, not a flat field
    second = CliRunner().invoke(cli, [*args, "--no-apply"], catch_exceptions=False)
    assert second.exit_code == 0 and "added 0, updated 0, skipped 8" in second.stdout
    assert "Apply" not in second.stdout
