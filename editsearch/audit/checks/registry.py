"""The audit's checks in the order they run and are reported, and lookup by name: a new check is a line here."""

from __future__ import annotations

from collections.abc import Iterable

from editsearch.audit.checks.base import Check
from editsearch.audit.checks.duplicate import Duplicate
from editsearch.audit.checks.mismatch import Mismatch
from editsearch.audit.checks.noop import Noop
from editsearch.audit.checks.reversed import Reversed
from editsearch.core.errors import UsageError

CHECKS: tuple[Check, ...] = (Noop(), Mismatch(), Reversed(), Duplicate())
NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)
_BY_NAME = {c.name: c for c in CHECKS}


def get(name: str) -> Check:
    """The check of this name (UsageError for an unknown one)."""
    return select([name])[0]


def select(names: Iterable[str]) -> list[Check]:
    """The checks asked for, in CHECKS order; UsageError for an unknown one or none."""
    asked = list(dict.fromkeys(names))
    unknown = [c for c in asked if c not in _BY_NAME]
    if unknown or not asked:
        raise UsageError(f"unknown check(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(NAMES)}")
    return [c for c in CHECKS if c.name in asked]
