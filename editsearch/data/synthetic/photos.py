"""Source images for synthetic edits: photos shipped in installed wheels plus procedural scenes."""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from editsearch.core.errors import UsageError
from editsearch.data.synthetic.scenes import SCENES, render_scene

SPLITS = ("train", "test")
SCENE_SHARE = 0.4  # fraction of sources that are procedural scenes
SCENE_POOL = {"train": 160, "test": 40}  # procedural scenes per split, each rendered once per process
SCENE_BASE = 320  # side a pool scene is rendered at (or the requested size, when larger)
HELDOUT_GROUPS = frozenset({"coffee", "motorcycle", "china", "coins", "gravel"})


@dataclass(frozen=True)
class Photo:
    """A photo file inside an installed package; `group` ties near-duplicates to one split."""

    id: str
    package: str
    file: str
    group: str

    @property
    def split(self) -> str:
        """'test' for held-out groups, else 'train'."""
        return "test" if self.group in HELDOUT_GROUPS else "train"


_CANDIDATES = [
    Photo("astronaut", "skimage", "data/astronaut.png", "astronaut"),
    Photo("chelsea", "skimage", "data/chelsea.png", "chelsea"),
    Photo("rocket", "skimage", "data/rocket.jpg", "rocket"),
    Photo("retina", "skimage", "data/retina.jpg", "retina"),
    Photo("ihc", "skimage", "data/ihc.png", "ihc"),
    Photo("camera", "skimage", "data/camera.png", "camera"),
    Photo("moon", "skimage", "data/moon.png", "moon"),
    Photo("brick", "skimage", "data/brick.png", "brick"),
    Photo("grass", "skimage", "data/grass.png", "grass"),
    Photo("coffee", "skimage", "data/coffee.png", "coffee"),
    Photo("motorcycle_left", "skimage", "data/motorcycle_left.png", "motorcycle"),
    Photo("motorcycle_right", "skimage", "data/motorcycle_right.png", "motorcycle"),
    Photo("coins", "skimage", "data/coins.png", "coins"),
    Photo("gravel", "skimage", "data/gravel.png", "gravel"),
    Photo("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "hubble_deep_field"),
    Photo("cell", "skimage", "data/cell.png", "cell"),
    Photo("clock_motion", "skimage", "data/clock_motion.png", "clock_motion"),
    Photo("page", "skimage", "data/page.png", "page"),
    Photo("text", "skimage", "data/text.png", "text"),
    Photo("color", "skimage", "data/color.png", "color"),
    Photo("flower", "sklearn", "datasets/images/flower.jpg", "flower"),
    Photo("china", "sklearn", "datasets/images/china.jpg", "china"),
]


def _package_dir(package: str) -> Path | None:
    """Install folder of a package, found without importing it; None if it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=1)
def available_photos() -> tuple[Photo, ...]:
    """The candidate photos whose files exist on this machine (nothing is ever downloaded)."""
    found = []
    for photo in _CANDIDATES:
        root = _package_dir(photo.package)
        if root is not None and (root / photo.file).is_file():
            found.append(photo)
    return tuple(found)


def photos(split: str) -> list[Photo]:
    """The photos of one split."""
    if split not in SPLITS:
        raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
    return [p for p in available_photos() if p.split == split]


@functools.lru_cache(maxsize=32)
def _decoded(photo: Photo) -> tuple[Image.Image, bool]:
    """(the photo as RGB, whether it was greyscale), decoded once per process."""
    img = Image.open(_package_dir(photo.package) / photo.file)
    img.load()
    gray = img.mode in ("L", "LA", "I", "I;16", "1")
    return img.convert("RGB"), gray


def _colorize(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Map a grey image through a soft random duotone, so colour edits have colour to act on."""
    from editsearch.data.synthetic.scenes import hsv_color

    hue = rng.random()
    dark = hsv_color(hue, rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.25))
    mid = hsv_color(hue + rng.uniform(-0.12, 0.12), rng.uniform(0.25, 0.5), rng.uniform(0.5, 0.7))
    light = hsv_color(hue + rng.uniform(-0.2, 0.2), rng.uniform(0.05, 0.25), rng.uniform(0.88, 1.0))
    return ImageOps.colorize(img.convert("L"), dark, light, mid=mid)


def scene_id(split: str, index: int) -> tuple[str, int]:
    """(kind, seed) of pool scene `index` of a split; test seeds are multiples of 5, train seeds are not."""
    kinds = sorted(SCENES)
    return kinds[index % len(kinds)], 5 * index + (0 if split == "test" else 1)


@functools.lru_cache(maxsize=sum(SCENE_POOL.values()))
def _scene(kind: str, seed: int, side: int) -> Image.Image:
    """A pool scene, rendered once per process."""
    return render_scene(kind, seed, side)


def sample_source(rng: np.random.Generator, split: str, size: int) -> tuple[Image.Image, str]:
    """(a size x size RGB crop of a random source of `split`, its source id). Deterministic given rng."""
    pool = photos(split)
    if not pool or rng.random() < SCENE_SHARE:
        kind, seed = scene_id(split, int(rng.integers(SCENE_POOL[split])))
        full, gray, source = _scene(kind, seed, max(SCENE_BASE, size)), False, f"scene:{kind}:{seed}"
        min_side = 0.55
    else:
        photo = pool[int(rng.integers(len(pool)))]
        (full, gray), source, min_side = _decoded(photo), f"photo:{photo.id}", 0.45
    side = min(full.size) * rng.uniform(min_side, 1.0)
    left, top = rng.uniform(0, full.width - side), rng.uniform(0, full.height - side)
    img = full.resize((size, size), Image.BICUBIC, box=(left, top, left + side, top + side))
    if gray:
        img = _colorize(img, rng)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img, source


def source_photo(rng: np.random.Generator, split: str, size: int) -> Image.Image:
    """A random crop/scale/flip of a source image (shipped photo or procedural scene) from that split."""
    return sample_source(rng, split, size)[0]


def source_split(source: str) -> str:
    """The split a 'scene:KIND:SEED' or 'photo:ID' source id belongs to."""
    kind, rest = source.split(":", 1)
    if kind == "scene":
        return "test" if int(rest.rsplit(":", 1)[1]) % 5 == 0 else "train"
    return next(p.split for p in available_photos() if p.id == rest)
