"""Image loading that never surprises: any mode to RGB, first frame, EXIF orientation, safe limits."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from editsearch.core.errors import ImageLoadError
from editsearch.core.limits import MAX_IMAGE_PIXELS

ImageLike = str | Path | bytes | Image.Image


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, LA, RGBA, P, CMYK, I;16, I, F, 1) to 8-bit RGB; alpha is put on white."""
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    if img.mode == "RGB":
        return img.copy() if img.readonly else img
    if img.mode.startswith("I;16"):  # 16 bits to 8 with rounding, in integers (4 bytes a pixel, not 8)
        arr = np.asarray(img).astype(np.uint32)
        return Image.fromarray(((arr * 255 + 32767) // 65535).astype(np.uint8)).convert("RGB")
    if img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = max(float(arr.max()), 1.0)
        if img.mode == "I" and arr.max() <= 255:
            hi = 255.0
        arr8 = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8).convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(src: ImageLike, min_size: int | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open a path, bytes or PIL image as RGB; raise ImageLoadError on any failure.

    With `min_size`, a JPEG is decoded straight at the smallest 1/2, 1/4 or 1/8 scale whose sides stay
    >= min_size (libjpeg's DCT scaling): the caller resizes to min_size anyway, and decoding fewer
    pixels is most of the cost of embedding a large photo on a CPU. An image of more than `max_pixels`
    pixels is refused from its header, before it is decoded.
    """
    if isinstance(src, Image.Image):
        return to_rgb(src)
    name = "<bytes>" if isinstance(src, (bytes, bytearray)) else str(src)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if isinstance(src, (bytes, bytearray)):
                if len(src) == 0:
                    raise ImageLoadError("empty image data (0 bytes)")
                img = Image.open(io.BytesIO(src))
            else:
                path = Path(src)
                if not path.exists():
                    raise ImageLoadError(f"file not found: {path}")
                if path.is_dir():
                    raise ImageLoadError(f"is a directory, not an image: {path}")
                if path.stat().st_size == 0:
                    raise ImageLoadError(f"empty file (0 bytes): {path}")
                img = Image.open(path)
            check_pixels(img, name, max_pixels)
            if min_size is not None and img.format == "JPEG":
                img.draft("RGB", (min_size, min_size))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageLoadError(f"refused, image too large (decompression bomb guard): {name}: {e}") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"not a recognised image: {name}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(f"cannot decode image {name}: {e}") from None


def check_pixels(img: Image.Image, name: str, max_pixels: int) -> None:
    """Refuse (ImageLoadError) an opened, not yet decoded image of more than `max_pixels` pixels."""
    width, height = img.size
    if width * height > max_pixels:
        raise ImageLoadError(
            f"refused, image too large: {name} is {width} x {height} pixels, over the limit of {max_pixels:,}"
        )
