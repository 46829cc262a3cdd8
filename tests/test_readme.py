"""The README documents every CLI command and opens with the two fresh-machine commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from editsearch.cli.main import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "editsearch") -> list[str]:
    """`editsearch NAME` for every command, and `editsearch GROUP NAME` for every subcommand of a group."""
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        paths.extend(command_paths(command, path) if isinstance(command, click.Group) else [path])
    return paths


def test_every_command_appears_in_the_readme():
    paths = command_paths(cli)
    assert {"editsearch query", "editsearch train editclip", "editsearch data synth"} <= set(paths)
    missing = [p for p in paths if not re.search(re.escape(p) + r"\b", README)]
    assert not missing, f"commands missing from README.md: {missing}"


def test_readme_opens_with_setup_and_main_job_then_the_tests():
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert lines[:2] == ['pip install -e ".[dev]" && editsearch demo', "pytest"]


def test_readme_points_only_inside_the_repository():
    assert "/".join(["..", "shared"]) not in README and not re.search(r"issue #\d", README)
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        if not link.startswith("http"):
            assert (Path(__file__).resolve().parents[1] / link).exists(), link
