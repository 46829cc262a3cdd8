"""The one error root and the exit codes: torch-free, so the CLI can catch and convert without heavy imports.

Every error a user can act on derives from `EditSearchError`; its message is one clear line, and its
`exit_code` is what the command line exits with. The CLI turns them into `Error: ...` in one place
(`editsearch.cli.main`); the library never prints or exits.
"""

from __future__ import annotations

EXIT_OK = 0  # every item succeeded
EXIT_ERROR = 1  # the command could not do its job (bad weights, corrupt index, ...)
EXIT_USAGE = 2  # bad arguments (click's own code)
EXIT_PARTIAL = 3  # some items failed and were reported; every valid item was processed
EXIT_INCONSISTENT = 4  # `verify` found the catalog or the FAISS cache inconsistent


def items_exit_code(failed: int) -> int:
    """EXIT_OK when no item failed, EXIT_PARTIAL when some did (each reported, every valid one processed)."""
    return EXIT_PARTIAL if failed else EXIT_OK


def item_objects(items: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """Reported items (origin, item, reason), as a report's JSON form gives them."""
    return [{"origin": o, "item": i, "reason": r} for o, i, r in items]


class EditSearchError(Exception):
    """Base of every user-facing editsearch error: one clear line, and the exit code it maps to."""

    exit_code = EXIT_ERROR


class UsageError(EditSearchError, ValueError):
    """Arguments that cannot work together or are out of range (exit code 2)."""

    exit_code = EXIT_USAGE


class ImageLoadError(EditSearchError, ValueError):
    """An image that could not be read; the message says why."""


class WeightsNotFoundError(EditSearchError, FileNotFoundError):
    """Model weights that are neither on disk nor downloadable here; the message says how to get them."""


class DataError(EditSearchError, ValueError):
    """Input data that cannot be used as a whole (no usable pairs in the sources given)."""


class IncompatibleModelError(EditSearchError, ValueError):
    """Model parts that do not fit together (widths, activations); the message says which to pass instead."""


class GenerationError(EditSearchError, RuntimeError):
    """A model that wrote no usable output (an empty caption); the message says what to pass instead."""


class MissingDependencyError(EditSearchError, RuntimeError):
    """An optional package or downloadable backbone that this command needs is not installed or cached."""


class MemoryLimitError(EditSearchError, MemoryError):
    """A job whose estimated peak memory exceeds what the machine has available; refused before it starts."""


class NoMapError(EditSearchError, LookupError):
    """An index whose edit atlas has not been built yet; the message names `editsearch map`."""


def untrained_note(name: str, what: str = "its scores are noise") -> str:
    """The one-line warning printed whenever an UNTRAINED (random-weight) model is used."""
    return f"note: model {name!r} is UNTRAINED (random weights); {what}."


class ModelMismatchError(EditSearchError):
    """A query or add used a different model than the one that built the index."""


class SchemaVersionError(EditSearchError):
    """A database (the index catalog, or one of its tables' migration sets) written by a newer editsearch."""
