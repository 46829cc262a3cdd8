"""The catalog's `settings` table (key/value, read through the connection's memo) and its `models` table."""

from __future__ import annotations

import json
from typing import Any

from editsearch.encoder.identity import ModelRow
from editsearch.index.catalog.connection import CatalogConnection
from editsearch.index.catalog.rows import now

TEXT_GENERATION = "text_generation"  # settings key: bumped when instructions of unchanged pairs are re-worded


class SettingsTables(CatalogConnection):
    """Settings and the bound model."""

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        """A value of the `settings` table."""
        value = self._remembered(
            f"setting:{key}", lambda: self.conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        )
        return default if value is None else value[0]

    def set_setting(self, key: str, value: str) -> None:
        """Set a value of the `settings` table (inside the caller's transaction, if any)."""
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def settings(self, prefix: str) -> list[tuple[str, str]]:
        """(key, value) of the settings whose key starts with `prefix`, sorted by key."""
        cur = self.conn.execute(
            "SELECT key, value FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key", [len(prefix), prefix]
        )
        return cur.fetchall()

    def delete_setting(self, key: str) -> None:
        """Remove a value of the `settings` table."""
        self.conn.execute("DELETE FROM settings WHERE key = ?", [key])

    @property
    def generation(self) -> int:
        """A counter bumped by every transaction that changes the set of live vectors."""
        return int(self.get_setting("generation", "0") or 0)

    def bump_generation(self) -> int:
        """Increment the generation (call inside the writing transaction)."""
        value = self.generation + 1
        self.set_setting("generation", str(value))
        return value

    def model(self) -> ModelRow | None:
        """The model this index is bound to, or None for a fresh index."""
        fingerprint = self.get_setting("model")
        if fingerprint is None:
            return None
        row = self._remembered(
            f"model:{fingerprint}",
            lambda: self.conn.execute("SELECT * FROM models WHERE fingerprint = ?", [fingerprint]).fetchone(),
        )
        cols = ["fingerprint", "name", "dim", "trained", "config", "created_at"]
        return None if row is None else ModelRow(**dict(zip(cols, row, strict=True)))  # type: ignore[typeddict-item]

    def register_model(self, name: str, fingerprint: str, dim: int, trained: bool, config: dict[str, Any]) -> None:
        """Record a model in `models` (a row already there stays), without binding the index to it."""
        self.conn.execute(
            "INSERT OR IGNORE INTO models (fingerprint, name, dim, trained, config, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [fingerprint, name, dim, int(trained), json.dumps(config, sort_keys=True), now()],
        )

    def bind_model(self, name: str, fingerprint: str, dim: int, trained: bool, config: dict[str, Any]) -> None:
        """Record `fingerprint` as this index's model (registering it in `models`)."""
        with self.db.atomic():
            self.register_model(name, fingerprint, dim, trained, config)
            self.set_setting("model", fingerprint)
