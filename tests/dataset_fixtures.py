"""Tiny edit-pair data sets in the public sets' own layouts, written as their published cards list the columns.

Images are 16-px PNGs, each row's own; instructions come from a short list so a text query finds them.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # a `datasets` Image cell
WORDS = ["make it snowy", "turn the sky red", "add a hat", "blur the background", "mirror it", "invert the colors"]


def png(seed: int, size: int = 16) -> bytes:
    """A small random PNG, the same for the same seed."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def images(seeds: list[int]) -> pa.Array:
    """A column of `datasets` Image cells holding these images' bytes."""
    return pa.array([{"bytes": png(s), "path": None} for s in seeds], IMAGE)


def magicbrush(n: int) -> pa.Table:
    """osunlp/MagicBrush: img_id, turn_index, source_img, mask_img, instruction, target_img."""
    return pa.table(
        {
            "img_id": [str(1000 + i // 2) for i in range(n)],
            "turn_index": pa.array([1 + i % 2 for i in range(n)], pa.int32()),
            "source_img": images([10 + i for i in range(n)]),
            "mask_img": images([500 + i for i in range(n)]),
            "instruction": [WORDS[i % len(WORDS)] for i in range(n)],
            "target_img": images([100 + i for i in range(n)]),
        }
    )


def hq_edit(n: int) -> pa.Table:
    """UCSC-VLAA/HQ-Edit: input, input_image, edit, inverse_edit, output, output_image."""
    return pa.table(
        {
            "input": [f"a photo {i}" for i in range(n)],
            "input_image": images([20 + i for i in range(n)]),
            "edit": [WORDS[(i + 1) % len(WORDS)] for i in range(n)],
            "inverse_edit": [f"undo {i}" for i in range(n)],
            "output": [f"an edited photo {i}" for i in range(n)],
            "output_image": images([200 + i for i in range(n)]),
        }
    )


def ultraedit(n: int) -> pa.Table:
    """BleachNick/UltraEdit (a free-form split: edit_object and mask_image are all null)."""
    floats = {k: pa.array([0.5 + i / 100 for i in range(n)], pa.float64()) for k in ("clip_sim_source", "ssim")}
    return pa.table(
        {
            **floats,
            "source_caption": [f"source {i}" for i in range(n)],
            "target_caption": [f"target {i}" for i in range(n)],
            "idx": pa.array(range(n), pa.int64()),
            "edit_prompt": [WORDS[(i + 2) % len(WORDS)] for i in range(n)],
            "edit_object": pa.nulls(n),
            "source_image": images([30 + i for i in range(n)]),
            "edited_image": images([300 + i for i in range(n)]),
            "mask_image": pa.nulls(n),
        }
    )


def omniedit(n: int) -> pa.Table:
    """TIGER-Lab/OmniEdit-Filtered-1.2M: omni_edit_id, task, src_img, edited_img, edited_prompt_list, scores."""
    return pa.table(
        {
            "omni_edit_id": [f"omni-{i}" for i in range(n)],
            "task": ["swap" if i % 2 else "style" for i in range(n)],
            "src_img": images([40 + i for i in range(n)]),
            "edited_img": images([400 + i for i in range(n)]),
            "edited_prompt_list": pa.array([["", WORDS[(i + 3) % len(WORDS)], "other"] for i in range(n)]),
            "width": pa.array([16] * n, pa.int64()),
            "sc_score_1": pa.array([i % 10 for i in range(n)], pa.int64()),
            "o_score": pa.array([float(i) for i in range(n)], pa.float64()),
        }
    )


def anyedit(n: int) -> pa.Table:
    """Bin1117/AnyEdit: image_id, edit_instruction, edit_type, image_file, edited_file, visual_input, input, output."""
    visual = pa.array([{"bytes": png(700 + i), "path": None} if i == 0 else None for i in range(n)], IMAGE)
    return pa.table(
        {
            "image_id": [f"any-{i}" for i in range(n)],
            "edit_instruction": [WORDS[(i + 4) % len(WORDS)] for i in range(n)],
            "edit_type": ["color_alter"] * n,
            "image_file": images([50 + i for i in range(n)]),
            "edited_file": images([600 + i for i in range(n)]),
            "visual_input": visual,
            "input": [f"in {i}" for i in range(n)],
            "output": [f"out {i}" for i in range(n)],
        }
    )


def ip2p(n: int) -> pa.Table:
    """timbrooks/instructpix2pix-clip-filtered: original_prompt, original_image, edit_prompt, edited_prompt,
    edited_image."""
    return pa.table(
        {
            "original_prompt": [f"photo {i}" for i in range(n)],
            "original_image": images([60 + i for i in range(n)]),
            "edit_prompt": [WORDS[(i + 5) % len(WORDS)] for i in range(n)],
            "edited_prompt": [f"edited {i}" for i in range(n)],
            "edited_image": images([800 + i for i in range(n)]),
        }
    )


def ip2p_samples(n: int) -> pa.Table:
    """fusing/instructpix2pix-1000-samples: input_image, edit_prompt, edited_image."""
    return pa.table(
        {
            "input_image": images([70 + i for i in range(n)]),
            "edit_prompt": [WORDS[i % len(WORDS)] for i in range(n)],
            "edited_image": images([900 + i for i in range(n)]),
        }
    )


LAYOUTS: dict[str, Callable[[int], pa.Table]] = {
    "magicbrush": magicbrush,
    "hq-edit": hq_edit,
    "ultraedit": ultraedit,
    "omniedit": omniedit,
    "anyedit": anyedit,
    "ip2p": ip2p,
    "ip2p-samples": ip2p_samples,
}


def write_parquet(table: pa.Table, path: Path, row_group_size: int = 2) -> Path:
    """The table as a parquet file (small row groups, so readers cross group boundaries)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_saved_dataset(table: pa.Table, folder: Path, batch_rows: int = 2) -> Path:
    """The table as `datasets` save_to_disk writes it: an Arrow IPC stream plus state.json and dataset_info.json."""
    folder.mkdir(parents=True, exist_ok=True)
    name = "data-00000-of-00001.arrow"
    with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": name}], "_split": "train"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))
    (folder / "cache-0123.arrow").write_bytes(b"not data")  # a cache file `map` leaves: not listed, never read
    return folder


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """An uncompressed tar of these (name, bytes) members, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return path


def webdataset_members() -> list[tuple[str, bytes]]:
    """Six samples: three good (each naming convention), a missing half, a corrupt image, a non-UTF-8 text."""
    return [
        ("s/k0.before.png", png(1)),
        ("s/k0.after.png", png(2)),
        ("s/k0.json", json.dumps({"instruction": "make it snowy", "quality": 7}).encode()),
        ("s/k1.src.png", png(3)),
        ("s/k1.tgt.png", png(4)),
        ("s/k1.txt", b"turn the sky red"),
        ("s/k2.input.png", png(5)),  # no after
        ("s/k2.txt", b"add a hat"),
        ("s/k3.source.png", png(6)),
        ("s/k3.target.png", b"\x89PNG\r\n\x1a\n not really"),  # corrupt
        ("s/k3.json", json.dumps({"edit_prompt": "mirror it"}).encode()),
        ("s/k4.before.png", png(7)),
        ("s/k4.after.png", png(8)),
        ("s/k4.txt", b"caf\xe9 au lait"),  # Latin-1, not UTF-8
        ("s/k5.input.png", png(9)),
        ("s/k5.output.png", png(10)),
        ("s/k5.mask.png", png(11)),
        ("s/k5.json", json.dumps({"prompt": "blur the background"}).encode()),
    ]
