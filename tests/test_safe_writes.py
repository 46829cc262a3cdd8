"""Every writer goes through an exclusive temp file: a link planted at a temp name it once used (or at the target
itself) is never written through, the output comes out right, and a failed write leaves no half file."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import random_image

from editsearch.cli.main import cli
from editsearch.core.files import exclusive_temp
from editsearch.index.vectors import VectorIndex, VectorMeta

KEEP = "the victim's own text\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file the user can write, outside every output folder: a planted link points here."""
    path = tmp_path / "victim" / "precious.txt"
    path.parent.mkdir()
    path.write_text(KEEP)
    return path


def plant(victim: Path, *links: Path) -> None:
    """Symlinks to the victim at each of these names (the names an attacker can predict)."""
    for link in links:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(victim)


def test_vector_cache_and_sidecar_never_follow_a_planted_temp(tmp_path, victim):
    idx = tmp_path / "idx"
    pid = os.getpid()
    plant(victim, idx / f".vectors.faiss.{pid}.tmp", idx / f".vectors.json.{pid}.tmp")
    vectors = np.eye(4, dtype=np.float32)
    VectorIndex.build("flat", 4, np.arange(4), vectors).save(idx, generation=7, model="fp")
    assert victim.read_text() == KEEP
    index, meta = VectorIndex.load(idx)
    assert (index.ntotal, meta.generation, meta.model) == (4, 7, "fp")
    assert not (idx / "vectors.faiss").is_symlink() and not (idx / "vectors.json").is_symlink()
    assert VectorMeta.read(idx).crc32 == meta.crc32


def test_an_index_opened_for_writing_removes_its_stale_cache_temps(tmp_path):
    from editsearch.index.store import EditIndex

    idx = tmp_path / "idx"
    EditIndex.open(idx, create=True).close()
    stale = [exclusive_temp(idx / "vectors.faiss"), exclusive_temp(idx / "instructions.json")]
    EditIndex.open(idx, writable=True).close()
    assert not any(p.exists() for p in stale)


def test_the_writer_lock_is_never_taken_through_a_link(tmp_path, victim):
    from editsearch.index.errors import EditIndexError
    from editsearch.index.lock import WriterLock

    plant(victim, tmp_path / "idx" / "write.lock")
    with pytest.raises(EditIndexError, match="symbolic link"):
        WriterLock(tmp_path / "idx").acquire(0)
    assert victim.read_text() == KEEP


def _shard_rows(n: int) -> list[dict]:
    return [
        {
            "key": f"{i}.png|{i}-after.png",
            "origin": "/in/a",
            "source": "files",
            "before": f"{i}.png",
            "before_size": 1,
            "before_mtime": 0.0,
            "before_hash": f"b{i}",
            "after": f"{i}-after.png",
            "after_size": 1,
            "after_mtime": 0.0,
            "after_hash": f"a{i}",
            "instruction": "make it red",
            "metadata": {"n": i},
        }
        for i in range(n)
    ]


def test_a_shard_never_follows_a_planted_temp_and_an_exact_plant_fails(tmp_path, victim, monkeypatch):
    from editsearch.pairs import shards
    from editsearch.pairs.shards import ShardMeta, iter_shard, read_meta, write_shard

    emb = tmp_path / "emb"
    host = shards._host()
    plant(victim, emb / f".a.parquet.{host}.{os.getpid()}.tmp")  # the name a writer once used
    vectors = np.eye(3, 8, dtype=np.float32)
    meta = ShardMeta("m", "fp", 8, False, {}, "/in/a", "sig")
    write_shard(emb / "a.parquet", meta, _shard_rows(3), vectors)
    assert victim.read_text() == KEEP
    assert read_meta(emb / "a.parquet").pairs == 3
    rows, got = next(iter_shard(emb / "a.parquet"))
    assert [r["metadata"] for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}] and np.array_equal(got, vectors)
    name = shards.temp_path(emb / "b.parquet")
    assert shards.TEMP_NAME.match(name.name)["host"] == host  # still its writer's: found for cleanup
    assert shards.TEMP_NAME.match(name.name)["pid"] == str(os.getpid())
    plant(victim, name)  # a link at the very name this write will use: the write fails, nothing followed
    monkeypatch.setattr(shards, "temp_path", lambda path: name)
    with pytest.raises(FileExistsError):
        write_shard(emb / "b.parquet", meta, _shard_rows(3), vectors)
    assert victim.read_text() == KEEP and not (emb / "b.parquet").exists()


