"""The one record type every edit-pair source yields: EditPair, or ItemError for a bad item."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from editsearch.core.errors import DataError, ImageLoadError
from editsearch.core.limits import MAX_IMAGE_BYTES
from editsearch.data.parquet_cells import read_cell_bytes, read_cell_image
from editsearch.data.tar_members import member_info, read_member_bytes, read_member_image
from editsearch.media.images import load_image
from editsearch.media.locators import cell_locator, file_locator, member_locator, parse_location


@dataclass(frozen=True)
class ImageRef:
    """Where one image lives: a file path, a cell (row, column) of a parquet or arrow file, or a tar member.

    Loads lazily.
    """

    path: str
    row: int | None = None
    column: str | None = None
    member: str | None = None

    @property
    def locator(self) -> str:
        """A string that names this image again later: 'PATH', 'parquet-cell:ROW:COLUMN:PATH' or
        'tar-member:MEMBER:PATH' (see locators)."""
        if self.member is not None:
            return member_locator(self.path, self.member)
        return file_locator(self.path) if self.row is None else cell_locator(self.path, self.row, self.column or "")

    @classmethod
    def from_locator(cls, locator: str) -> ImageRef:
        """Parse a locator written by `locator`; a plain path is always a file (ValueError: a malformed one)."""
        return cls(*parse_location(locator))

    def load(self, min_size: int | None = None) -> Image.Image:
        """Decode the image as RGB (a JPEG at reduced scale, sides >= min_size); raises ImageLoadError on failure."""
        if self.member is not None:
            return read_member_image(self.path, self.member, min_size=min_size)
        if self.row is None:
            return load_image(self.path, min_size=min_size)
        return read_cell_image(self.path, self.row, self.column or "", min_size=min_size)

    def stat(self) -> tuple[int, float]:
        """(size in bytes, mtime) of the backing file; OSError if it is gone.

        A cell's is its table file's, a tar member's its own size and the tar's mtime: the pairs of a table
        or tar that did not change are skipped by a re-run without reading them; those of a changed one are
        hashed again, and only the pairs whose bytes changed are embedded again.
        """
        st = os.stat(self.path)
        if self.member is not None:
            return member_info(self.path, self.member).size, st.st_mtime
        return st.st_size, st.st_mtime

    def content_hash(self) -> str:
        """sha256 of the bytes behind this image (the file, the table cell's or the tar member's bytes).

        A file is checked first, without reading it all: over MAX_IMAGE_BYTES, or with no image header
        PIL recognises, it raises ImageLoadError and is never hashed.
        """
        if self.row is None and self.member is None:
            check_image_file(self.path)
            h = hashlib.sha256()
            with open(self.path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            return h.hexdigest()
        if self.member is not None:
            return hashlib.sha256(read_member_bytes(self.path, self.member)).hexdigest()
        return hashlib.sha256(read_cell_bytes(self.path, self.row, self.column or "")).hexdigest()


@dataclass
class EditPair:
    """A before/after exemplar pair with an optional instruction and free-form metadata."""

    before: ImageRef
    after: ImageRef
    instruction: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "files"
    item: str = field(default="", compare=False)  # where its source lists it: PATH:LINE, FILE#ROW, FOLDER/NAME

    @property
    def key(self) -> str:
        """Stable identity of the pair within its source: the two locators."""
        return f"{self.before.locator}|{self.after.locator}"

    def load(self, min_size: int | None = None) -> tuple[Image.Image, Image.Image]:
        """Decode (before, after) as RGB PIL images; `min_size` lets JPEGs decode at reduced scale (see load_image)."""
        return self.before.load(min_size), self.after.load(min_size)


@dataclass
class ItemError:
    """One item a source could not turn into an EditPair: what it was, and why (one line)."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


def check_image_file(path: str) -> None:
    """Refuse (ImageLoadError) a file over MAX_IMAGE_BYTES or one whose header is no image PIL knows."""
    size = os.stat(path).st_size
    if size == 0:
        raise ImageLoadError(f"empty file (0 bytes): {path}")
    if size > MAX_IMAGE_BYTES:
        raise ImageLoadError(f"file too large for an image: {size:,} bytes (limit {MAX_IMAGE_BYTES:,}): {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # decoding decides, as load_image does
            with Image.open(path):  # reads the header only
                pass
    except UnidentifiedImageError:
        raise ImageLoadError(f"not a recognised image: {path}") from None
    except Image.DecompressionBombError as e:
        raise ImageLoadError(f"refused, image too large (decompression bomb guard): {path}: {e}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(f"cannot decode image {path}: {e}") from None


def resolve(path: str | Path, base: str | Path) -> str:
    """Absolute path of `path`, taken relative to `base` when not absolute (symlinks resolved).

    Raises DataError for a path no file can have (an embedded NUL, a symlink loop, an unknown ~user).
    """
    text = str(path)
    if "\x00" in text:
        raise DataError("path contains a NUL character")
    try:
        p = Path(text).expanduser()
        return str(p if p.is_absolute() else (Path(base) / p).resolve())
    except (RuntimeError, OSError) as e:  # Python 3.11 reports a symlink loop as RuntimeError
        raise DataError(f"cannot resolve path {text!r}: {e}") from None
