"""The editsearch command line: a lazy click group, so `--help` never imports torch."""

from __future__ import annotations

import importlib
import os
import sqlite3

import click

from editsearch.cli.common import printable
from editsearch.core.errors import EXIT_ERROR, EditSearchError

# command name -> ("module:attribute", one-line help); a module is imported only when its command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("editsearch.cli.demo:demo", "Generate a demo collection, index it and run example queries."),
    "build-index": ("editsearch.cli.index:build_index", "Embed edit pairs from sources into an index."),
    "embed": ("editsearch.cli.embed:embed", "Embed sources into embeddings shards (locally or on Ray)."),
    "query": ("editsearch.cli.index:query", "Search an index by text, exemplar pair or edit id."),
    "stats": ("editsearch.cli.index:stats", "Summarise an index."),
    "show": ("editsearch.cli.index:show", "Show everything the catalog knows about one edit."),
    "remove": ("editsearch.cli.index:remove", "Remove edits from an index."),
    "rebuild": ("editsearch.cli.rebuild:rebuild", "Rebuild the FAISS index, or re-embed it with --model."),
    "verify": ("editsearch.cli.index:verify", "Check that the catalog and FAISS index agree."),
    "score": ("editsearch.cli.score:score", "Score edits with EC2T (text) or EC2EC (reference pair)."),
    "data": ("editsearch.cli.data:data", "Synthetic edit data: generate pairs, draw contact sheets."),
    "train": ("editsearch.cli.train:train", "Train EditCLIP or the EditCLIP-conditioned IP2P."),
    "eval": ("editsearch.cli.evaluate:eval_cmd", "Retrieval metrics of a model on held-out edits."),
    "apply": ("editsearch.cli.apply:apply", "Apply an exemplar edit to new images."),
    "serve": ("editsearch.cli.serve:serve", "Serve an index: JSON search API and web page (FastAPI)."),
    "audit": ("editsearch.cli.audit:audit", "Find no-op, mismatched, reversed and duplicate edits in an index."),
    "map": ("editsearch.cli.map:map_cmd", "Map an index's edits in 2-D: layout, clusters, cluster names."),
}


# Commands whose forward shares the CPU with DataLoader workers. There torch's idle OpenMP threads should
# sleep rather than spin on the cores the decoders need: build-index runs 15-30% faster on 2 cores
# (benchmarks/RESULTS_index.md). A lone forward loses ~10% to passive waiting, so only these commands get
# OMP_WAIT_POLICY=PASSIVE, set before their module (and so torch) is imported, unless the user set it.
PASSIVE_WAIT = ("build-index", "embed")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        if name in PASSIVE_WAIT:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        module, attr = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; the library's errors become one `Error: ...` line and their exit code."""
        try:
            return super().invoke(ctx)
        except EditSearchError as e:
            raise CommandError(printable(e), e.exit_code) from None
        except OSError as e:  # a file the user named, a full disk, a read-only folder: no traceback
            raise CommandError(printable(_os_message(e)), EXIT_ERROR) from None
        except sqlite3.DatabaseError as e:  # a damaged catalog page met mid-command, a full disk under SQLite
            raise CommandError(printable(f"the index catalog cannot be read or written: {e}"), EXIT_ERROR) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


class CommandError(click.ClickException):
    """A library error as click shows it: `Error: message`, exiting with the error's own code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _os_message(e: OSError) -> str:
    """`reason: path` for an OSError, without errno noise."""
    reason = e.strerror or str(e)
    return f"{reason}: {e.filename}" if e.filename else reason


@click.group(cls=LazyGroup)
@click.version_option(package_name="editsearch")
def cli() -> None:
    """Search, score and apply image edits (before/after exemplar pairs)."""
