"""kill -9 a running build-index at random moments; a rerun completes with catalog and FAISS in agreement."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time

from index_fixtures import make_collection

PAIRS = 150
CLI = [sys.executable, "-c", "from editsearch.cli.main import cli; cli()"]


def committed(catalog) -> int:
    """Edits committed so far (0 before the catalog exists)."""
    try:
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM edits").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_then_rerun(tmp_path, tiny_model_dir):
    manifest = make_collection(tmp_path / "data", PAIRS)
    idx = tmp_path / "idx"
    build = [*CLI, "build-index", str(manifest), "--index", str(idx), "--model", str(tiny_model_dir),
             "--batch-size", "2", "--workers", "1", "-q"]  # fmt: skip
    rng = random.Random(4)
    killed_at = []
    for attempt in range(3):
        proc = subprocess.Popen(build, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt == 0:
            time.sleep(rng.uniform(0.5, 3.0))  # during start-up or scanning
        else:
            target = rng.randint(committed(idx / "catalog.db") + 1, PAIRS - 1)
            while proc.poll() is None and committed(idx / "catalog.db") < target:
                time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at.append(committed(idx / "catalog.db"))
    assert killed_at == sorted(killed_at)  # committed batches survive each kill
    assert any(0 < n < PAIRS for n in killed_at), killed_at  # at least one kill landed mid-build
    print("edits committed at each kill:", killed_at)

    final = subprocess.run(build, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    stats = json.loads(subprocess.run([*CLI, "stats", "--index", str(idx), "--json"], capture_output=True,
                                      text=True, check=True).stdout)  # fmt: skip
    assert stats["edits"] == stats["vectors"] == stats["faiss_vectors"] == PAIRS
    verify = subprocess.run([*CLI, "verify", "--index", str(idx), "--json"], capture_output=True, text=True)
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"]
    again = subprocess.run([*build, "--json"], capture_output=True, text=True, check=True)
    report = json.loads(again.stdout)
    assert (report["added"], report["updated"], report["embedded"], report["skipped"]) == (0, 0, 0, PAIRS)
    assert not list(idx.glob(".*.tmp"))
