"""A saved FAISS cache's sidecar (NAME.json) and the integrity of NAME.faiss against it.

The sidecar says what the file holds (type, dimension, count, model, catalog generation, tuning) and its size and
CRC-32s: the whole file's and each CHUNK_BYTES chunk's. A file that differs is damaged and never searched; a mapped
open checks a sample of chunks, a full check every one, and a verdict is remembered while the file is unchanged.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO

from editsearch.core.files import write_atomic
from editsearch.index.errors import EditIndexError
from editsearch.index.types import NO_REMOVE, AnnParams, Tuning

PAIR_CACHE = "vectors"  # a cache's name: NAME.faiss and its sidecar NAME.json (the instruction cache: instructions)
CHUNK_BYTES = 4 << 20  # the sidecar records the CRC-32 of each chunk of this many bytes of NAME.faiss ...
SAMPLED_CHUNKS = 2  # ... and a mapped open checks the first, the last and this many others, drawn at random


@dataclass
class VectorMeta:
    """What a saved FAISS file holds: written next to it, after it, so a stale pair is detectable."""

    kind: str
    dim: int
    ntotal: int
    generation: int
    model: str
    trained_on: int = 0
    nlist: int = 0
    bytes: int = 0  # size of vectors.faiss ...
    crc32: str = ""  # ... and its CRC-32 (8 hex digits): a file that differs is damaged, never searched
    tuning: dict[str, Any] | None = None  # the self-tuned search settings and their measured recall (a Tuning)
    live: int = -1  # the catalog's live vectors at `generation` (-1: not recorded); tombstones are ntotal - live
    chunk_bytes: int = 0  # the file in chunks of this many bytes (0: an older sidecar, with the whole file's CRC only)
    chunk_crc32: str = ""  # ... and each chunk's CRC-32, 8 hex digits each, in file order

    def chunk_crcs(self) -> list[int]:
        """Each chunk's CRC-32 ([] for an older sidecar); raises TypeError if they cannot cover `bytes`."""
        if not self.chunk_bytes and not self.chunk_crc32:
            return []
        text, size, step = self.chunk_crc32, self.bytes, self.chunk_bytes
        if not (isinstance(text, str) and isinstance(size, int) and isinstance(step, int) and step > 0):
            raise TypeError("malformed chunk checksums")
        if len(text) != 8 * -(-size // step):
            raise TypeError(f"{len(text) // 8} chunk checksums for {size} bytes in chunks of {step}")
        return [int(text[i : i + 8], 16) for i in range(0, len(text), 8)]

    def recorded_live(self) -> int | None:
        """The live vectors at `generation`: the file's size for a type that removes, else the recorded count
        (removed ids stay as tombstones); None where an older sidecar recorded none."""
        live = self.live if self.kind in NO_REMOVE else self.ntotal
        return live if live >= 0 else None

    @classmethod
    def read(cls, directory: str | Path, name: str = PAIR_CACHE) -> VectorMeta:
        """The sidecar of a saved index; raises OSError if absent, CacheMismatchError if it is not one."""
        try:
            data = json.loads((Path(directory) / f"{name}.json").read_text())
            meta = cls(**data)
            meta.tuning_record()
            meta.chunk_crcs()
            return meta
        except (ValueError, TypeError) as e:  # not JSON, not an object, unknown or missing fields
            raise CacheMismatchError(f"{name}.json is not a valid sidecar ({e})") from None

    def write(self, directory: str | Path, name: str = PAIR_CACHE) -> None:
        """Write NAME.json atomically (an exclusive temp file, fsynced and renamed)."""
        write_atomic(Path(directory) / f"{name}.json", json.dumps(asdict(self), indent=1))

    def tuning_record(self) -> Tuning | None:
        """The recorded tuning as a Tuning (None for an index saved before indexes tuned themselves)."""
        if self.tuning is None:
            return None
        tuning = Tuning(**self.tuning)
        known = {f.name for f in fields(AnnParams)}
        if not set(tuning.settings) <= known:
            raise TypeError(f"unknown search settings {sorted(set(tuning.settings) - known)}")
        return tuning


class CacheMismatchError(EditIndexError, ValueError):
    """A saved FAISS file that is unreadable or does not match its sidecar (size, checksum, type): never searched."""


def read_chunk(f: BinaryIO, offset: int, size: int) -> bytes:
    """Up to `size` bytes of an open file from `offset`: every byte an integrity check reads comes through here."""
    f.seek(offset)
    return f.read(size)


def file_checksums(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> tuple[str, str]:
    """(the file's CRC-32, its chunk_bytes-long chunks' CRC-32s concatenated), 8 hex digits each (~7 GB/s)."""
    whole, chunks = 0, []
    with open(path, "rb") as f:
        while data := read_chunk(f, len(chunks) * chunk_bytes, chunk_bytes):
            whole = zlib.crc32(data, whole)
            chunks.append(f"{zlib.crc32(data):08x}")
    return f"{whole:08x}", "".join(chunks)


def cache_problem(directory: str | Path, meta: VectorMeta, name: str = PAIR_CACHE, *, full: bool = True) -> str | None:
    """Why the saved NAME.faiss cannot be trusted against its sidecar (size or checksums), or None.

    The size is always compared. `full` reads every chunk against its CRC-32; otherwise only the first chunk
    (FAISS's header), the last and SAMPLED_CHUNKS others drawn at random are read, which catches a truncated,
    torn or replaced file but not a changed byte in an unread chunk. An older sidecar, with only the whole
    file's CRC-32, is always checked in full. A file found intact in full, or found damaged, is not read again
    while its inode, size and mtime stay the same.
    """
    path = Path(directory) / f"{name}.faiss"
    if not meta.crc32:
        return f"{name}.json has no checksum (written by an older editsearch)"
    st = path.stat()
    if st.st_size != meta.bytes:
        return f"{path.name} is {st.st_size} bytes, its sidecar says {meta.bytes} (truncated or replaced)"
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, meta.crc32)
    if key in _DAMAGED or key in _INTACT:
        return _DAMAGED.get(key)
    crcs = meta.chunk_crcs()
    full = full or not crcs
    problem = _chunk_problem(path, meta, crcs, full) if crcs else None
    if not crcs and file_checksums(path)[0] != meta.crc32:
        problem = f"{path.name} does not match its checksum (its bytes changed on disk)"
    if problem is not None:
        _DAMAGED[key] = problem
    elif full:
        _INTACT.add(key)
    return problem


def _chunk_problem(path: Path, meta: VectorMeta, crcs: list[int], full: bool) -> str | None:
    """The first of the chunks to check (all, or the first, the last and a sample) whose CRC-32 differs, or None."""
    last = len(crcs) - 1
    middle = range(1, max(1, last))
    chosen = middle if full else random.sample(middle, min(SAMPLED_CHUNKS, len(middle)))
    with open(path, "rb") as f:
        for no in sorted({0, last, *chosen}):
            offset = no * meta.chunk_bytes
            if zlib.crc32(read_chunk(f, offset, meta.chunk_bytes)) != crcs[no]:
                end = min(offset + meta.chunk_bytes, meta.bytes)
                return f"{path.name} does not match its checksum at bytes {offset}-{end} (its bytes changed on disk)"
    return None


_INTACT: set[tuple[str, int, int, int, str]] = set()  # FAISS files whose every chunk matched, as they were
_DAMAGED: dict[tuple[str, int, int, int, str], str] = {}  # FAISS files found damaged, as they were: why
