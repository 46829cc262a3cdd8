"""Where weights come from: named registry entries, local folders and Hugging Face hub repos (offline-aware)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from editsearch.core.errors import WeightsNotFoundError


@dataclass(frozen=True)
class WeightsSource:
    """Where one set of weights comes from: `kind` says how to read `location` (dir, hub, or a registry's own)."""

    kind: str
    location: str
    description: str


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE forbids downloads: only the local hub cache may be used."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def resolve_source(name: str, registry: Mapping[str, WeightsSource], noun: str) -> WeightsSource:
    """A registry entry by name, else an existing folder (kind dir), else a hub id `owner/repo` (kind hub)."""
    if name in registry:
        return registry[name]
    path = Path(name).expanduser()
    if path.exists():
        return WeightsSource("dir", str(path), f"the folder {path}")
    if "/" not in name or name.startswith((".", "/", "~")):
        known = f", not one of: {', '.join(registry)}" if registry else ""
        raise WeightsNotFoundError(f"no {noun} named {name!r}: not a folder, not a hub id (owner/name){known}")
    return WeightsSource("hub", name, f"the hub repo {name}")


def hub_snapshot(repo_id: str, what: str, allow_patterns: Sequence[str] | None = None, option: str = "--model") -> Path:
    """A local snapshot of a hub repo (only the cache when offline); if absent, a how-to ending in `option` DIR."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=allow_patterns, local_files_only=hub_offline()))
    except Exception as e:  # noqa: BLE001 - the hub raises many types; all mean "not available here"
        raise WeightsNotFoundError(
            f"{what} {repo_id!r} is not on this machine and cannot be downloaded ({type(e).__name__}). "
            f"On a machine with network run `{download_command(repo_id, allow_patterns)}`, "
            f"copy DIR here and pass {option} DIR."
        ) from None


def download_command(repo_id: str, allow_patterns: Sequence[str] | None = None) -> str:
    """The `hf download` command line (huggingface_hub's CLI) that fetches a repo's needed files into DIR."""
    include = "".join(f" --include {shlex.quote(p)}" for p in allow_patterns or ())
    return f"hf download {shlex.quote(repo_id)} --local-dir DIR{include}"


def local_folder(name: str, noun: str, option: str, allow_patterns: Sequence[str] | None = None) -> Path:
    """An existing folder, or the local snapshot of a hub id, for `name`; WeightsNotFoundError naming `option`."""
    src = resolve_source(name, {}, noun)
    if src.kind == "hub":
        return hub_snapshot(src.location, f"the {noun}", allow_patterns, option)
    return Path(src.location)
