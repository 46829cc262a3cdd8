"""Source readers on small fixtures: manifests, pair folders and IP2P-layout parquet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from editsearch.data import EditPair, ItemError, count_source, iter_source
from editsearch.images import ImageLoadError


def _png(path: Path, color: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), color).save(path)
    return path


def _png_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def _split(items: list) -> tuple[list[EditPair], list[ItemError]]:
    return [i for i in items if isinstance(i, EditPair)], [i for i in items if isinstance(i, ItemError)]


def test_jsonl_manifest_pairs_metadata_and_line_errors(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png", (255, 0, 0))
    _png(tmp_path / "img" / "b.png", (0, 255, 0))
    lines = [
        json.dumps(
            {"before": "img/a.png", "after": "img/b.png", "instruction": "make it green", "tags": ["x"], "score": 0.5}
        ),
        "{not json",
        json.dumps({"before": "img/a.png"}),
        json.dumps({"before": "img/a.png", "after": "img/missing.png"}),
        "",
        json.dumps([1, 2]),
        json.dumps({"before": "img/b.png", "after": "img/a.png"}),
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    pairs, errors = _split(list(iter_source(manifest)))
    assert [p.instruction for p in pairs] == ["make it green", None]
    first = pairs[0]
    assert first.source == "manifest"
    assert first.before.path == str((tmp_path / "img" / "a.png").resolve())
    assert Path(first.after.path).is_absolute()
    assert first.metadata == {"tags": ["x"], "score": 0.5}
    assert first.load()[1].getpixel((0, 0)) == (0, 255, 0)
    assert [e.item.rsplit(":", 1)[1] for e in errors] == ["2", "3", "4", "6"]
    assert "invalid JSON" in errors[0].reason and "not found" in errors[2].reason
    assert count_source(manifest) == 6


def test_require_instruction_makes_missing_instruction_an_error(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (1, 2, 3))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"before": "a.png", "after": "a.png", "instruction": "  "}) + "\n")
    (item,) = iter_source(manifest, require_instruction=True)
    assert isinstance(item, ItemError) and "instruction" in item.reason
    (item,) = iter_source(manifest)
    assert isinstance(item, EditPair) and item.instruction is None


def test_csv_manifest_keeps_strings(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (1, 2, 3))
    _png(tmp_path / "b.png", (4, 5, 6))
    manifest = tmp_path / "m.csv"
    manifest.write_text("before,after,instruction,score\na.png,b.png,brighten,7\na.png,,x,1\nb.png,a.png,,2\n")
    pairs, errors = _split(list(iter_source(manifest)))
    got = [(p.instruction, p.metadata) for p in pairs]
    assert got == [("brighten", {"score": "7"}), (None, {"score": "2"})]
    assert len(errors) == 1 and errors[0].item.endswith(":3")


def test_folder_conventions_instructions_and_lone_halves(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    _png(root / "cat_0.png", (0, 0, 0))
    _png(root / "cat_1.png", (9, 9, 9))
    (root / "cat.txt").write_text("make the cat brighter\n")
    _png(root / "dog_before.jpg", (0, 0, 0))
    _png(root / "dog_after.png", (1, 1, 1))
    _png(root / "lone_0.png", (0, 0, 0))
    _png(root / "set" / "before" / "sky.png", (0, 0, 0))
    _png(root / "set" / "after" / "sky.png", (0, 0, 255))
    _png(root / "set" / "after" / "sea.png", (0, 0, 255))
    (root / "instructions.jsonl").write_text(json.dumps({"name": "set/sky", "instruction": "bluer"}) + "\n")
    unused = json.dumps({"name": "dog", "instruction": "unused"})
    (root / "set" / "instructions.jsonl").write_text(unused + "\n")
    items = list(iter_source(root))
    pairs, errors = _split(items)
    assert [p.metadata["name"] for p in pairs] == ["cat", "dog", "set/sky"]
    assert [p.instruction for p in pairs] == ["make the cat brighter", None, "bluer"]
    assert all(p.source == "folder" for p in pairs)
    assert pairs[1].before.path.endswith("dog_before.jpg") and pairs[1].after.path.endswith("dog_after.png")
    assert sorted(Path(e.item).name for e in errors) == ["lone_0.png", "sea.png"]
    assert all("lone half" in e.reason for e in errors)
    assert [str(i) for i in iter_source(root)] == [str(i) for i in items]  # deterministic
    assert count_source(root) == 5  # what iter_source yields for image files: 3 pairs, 2 lone halves


def _write_ip2p(path: Path, n: int, row_group_size: int, broken: tuple[int, ...] = ()) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table(
        {
            "original_prompt": [f"photo {i}" for i in range(n)],
            "edit_prompt": [f"edit {i}" if i % 4 != 1 else "" for i in range(n)],
            "edited_prompt": [f"edited {i}" for i in range(n)],
            "original_image": pa.array([{"bytes": _png_bytes((i, 0, 0)), "path": f"{i}.png"} for i in range(n)], image),
            "edited_image": pa.array(
                [None if i in broken else {"bytes": _png_bytes((0, i, 0)), "path": None} for i in range(n)], image
            ),
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)


def test_ip2p_parquet_rows_cells_and_errors(tmp_path: Path) -> None:
    file = tmp_path / "train-00000.parquet"
    _write_ip2p(file, n=7, row_group_size=3, broken=(5,))
    items = list(iter_source(file))
    assert len(items) == 7 and count_source(file) == 7
    pairs, errors = _split(items)
    assert [e.item for e in errors] == [f"{file.resolve()}#5"]
    by_row = {p.before.row: p for p in pairs}
    assert by_row[4].instruction == "edit 4" and by_row[1].instruction is None
    assert by_row[4].metadata == {"original_prompt": "photo 4", "edited_prompt": "edited 4"}
    assert by_row[6].before.column == "original_image" and by_row[6].after.column == "edited_image"
    for row in (6, 0, 4, 2):  # out of order, across row groups
        before, after = by_row[row].load()
        assert before.getpixel((0, 0)) == (row, 0, 0) and after.getpixel((0, 0)) == (0, row, 0)
    assert by_row[3].before.content_hash() != by_row[4].before.content_hash()
    assert {type(i) for i in iter_source(file, require_instruction=True) if "#1" in str(i)} == {ItemError}


def test_ip2p_folder_of_shards_and_bad_cells(tmp_path: Path) -> None:
    from editsearch.data.parquet_cells import read_cell_image

    shards = tmp_path / "data"
    shards.mkdir()
    _write_ip2p(shards / "a.parquet", n=3, row_group_size=2)
    _write_ip2p(shards / "b.parquet", n=2, row_group_size=1)
    (shards / "c.parquet").write_bytes(b"not parquet at all")
    items = list(iter_source(tmp_path))
    pairs, errors = _split(items)
    assert len(pairs) == 5 and len(errors) == 1 and "cannot read parquet" in errors[0].reason
    assert count_source(tmp_path) == len(items)
    assert [Path(p.before.path).name for p in pairs] == ["a.parquet"] * 3 + ["b.parquet"] * 2
    with pytest.raises(ImageLoadError):
        read_cell_image(str(shards / "a.parquet"), 99, "original_image")
    with pytest.raises(ImageLoadError):
        read_cell_image(str(shards / "a.parquet"), 0, "no_such_column")


def test_unknown_or_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        iter_source(tmp_path / "nope.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError):
        iter_source(tmp_path / "x.txt")
    assert count_source(tmp_path / "nope.jsonl") is None
