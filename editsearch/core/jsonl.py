"""Reading JSONL files line by line, where one bad line is reported in its place and never stops the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, parsed object) for each non-blank line that holds a JSON object, else (line number, reason)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield lineno, "line is not valid UTF-8"
                continue
            except json.JSONDecodeError as e:
                yield lineno, f"invalid JSON: {e.msg} (column {e.colno})"
                continue
            except (ValueError, RecursionError) as e:  # an integer of over 4300 digits, nesting too deep
                yield lineno, f"invalid JSON: {str(e) or type(e).__name__}"
                continue
            yield lineno, obj if isinstance(obj, dict) else f"expected a JSON object, got {type(obj).__name__}"
