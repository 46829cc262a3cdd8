"""Options of the train commands, generated from the trainers' config dataclasses, and --data (where pairs are from)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from typing import Any, TypeVar

import click

from editsearch.training.recipes import OPTION, SYNTHETIC, data_sources

F = TypeVar("F", bound=Callable[..., Any])

PATHS = {"dir": click.Path(file_okay=False), "existing-dir": click.Path(exists=True, file_okay=False)}


def data_option(fn: F) -> F:
    """--data SOURCE (repeatable; 'synthetic', the default, generates edits), and its old spelling --synthetic."""
    fn = click.option("--synthetic", is_flag=True, hidden=True, help=f"Same as --data {SYNTHETIC}.")(fn)
    return click.option(
        "--data",
        multiple=True,
        metavar="SOURCE",
        help="Edit-pair source (manifest, pair folder, parquet or arrow table, webdataset tar); repeatable. "
        f"'{SYNTHETIC}' [the default]: synthetic edits generated here.",
    )(fn)


def sources_of(data: tuple[str, ...], synthetic: bool) -> tuple[str, ...]:
    """The edit-pair sources named by --data/--synthetic; () means synthetic edits."""
    return data_sources((*data, *((SYNTHETIC,) if synthetic else ())))


def config_options(config: type) -> Callable[[F], F]:
    """Click options for every `setting` field of a config dataclass, in field order; the command gets each as a
    keyword named after its field (a `sources` field becomes --data/--synthetic, see `sources_of`)."""

    def decorate(fn: F) -> F:
        for f in reversed(fields(config)):
            spec = f.metadata.get(OPTION)
            if spec is None:
                continue
            fn = data_option(fn) if spec.get("data") else click.option(*_names(f, spec), **_settings(f, spec))(fn)
        return fn

    return decorate


def _names(f: Field, spec: dict[str, Any]) -> list[str]:
    """The option's spellings and its parameter name (the field's)."""
    flag = spec.get("flag") or "--" + f.name.replace("_", "-")
    if f.default is True and "flag" not in spec:
        flag = f"{flag}/--no-{flag.removeprefix('--')}"
    return [flag, *spec.get("aliases", ()), f.name]


def _settings(f: Field, spec: dict[str, Any]) -> dict[str, Any]:
    """click.option keywords for a field: type, default, help and how the default shows."""
    default = spec.get("option_default", f.default)
    out: dict[str, Any] = {"help": spec["help"] or None, "hidden": spec.get("hidden", False)}
    if spec.get("metavar"):
        out["metavar"] = spec["metavar"]
    if spec.get("required"):
        out["required"] = True
    if default is not MISSING:
        out["default"] = default
    if isinstance(f.default, bool):
        if "flag" in spec:  # a flag that turns the setting off, e.g. --lpips-random for lpips_pretrained=False
            out.update(is_flag=True, flag_value=not f.default)
        elif not f.default:
            out["is_flag"] = True
        else:
            out["show_default"] = True
        return out
    out["type"] = _option_type(f, spec)
    out["show_default"] = default is not None and default is not MISSING
    return out


def _option_type(f: Field, spec: dict[str, Any]) -> Any:
    """The click type of a non-boolean setting: its choices, range, path kind, given type, or its default's."""
    if "choices" in spec:
        return click.Choice(spec["choices"])
    if "min" in spec:
        return click.IntRange(min=spec["min"])
    if "path" in spec:
        return PATHS[spec["path"]]
    if "type" in spec:
        return spec["type"]
    return type(f.default) if f.default is not MISSING and f.default is not None else str
