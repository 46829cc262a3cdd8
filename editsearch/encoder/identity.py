"""What identifies the model an index was built with: its row of the catalog's `models` table."""

from __future__ import annotations

from typing import TypedDict


class ModelRow(TypedDict):
    """One row of the `models` table."""

    name: str
    fingerprint: str
    dim: int
    trained: int
    config: str
    created_at: str