def test_tower_cache_json_and_export_never_follow_a_planted_temp(tmp_path, victim):
    import torch

    from editsearch.encoder.export import _export
    from editsearch.towers.cache import read_json, write_json

    folder = tmp_path / "towers"
    pid = os.getpid()
    plant(victim, folder / f".text.json.{pid}.tmp", folder / f".text.onnx.{pid}.tmp")
    write_json(folder / "text.json", {"max_length": 77})
    _export(torch.nn.Linear(4, 2), (torch.zeros(2, 4),), ["x"], {"x": {0: "n"}}, folder / "text.onnx")
    assert victim.read_text() == KEEP
    assert read_json(folder / "text.json") == {"max_length": 77}
    assert (folder / "text.onnx").stat().st_size > 0 and not (folder / "text.onnx").is_symlink()


class _Accelerator:
    """What save_checkpoint asks of accelerate; its state folder comes with a link planted at the state file."""

    is_main_process = True

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def save_state(self, path: str) -> None:
        Path(path).mkdir(parents=True)
        plant(self.victim, Path(path) / "state.json")

    def wait_for_everyone(self) -> None:
        pass


def test_training_state_config_and_logs_never_follow_a_planted_link(tmp_path, victim):
    from editsearch.encoder.config import EditCLIPConfig
    from editsearch.training.run_log import append_record
    from editsearch.training.run_state import checkpoint_dir, latest_checkpoint, save_checkpoint

    out = tmp_path / "run"
    plant(victim, out / "config.json")
    save_checkpoint(_Accelerator(victim), out, 5, keep=0)
    EditCLIPConfig(embed_dim=8, vision={"width": 16}, name="x").save(out / "config.json")
    assert victim.read_text() == KEEP
    assert latest_checkpoint(out) == (5, checkpoint_dir(out, 5))
    assert EditCLIPConfig.load(out / "config.json").name == "x"
    plant(victim, out / "history.jsonl")
    with pytest.raises(OSError):  # a log is appended in place: a link there is refused, never followed
        append_record(out / "history.jsonl", {"step": 1})
    append_record(out / "train_log.jsonl", {"step": 1})
    append_record(out / "train_log.jsonl", {"step": 2})
    assert victim.read_text() == KEEP
    lines = (out / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"step": 1}, {"step": 2}]


def test_saved_model_files_never_follow_a_planted_link(tiny_model, tmp_path, victim):
    from editsearch.encoder.registry import load_model

    out = tmp_path / "model"
    plant(victim, out / "config.json", out / "model.safetensors")
    tiny_model.save_pretrained(out)
    assert victim.read_text() == KEEP
    assert load_model(str(out), device="cpu").fingerprint == tiny_model.fingerprint


def test_synthetic_manifest_and_sheet_never_follow_a_planted_temp(tmp_path, victim):
    from editsearch.data.synthetic.generator import write_synth
    from editsearch.data.synthetic.sheet import contact_sheet

    out = tmp_path / "synth"
    plant(victim, out / "manifest.jsonl.tmp", out / "images" / "000000_before.png")
    summary = write_synth(out, pairs=2, seed=0, size=32)
    contact_sheet(out, out / "sheet.png", thumb=32)
    assert victim.read_text() == KEEP
    assert len((out / "manifest.jsonl").read_text().splitlines()) == summary["pairs"] == 2
    from PIL import Image

    assert Image.open(out / "images" / "000000_before.png").size == (32, 32)
    assert Image.open(out / "sheet.png").format == "PNG"


def _score_manifest(tmp_path: Path) -> Path:
    folder = tmp_path / "pairs"
    folder.mkdir()
    rows = []
    for i in range(3):
        for side in ("before", "after"):
            random_image(10 * i + (side == "after")).save(folder / f"{i}-{side}.png")
        rows.append({"before": f"{i}-before.png", "after": f"{i}-after.png", "instruction": "make it red"})
    manifest = folder / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def test_score_csv_replaces_a_planted_link_and_a_failed_run_leaves_the_old_file(
    tiny_model_dir, tmp_path, victim, monkeypatch
):
    manifest, out = _score_manifest(tmp_path), tmp_path / "scores.csv"
    plant(victim, out)
    args = ["score", "--manifest", str(manifest), "--out", str(out), "--model", str(tiny_model_dir)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == KEEP and not out.is_symlink()
    assert len(list(csv.DictReader(out.open()))) == 3
    before = out.read_text()

    import editsearch.search.scoring

    real = editsearch.search.scoring.score_pairs

    def dies_after_one_row(*args, **kwargs):
        rows = real(*args, **kwargs)
        yield next(rows)
        raise RuntimeError("killed mid-run")

    monkeypatch.setattr(editsearch.search.scoring, "score_pairs", dies_after_one_row)
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, RuntimeError)
    assert out.read_text() == before  # no half CSV over the last good one
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".scores")) == []
