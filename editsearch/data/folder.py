"""Folder sources: pairs named NAME_0/NAME_1 or NAME_before/NAME_after, or before/ and after/ subfolders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from editsearch.core.jsonl import read_jsonl
from editsearch.data.records import EditPair, ImageRef, ItemError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
# file-name suffix -> (convention, half); a pair's two files must follow the same convention
HALF_SUFFIXES = {"_0": ("index", 0), "_1": ("index", 1), "_before": ("word", 0), "_after": ("word", 1)}
Key = tuple[str, str]  # (pair name relative to the root, convention)
INSTRUCTIONS_FILE = "instructions.jsonl"


def is_image_file(name: str) -> bool:
    """True when a file name has one of the image extensions a folder source reads."""
    return Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")


def iter_folder(path: str | Path, require_instruction: bool = False) -> Iterator[EditPair | ItemError]:
    """Yield the pairs of a folder (recursively), sorted by pair name; lone halves are ItemErrors."""
    root = Path(path).resolve()
    instructions, errors = _read_instructions(root)
    entries: list[tuple[Key, EditPair | ItemError]] = [((e.item, ""), e) for e in errors]
    for key, halves in _scan(root).items():
        entries.append((key, _to_pair(root, *key, halves, instructions, require_instruction)))
    for _, entry in sorted(entries, key=lambda kv: kv[0]):
        yield entry


def count_folder(path: str | Path) -> int:
    """Number of items iter_folder yields for image files (pairs and lone halves); nothing is opened."""
    return len(_scan(Path(path).resolve()))


def _scan(root: Path) -> dict[Key, list[list[Path]]]:
    """Map each (pair name, convention) to its [before files, after files]; name is relative to root."""
    pairs: dict[Key, list[list[Path]]] = {}

    def add(name: PurePosixPath, convention: str, half: int, file: Path) -> None:
        pairs.setdefault((str(name), convention), [[], []])[half].append(file)

    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = PurePosixPath(here.relative_to(root).as_posix())
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "before" in dirnames and "after" in dirnames:
            dirnames[:] = [d for d in dirnames if d not in ("before", "after")]
            for half, sub in enumerate(("before", "after")):
                for file in _images_under(here / sub):
                    stem = PurePosixPath(file.relative_to(here / sub).as_posix()).with_suffix("")
                    add(rel / stem, "folders", half, file)
        for fname in sorted(f for f in filenames if is_image_file(f)):
            stem = Path(fname).stem
            for suffix, (convention, half) in HALF_SUFFIXES.items():
                if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                    add(rel / stem[: -len(suffix)], convention, half, here / fname)
                    break
            else:
                add(rel / fname, "unpaired", 0, here / fname)
    return pairs


def _images_under(folder: Path) -> list[Path]:
    """All image files below a folder, sorted, hidden entries skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames if is_image_file(f)]
    return sorted(found)


def _to_pair(
    root: Path,
    name: str,
    convention: str,
    halves: list[list[Path]],
    instructions: dict[str, str],
    require_instruction: bool,
) -> EditPair | ItemError:
    """Turn one scanned name into an EditPair, or say what is wrong with it."""
    if convention == "unpaired":
        return ItemError(
            str(halves[0][0]),
            "image is not half of a pair (name pairs NAME_0/NAME_1 or "
            "NAME_before/NAME_after, or use before/ and after/ folders)",
        )
    for half, label in enumerate(("before", "after")):
        if not halves[half]:
            other = halves[1 - half][0]
            return ItemError(str(other), f"lone half of a pair: no {label} image for '{name}'")
        if len(halves[half]) > 1:
            listed = ", ".join(p.name for p in halves[half])
            return ItemError(str(root / name), f"several {label} images for '{name}': {listed}")
    instruction = _instruction_for(root, name, instructions)
    if require_instruction and not instruction:
        return ItemError(str(root / name), f"no instruction for '{name}' ({name}.txt or {INSTRUCTIONS_FILE})")
    before, after = (str(h[0]) for h in halves)
    return EditPair(
        ImageRef(before), ImageRef(after), instruction, {"name": name}, source="folder", item=str(root / name)
    )


def _instruction_for(root: Path, name: str, instructions: dict[str, str]) -> str | None:
    """The instruction of a pair: NAME.txt beside it, else its instructions.jsonl entry."""
    txt = root / f"{name}.txt"
    if txt.is_file():
        text = txt.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text
    return instructions.get(name) or None


def _read_instructions(root: Path) -> tuple[dict[str, str], list[ItemError]]:
    """Collect every instructions.jsonl below root: pair name (relative to root) -> instruction."""
    found: dict[str, str] = {}
    errors: list[ItemError] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if INSTRUCTIONS_FILE not in filenames:
            continue
        file = Path(dirpath) / INSTRUCTIONS_FILE
        rel = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        for lineno, obj in read_jsonl(file):
            if isinstance(obj, str):
                errors.append(ItemError(f"{file}:{lineno}", obj))
            elif isinstance(obj.get("name"), str) and isinstance(obj.get("instruction"), str):
                found[str(rel / obj["name"])] = obj["instruction"].strip()
            else:
                errors.append(ItemError(f"{file}:{lineno}", 'expected {"name": str, "instruction": str}'))
    return found, errors
