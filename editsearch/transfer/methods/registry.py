"""The ways to apply an edit, by name. Light to import: each method loads its models (and torch) in `apply`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from editsearch.core.errors import UsageError
from editsearch.transfer.methods.base import EditMethod
from editsearch.transfer.methods.caption_direction import CaptionDirectionMethod
from editsearch.transfer.methods.editclip import EditClipMethod
from editsearch.transfer.methods.visii import VisiiMethod

METHODS: dict[str, EditMethod] = {m.name: m for m in (EditClipMethod(), VisiiMethod(), CaptionDirectionMethod())}
DEFAULT_METHOD = EditClipMethod.name


def names() -> tuple[str, ...]:
    """Every method's name, the default first."""
    return tuple(METHODS)


def get_method(name: str) -> EditMethod:
    """The method called `name`; UsageError naming the others for an unknown one."""
    if name not in METHODS:
        raise UsageError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name]


def all_options() -> tuple[str, ...]:
    """Every method's own options, each once, in the order the methods list them."""
    return tuple(dict.fromkeys(o for m in METHODS.values() for o in m.options))


def refuse_foreign(method: EditMethod, options: Mapping[str, Any]) -> None:
    """UsageError naming each given option (not None, False or 0) that `method` does not take, and its owners."""
    foreign = [k for k, v in options.items() if k not in method.options and v not in (None, False, 0)]
    if not foreign:
        return
    flags = {k: "--" + k.replace("_", "-") for k in foreign}
    owners: dict[str, list[str]] = {}
    for k in foreign:
        if owner := " or ".join(m.name for m in METHODS.values() if k in m.options):
            owners.setdefault(owner, []).append(flags[k])
    where = "; ".join(f"{', '.join(given)} belong to --method {owner}" for owner, given in owners.items())
    raise UsageError(f"{', '.join(flags.values())} do not apply to {method.name}" + (f" ({where})" if where else ""))
