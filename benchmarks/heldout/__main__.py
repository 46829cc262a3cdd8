"""Command line: `python -m benchmarks.heldout --out DIR --pairs N --seed S [--sheet FILE.png]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.heldout.generate import write_heldout
from benchmarks.heldout.sheet import contact_sheet
from editsearch.core.errors import EditSearchError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command's options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.heldout", description="Write the held-out edit set (never train or tune on it)."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for images/ and manifest.jsonl")
    parser.add_argument("--pairs", type=int, required=True, help="number of pairs (families take turns)")
    parser.add_argument("--seed", type=int, required=True, help="run seed: the same seed writes the same set")
    parser.add_argument("--size", type=int, default=224, help="side of each square image in px (default 224)")
    parser.add_argument("--families", help="comma-separated families to write (default: all 47)")
    parser.add_argument("--sheet", type=Path, help="also draw a contact sheet of the set into this PNG")
    parser.add_argument("--per-row", type=int, default=3, help="pairs per family on the sheet (default 3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write the set (and the sheet); print the manifest's path; errors as one `Error:` line, exit code 2."""
    args = parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else None
    try:
        manifest = write_heldout(args.out, args.pairs, args.seed, args.size, families=families)
        if args.sheet:
            contact_sheet(manifest, args.sheet, families, args.per_row)
    except EditSearchError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
