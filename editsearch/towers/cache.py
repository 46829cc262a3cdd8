"""Where exported towers live, and which model name resolves to which fingerprint, checked without torch.

A *stamp* records, for one model name, the size and mtime of the files its weights were read from and of a
module file of each package its towers depend on (installing another release rewrites it; a stat needs none
of importlib.metadata's imports). While they are unchanged the name still means the recorded fingerprint, so
a query can trust it without loading the model. The cache lives in $EDITSEARCH_CACHE_DIR, else
$XDG_CACHE_HOME/editsearch, else ~/.cache/editsearch; deleting it only costs one slow query.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from editsearch.core.files import write_atomic

EXPORT_VERSION = 3  # bump when the exported graphs or their inputs change
# The editsearch these stamps are written by: a registry name means its own install's shipped weights, so two
# installs (two venvs, two checkouts) sharing one cache keep a stamp each for the same name.
INSTALL = str(Path(__file__).resolve().parents[1])


def cache_dir() -> Path:
    """The editsearch cache folder (not created)."""
    if env := os.environ.get("EDITSEARCH_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "editsearch"


def name_key(name: str) -> str:
    """The lookup key of a model name: an existing folder by its absolute path, anything else as given."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def stamp_path(name: str) -> Path:
    """The stamp file of a model name, for this install."""
    return cache_dir() / f"towers-v{EXPORT_VERSION}" / "names" / f"{_digest(INSTALL + chr(10) + name_key(name))}.json"


def model_dir(fingerprint: str) -> Path:
    """The folder of one model's exported towers."""
    return cache_dir() / f"towers-v{EXPORT_VERSION}" / "models" / fingerprint[:32]


def shared_dir(identity: str) -> Path:
    """The folder of files shared by many models (the frozen MiniLM, open_clip's tokenizer), keyed by identity."""
    return cache_dir() / f"towers-v{EXPORT_VERSION}" / "shared" / _digest(identity)


def weights_path(graph: Path) -> Path:
    """The weights of an exported graph, beside it (ONNX external data, mapped by the session that opens it)."""
    return graph.with_name(graph.name + ".data")


def graph_ready(graph: Path) -> bool:
    """Whether an exported graph and its weights are both in place (the weights are moved in first)."""
    return graph.is_file() and weights_path(graph).is_file()


def file_stamps(paths: list[Path]) -> dict[str, list[int]]:
    """{absolute path: [size, mtime_ns]} of existing files."""
    stamps = {}
    for path in paths:
        if path.is_file():
            st = path.stat()
            stamps[str(path.resolve())] = [st.st_size, st.st_mtime_ns]
    return stamps


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a concurrent reader sees the old file or the new one; never through a planted link)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1) + "\n")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object, or None when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_stamp(name: str, fingerprint: str, files: list[Path]) -> None:
    """Record that `name` resolves to `fingerprint` while `files` stay as they are now."""
    write_json(stamp_path(name), {"name": name, "fingerprint": fingerprint, "files": file_stamps(files)})


def stamped_fingerprint(name: str) -> str | None:
    """The fingerprint `name` resolves to, if its stamp is still valid; None when unknown or stale."""
    stamp = read_json(stamp_path(name))
    if stamp is None or not stamp.get("files"):
        return None
    if file_stamps([Path(p) for p in stamp["files"]]) != stamp["files"]:
        return None
    return str(stamp["fingerprint"])
