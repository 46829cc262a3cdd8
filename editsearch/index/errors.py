"""Exceptions of the edit index; each message is one clear line meant for a user."""

from __future__ import annotations

from editsearch.core.errors import EXIT_USAGE, EditSearchError
from editsearch.core.errors import ModelMismatchError as ModelMismatchError  # where callers have looked for them
from editsearch.core.errors import SchemaVersionError as SchemaVersionError


class EditIndexError(EditSearchError):
    """Base class: something about an index that a user can act on."""


class IndexNotFoundError(EditIndexError):
    """No index at the given directory."""


class IndexLockedError(EditIndexError):
    """Another writer holds the index lock and did not release it in time."""


class UnknownEditError(EditIndexError):
    """An edit id that the catalog does not know (or that was removed)."""


class FilterError(EditIndexError):
    """A --where or --contains filter that SQLite rejected (a usage error; in a batch, that query's error)."""

    exit_code = EXIT_USAGE


class CatalogCorruptError(EditIndexError):
    """The catalog file is damaged (bad header, truncated, malformed pages); the message says what to do."""


class BuildAbortedError(EditIndexError):
    """A build stopped by a failure that is not one item's (a dead worker, a full disk); committed batches stay."""
