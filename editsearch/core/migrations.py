"""Named migration sets: each stage keeps its own tables of a shared SQLite database, at its own versions.

A database records in its `migrations` table (name, version, applied_at) how far each set has been applied. `apply`
runs a set's pending steps in order, each in its own transaction with its record, and refuses a database that records
a later version than the code knows (SchemaVersionError). Only a writable connection applies a set (its stage's store
does, under the index's writer lock, before its first write); a reader never does, and reads a table that no set has
made yet as empty (`has_table`). Every step must also hold on a database whose table an older editsearch made already
(CREATE TABLE IF NOT EXISTS): the catalog's own numbered migrations made these tables before the sets existed.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from editsearch.core.errors import SchemaVersionError

MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS migrations "
    "(name TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (name, version))"
)

Step = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class MigrationSet:
    """One stage's tables: `steps[i]` takes them from version i to i + 1."""

    name: str
    steps: tuple[Step, ...]

    @property
    def version(self) -> int:
        """The version this code brings the set to."""
        return len(self.steps)


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the database has a table of this name."""
    found = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
    return bool(found.fetchone()[0])


def applied_version(conn: sqlite3.Connection, name: str) -> int:
    """The version of set `name` this database records (0: never applied)."""
    if not has_table(conn, "migrations"):
        return 0
    return conn.execute("SELECT max(version) FROM migrations WHERE name = ?", [name]).fetchone()[0] or 0


def apply(conn: sqlite3.Connection, migrations: MigrationSet) -> None:
    """Bring a set's tables up to date, one step at a time; refuse (SchemaVersionError) a later version."""
    current = applied_version(conn, migrations.name)
    if current > migrations.version:
        raise SchemaVersionError(
            f"the {migrations.name!r} tables of this catalog have version {current}, but this editsearch supports up "
            f"to {migrations.version}; please upgrade editsearch to write them"
        )
    for version in range(current, migrations.version):
        with transaction(conn):
            conn.execute(MIGRATIONS_TABLE)
            migrations.steps[version](conn)
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            conn.execute("INSERT INTO migrations VALUES (?, ?, ?)", [migrations.name, version + 1, stamp])


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One transaction (a savepoint, so it nests in the caller's): committed on success, rolled back on error."""
    name = f"sp_{uuid.uuid4().hex}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
        raise
    conn.execute(f"RELEASE SAVEPOINT {name}")
