"""A saved FAISS cache is checked in chunks: an open reads a few, `verify` and a server's start read them all."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner
from index_fixtures import synthetic, write_shard

import editsearch.index.sidecar as sidecar
from editsearch.cli.main import cli
from editsearch.index.store import EditIndex
from editsearch.index.vectors import FAISS_FILE, META_FILE, CacheMismatchError, VectorIndex, VectorMeta
from editsearch.index.verify import check_caches

N, D = 1200, 16  # enough vectors to train the PQ codebooks
SMALL_CHUNK = 4096  # the test index's file (~100 KB) in ~25 chunks


@pytest.fixture
def pq_index(tmp_path, monkeypatch):
    """A `pq` index saved in small chunks; an open samples no middle chunk (only the first and the last)."""
    monkeypatch.setattr(sidecar, "CHUNK_BYTES", SMALL_CHUNK)
    monkeypatch.setattr(sidecar, "SAMPLED_CHUNKS", 0)
    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:
        index.set_index_type("pq")
        index.sync_embeddings(write_shard(tmp_path / "emb", synthetic(N, D)).parent)
    assert len(VectorMeta.read(idx).chunk_crcs()) > 10
    return idx


def damage(path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("fault", ["truncated", "header", "last chunk"])
def test_an_open_refuses_a_truncated_file_a_damaged_header_or_a_damaged_last_chunk(pq_index, fault):
    path = pq_index / FAISS_FILE
    size = path.stat().st_size
    if fault == "truncated":
        with open(path, "r+b") as f:
            f.truncate(size - 1)
    else:
        damage(path, 20 if fault == "header" else size - 10)
    with pytest.raises(CacheMismatchError, match="truncated" if fault == "truncated" else "checksum"):
        VectorIndex.load(pq_index, mapped=True)


def damage_a_middle_chunk(idx) -> None:
    path = idx / FAISS_FILE
    damage(path, path.stat().st_size // 2)
    vi, _ = VectorIndex.load(idx, mapped=True)  # what an open does not catch: an unsampled chunk
    assert vi.mapped


def test_a_damaged_middle_chunk_is_caught_by_verify(pq_index):
    damage_a_middle_chunk(pq_index)
    verified = CliRunner().invoke(cli, ["verify", "--index", str(pq_index)], catch_exceptions=False)
    assert verified.exit_code == 4 and "checksum at bytes" in verified.output


def test_a_damaged_middle_chunk_is_caught_by_a_servers_start_check_and_never_searched(pq_index, caplog):
    damage_a_middle_chunk(pq_index)
    check_caches(pq_index)  # what a server runs at start
    with pytest.raises(CacheMismatchError, match="checksum"):
        VectorIndex.load(pq_index, mapped=True)
    with caplog.at_level(logging.WARNING, logger="editsearch.index.cache"), EditIndex.open(pq_index) as reader:
        query = synthetic(N, D)[7]
        assert reader.search(query, 1)[0][0].edit["id"] == 8  # rebuilt from the catalog, not the damaged file
        assert not reader.vectors.mapped
    assert any("checksum" in r.getMessage() and "editsearch rebuild" in r.getMessage() for r in caplog.records)


def test_an_old_sidecar_without_chunk_checksums_is_still_checked_in_full(pq_index):
    sidecar = json.loads((pq_index / META_FILE).read_text())
    for key in ("chunk_bytes", "chunk_crc32"):
        del sidecar[key]
    (pq_index / META_FILE).write_text(json.dumps(sidecar))
    assert VectorIndex.load(pq_index, mapped=True)[0].mapped
    path = pq_index / FAISS_FILE
    damage(path, path.stat().st_size // 2)
    with pytest.raises(CacheMismatchError, match="checksum"):
        VectorIndex.load(pq_index, mapped=True)


def test_a_sidecar_whose_chunk_checksums_do_not_cover_the_file_is_no_sidecar(pq_index):
    sidecar = json.loads((pq_index / META_FILE).read_text())
    (pq_index / META_FILE).write_text(json.dumps({**sidecar, "chunk_crc32": sidecar["chunk_crc32"][8:]}))
    with pytest.raises(CacheMismatchError, match="not a valid sidecar"):
        VectorIndex.load(pq_index, mapped=True)


def test_a_mapped_open_of_a_large_file_reads_only_the_sampled_chunks(tmp_path, monkeypatch):
    n, d = 80_000, 128  # a 41 MB re-rank store: about 11 chunks of 4 MiB
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    VectorIndex.build("pq", d, np.arange(n), x).save(tmp_path, generation=1, model="fp")
    chunks = len(VectorMeta.read(tmp_path).chunk_crcs())
    assert chunks >= 10
    reads: list[int] = []
    real = sidecar.read_chunk

    def counting(f, offset, size):
        data = real(f, offset, size)
        reads.append(len(data))
        return data

    monkeypatch.setattr(sidecar, "read_chunk", counting)
    assert VectorIndex.load(tmp_path, mapped=True)[0].mapped
    assert len(reads) == 2 + sidecar.SAMPLED_CHUNKS and sum(reads) <= (2 + sidecar.SAMPLED_CHUNKS) * sidecar.CHUNK_BYTES
    reads.clear()
    VectorIndex.load(tmp_path)  # FAISS reads the whole file into memory: every chunk is checked as well
    assert len(reads) == chunks and sum(reads) == (tmp_path / FAISS_FILE).stat().st_size
