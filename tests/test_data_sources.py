"""Source readers on small fixtures: manifests, pair folders, parquet and arrow tables, webdataset tars."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from editsearch.data import EditPair, ItemError, count_source, iter_source
from editsearch.media.images import ImageLoadError


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


def test_tar_member_and_cell_locators_round_trip(tmp_path):
    from editsearch.data.records import ImageRef
    from editsearch.media.locators import locator_name, parse_locator

    member = ImageRef("/d/shard 1.tar", member="a:b/k0.before.png")
    assert member.locator == "tar-member:a%3Ab%2Fk0.before.png:/d/shard 1.tar"
    assert ImageRef.from_locator(member.locator) == member
    assert parse_locator(member.locator) == ("/d/shard 1.tar", None, None)  # the backing file, for `gone`
    assert locator_name(member.locator) == "shard 1.tar a:b/k0.before.png"
    odd = ImageRef("tar-member:x.png")  # a file that is named like a locator stays a file
    assert odd.locator == "./tar-member:x.png" and ImageRef.from_locator(odd.locator).member is None
    with pytest.raises(ValueError, match="malformed tar-member locator"):
        ImageRef.from_locator("tar-member:only")


def test_columns_option_is_parsed_strictly():
    from editsearch.core.errors import UsageError
    from editsearch.data.layouts import parse_columns

    assert parse_columns(" before = a ,after=b,id=c") == {"before": "a", "after": "b", "id": "c"}
    for bad in ("before=a", "before=a,after=b,colour=c", "before=a,after=", "before=a,before=b,after=c", "a,b"):
        with pytest.raises(UsageError):
            parse_columns(bad)


def test_a_scan_reads_no_image_bytes_where_statistics_say_every_cell_has_some(tmp_path, monkeypatch):
    from editsearch.data.tables import TableFile

    file = tmp_path / "train.parquet"
    _write_ip2p(file, n=6, row_group_size=2, broken=(3,))
    reads: list[tuple[int, tuple[str, ...]]] = []
    original = TableFile.read
    monkeypatch.setattr(
        TableFile, "read", lambda self, g, cols: reads.append((g, tuple(cols))) or original(self, g, cols)
    )
    items = list(iter_source(file))
    images = {(g, c) for g, cols in reads for c in cols if c.endswith("_image")}
    assert images == {(1, "edited_image")}  # only the row group holding the missing cell, only that column
    assert [e.item for e in _split(items)[1]] == [f"{file.resolve()}#3"]


def test_an_arrow_file_in_the_ipc_file_format_is_read_too(tmp_path):
    import pyarrow as pa

    table = pa.table(
        {
            "input_image": pa.array([_png_bytes((i, 0, 0)) for i in range(3)], pa.binary()),
            "edit_prompt": ["a", "b", "c"],
            "edited_image": pa.array([_png_bytes((0, i, 0)) for i in range(3)], pa.binary()),
        }
    )
    with pa.OSFile(str(tmp_path / "t.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=2)
    pairs, errors = _split(list(iter_source(tmp_path / "t.arrow")))
    assert not errors and [p.instruction for p in pairs] == ["a", "b", "c"] and pairs[0].source == "ip2p"
    assert pairs[2].after.load().getpixel((0, 0)) == (0, 2, 0)


def test_tar_keys_must_be_consecutive_and_hidden_members_are_skipped(tmp_path):
    from dataset_fixtures import png, write_tar

    tar = write_tar(
        tmp_path / "a.tar",
        [("k0.before.png", png(1)), ("._k0.after.png", b"junk"), ("k1.before.png", png(2)), ("k1.after.png", png(3)),
         ("k0.after.png", png(4))],
    )  # fmt: skip
    pairs, errors = _split(list(iter_source(tar)))
    assert [p.metadata["key"] for p in pairs] == ["k1"]
    assert [(e.item, e.reason.split(" (")[0]) for e in errors] == [
        (f"{tar}#k0", "no after image(s)"),
        (f"{tar}#k0", "its members are not consecutive in the tar"),
    ]
    assert count_source(tar) == 2


def test_a_tar_member_is_read_again_after_the_tar_changes(tmp_path):
    from dataset_fixtures import png, write_tar

    tar = write_tar(tmp_path / "a.tar", [("k.before.png", png(1)), ("k.after.png", png(2))])
    (pair,) = list(iter_source(tar))
    first = pair.after.content_hash()
    write_tar(tar, [("pad.txt", b"x" * 5000), ("k.before.png", png(1)), ("k.after.png", png(3))])
    assert pair.after.content_hash() != first  # the member moved and changed: the table is scanned again
    assert pair.after.load().size == (16, 16)


def test_a_manifest_may_list_cell_and_member_locators(tmp_path):
    from dataset_fixtures import png, write_tar

    tar = write_tar(tmp_path / "a.tar", [("k.before.png", png(1)), ("k.after.png", png(2))])
    _write_ip2p(tmp_path / "t.parquet", n=2, row_group_size=1)
    lines = [
        {"before": f"tar-member:k.before.png:{tar.name}", "after": f"tar-member:k.after.png:{tar}", "instruction": "x"},
        {"before": "parquet-cell:1:original_image:t.parquet", "after": "parquet-cell:1:edited_image:t.parquet"},
        {"before": "parquet-cell:x:original_image:t.parquet", "after": "parquet-cell:1:edited_image:t.parquet"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    pairs, errors = _split(list(iter_source(manifest)))
    assert pairs[0].before.member == "k.before.png" and pairs[0].before.path == str(tar.resolve())
    assert pairs[1].after.load().getpixel((0, 0)) == (0, 1, 0)
    assert len(errors) == 1 and "malformed parquet-cell locator" in errors[0].reason


def test_a_hub_cache_snapshot_of_symlinks_to_blobs_is_read(tmp_path):
    from dataset_fixtures import hq_edit, magicbrush, write_parquet, write_saved_dataset

    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / "rev" / "data"
    write_parquet(magicbrush(3), blobs / "p.parquet").rename(blobs / "4b1d")  # blobs are named by hash
    write_saved_dataset(hq_edit(2), tmp_path / "saved")
    (tmp_path / "saved" / "data-00000-of-00001.arrow").rename(blobs / "9c2e")
    snapshot.mkdir(parents=True)
    (snapshot / "train-00000-of-00001.parquet").symlink_to(blobs / "4b1d")
    (tmp_path / "one.arrow").symlink_to(blobs / "9c2e")
    pairs, errors = _split(list(iter_source(snapshot.parent)))
    assert not errors and len(pairs) == 3 and pairs[2].after.load().size == (16, 16)
    pairs, errors = _split(list(iter_source(tmp_path / "one.arrow")))
    assert not errors and [p.source for p in pairs] == ["hq-edit", "hq-edit"] and pairs[1].before.load()
