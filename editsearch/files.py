"""Durable file replacement: a finished temporary file takes a file's place, and survives a crash."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_replace(tmp: Path, target: Path) -> None:
    """fsync a finished temp file, rename it over `target`, and fsync the directory."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
