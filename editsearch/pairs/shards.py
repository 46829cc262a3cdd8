"""Embedding shards: one parquet file of vectors per input shard, what it holds, and how to write and read it.

An input shard is one manifest (.jsonl/.csv), one parquet file, or one folder of image pairs; a folder
holding parquet files is one shard per file. Its embeddings shard `EMB_DIR/<stem>-<hash>.parquet` has
a row per pair that loaded: the catalog's edits columns (key, locators, sizes, mtimes and content hashes
of both images, instruction, metadata as JSON) and the vector. The file's metadata names the model
(name, fingerprint, dim, config), the input shard and its signature, and the items that failed.
A shard is written whole to a temporary file, fsynced, then renamed: a file with the final name is
complete. The temp's name holds a random part and its writer's host and pid; it is created exclusively (a
planted file or link at that name makes the write fail, never redirects it), and removed only once its
writer is gone.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.core.errors import EditSearchError
from editsearch.core.files import fsync_replace

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT = "editsearch-embeddings-1"
META_KEY = b"editsearch"
SHARD_SUFFIX = ".parquet"
ROW_GROUP = 4096  # rows per parquet row group: what a reader holds at once
TEXT_COLUMNS = ("key", "origin", "source", "before", "before_hash", "after", "after_hash")
TEMP_NAME = re.compile(r"^\.(?P<shard>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.tmp$")  # see temp_path
FOREIGN_TEMP_S = 3600.0  # a temp of another host untouched this long is a dead writer's (a write takes seconds)


class ShardError(EditSearchError):
    """An embeddings shard that cannot be read, or that does not fit the job."""


@dataclass
class ShardMeta:
    """What an embeddings shard holds, stored in its parquet file metadata."""

    model: str
    fingerprint: str
    dim: int
    trained: bool
    config: dict[str, Any]
    input: str  # the input shard (absolute path); the catalog's origin of its edits
    signature: str  # the input's signature when it was embedded
    pairs: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    shard_id: str = ""  # fresh for every write: an index that applied this id can skip the file
    format: str = FORMAT

    def to_bytes(self) -> bytes:
        """JSON for the parquet metadata."""
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ShardMeta:
        """Parse what `to_bytes` wrote."""
        data = json.loads(raw)
        data["errors"] = [tuple(e) for e in data.get("errors", [])]
        return cls(**data)


def read_meta(path: Path) -> ShardMeta:
    """The metadata of an embeddings shard; raises ShardError if it is not one."""
    import pyarrow.parquet as pq

    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    except Exception as e:  # noqa: BLE001 - any reader failure means "not a shard"
        raise ShardError(f"{path} is not a readable parquet file: {e}") from None
    if raw is None:
        raise ShardError(f"{path} is not an editsearch embeddings shard (no '{META_KEY.decode()}' metadata)")
    try:
        meta = ShardMeta.from_bytes(raw)
    except (ValueError, TypeError) as e:
        raise ShardError(f"{path} has unreadable embeddings metadata: {e}") from None
    if meta.format != FORMAT:
        raise ShardError(f"{path} is in format {meta.format!r}; this editsearch reads {FORMAT!r}")
    return meta


def vector_dim(path: Path) -> int:
    """How many float32 values each vector of a shard holds (the fixed list size of its `vector` column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        kind = pq.read_schema(path).field("vector").type
    except (KeyError, OSError, pa.ArrowException) as e:
        raise ShardError(f"{path} has no readable vector column: {e}") from None
    if not isinstance(kind, pa.FixedSizeListType):
        raise ShardError(f"{path} has a vector column of type {kind}, not a fixed-size list of float32")
    return int(kind.list_size)


def is_complete(path: Path, fingerprint: str, signature: str) -> bool:
    """True when `path` is a finished shard of this model over the input as it is now."""
    if not path.exists():
        return False
    try:
        meta = read_meta(path)
    except ShardError:
        return False
    return meta.fingerprint == fingerprint and meta.signature == signature


def shard_files(directory: Path) -> list[Path]:
    """The finished embeddings shards in a directory, sorted by name."""
    return sorted(p for p in directory.glob(f"*{SHARD_SUFFIX}") if not p.name.startswith("."))


def temp_path(path: Path) -> Path:
    """A fresh name for this process's temp of a shard: `.SHARD.RANDOM.HOST.PID.tmp` (the host and pid: its owner)."""
    return path.parent / f".{path.name}.{secrets.token_hex(4)}.{_host()}.{os.getpid()}.tmp"


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete the temporary files of writes that never finished, and return them.

    Several workers may share one directory (an array job, or two runs by hand), so only a temp whose
    writer is gone is removed: one of this host whose process has exited, or one of another host (whose
    processes cannot be asked) left untouched for FOREIGN_TEMP_S. A live worker's temp is never touched.
    """
    removed = []
    for tmp in directory.glob(".*.tmp"):
        owner = TEMP_NAME.match(tmp.name)
        host, pid = (owner["host"], int(owner["pid"])) if owner else ("", 0)
        try:
            mine = host == _host()
            if (mine and not _alive(pid)) or (not mine and _age(tmp) > FOREIGN_TEMP_S):
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # its writer renamed it, or another worker removed it, meanwhile
            continue
    return removed


def _host() -> str:
    """This machine's name as a temp file names it (no dots: the name's fields are dot-separated)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    """True if a process with this pid exists on this host (a zombie or another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age(path: Path) -> float:
    """Seconds since a file was last written."""
    return time.time() - path.stat().st_mtime


def _schema(dim: int, meta: ShardMeta) -> pa.Schema:
    import pyarrow as pa

    fields = [pa.field(c, pa.string(), nullable=False) for c in TEXT_COLUMNS]
    fields += [
        pa.field("before_size", pa.int64()),
        pa.field("before_mtime", pa.float64()),
        pa.field("after_size", pa.int64()),
        pa.field("after_mtime", pa.float64()),
        pa.field("instruction", pa.string()),
        pa.field("metadata", pa.string(), nullable=False),
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
    ]
    return pa.schema(fields, metadata={META_KEY: meta.to_bytes()})


def write_shard(path: Path, meta: ShardMeta, rows: Sequence[dict[str, Any]], vectors: np.ndarray) -> Path:
    """Write rows (catalog edits rows) and their vectors as one shard: an exclusive temp file, fsync, rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta.pairs, meta.shard_id = len(rows), uuid.uuid4().hex
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(rows), meta.dim)
    schema = _schema(meta.dim, meta)
    columns: dict[str, Any] = {c: [r[c] for r in rows] for c in schema.names if c not in ("vector", "metadata")}
    columns["metadata"] = [json.dumps(r.get("metadata") or {}, ensure_ascii=False, sort_keys=True) for r in rows]
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), meta.dim)
    table = pa.table(columns, schema=schema)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)  # never an existing file or link
    try:
        with os.fdopen(fd, "wb") as f:
            pq.write_table(table, f, row_group_size=ROW_GROUP)
        fsync_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a failed write leaves nothing behind
    return path


def iter_shard(path: Path, batch_rows: int = ROW_GROUP) -> Iterator[tuple[list[dict[str, Any]], np.ndarray]]:
    """(edits rows with metadata decoded, vectors [n, dim] float32) batch by batch: one batch in memory."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_rows):
        vec = batch.column("vector")
        dim = vec.type.list_size
        vectors = vec.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)
        rows = batch.drop_columns(["vector"]).to_pylist()
        for row in rows:
            row["metadata"] = json.loads(row["metadata"])
        yield rows, vectors
