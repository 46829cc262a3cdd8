"""Hugging Face parquet and arrow tables and webdataset tars end to end: indexed, queried, audited, embedded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from dataset_fixtures import (
    LAYOUTS,
    images,
    magicbrush,
    png,
    webdataset_members,
    write_parquet,
    write_saved_dataset,
    write_tar,
)

from editsearch.cli.main import cli
from editsearch.data.records import ImageRef
from editsearch.index.store import EditIndex

ROWS = 4


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    """One parquet file per public layout, in a folder of its own each."""
    root = tmp_path_factory.mktemp("hf")
    for name, make in LAYOUTS.items():
        write_parquet(make(ROWS), root / name / "data" / "train-00000-of-00001.parquet")
    return root


@pytest.fixture(scope="module")
def hf_index(tables, tiny_model_dir, tmp_path_factory) -> Path:
    """Every layout indexed into one index, by build-index on the folders."""
    idx = tmp_path_factory.mktemp("hf-idx") / "idx"
    sources = [tables / name for name in LAYOUTS]
    result = run("build-index", *sources, "--index", idx, "--model", tiny_model_dir, "--workers", 0, "-q", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (ROWS * len(LAYOUTS), 0)
    return idx


def edits_of(idx: Path, source: str) -> list[dict]:
    with EditIndex.open(idx) as index:
        rows = index.catalog.db.execute("SELECT id FROM edits WHERE source = ? ORDER BY id", [source]).fetchall()
        return [dict(index.get_edit(r[0])) for r in rows]


@pytest.mark.parametrize(
    ("source", "instruction", "metadata"),
    [
        ("magicbrush", "make it snowy", {"img_id": "1000", "turn_index": 1}),
        ("hq-edit", "turn the sky red", {"input": "a photo 0", "inverse_instruction": "undo 0"}),
        ("ultraedit", "add a hat", {"idx": 0, "source_caption": "source 0"}),
        ("omniedit", "blur the background", {"omni_edit_id": "omni-0", "task": "style", "o_score": 0.0}),
        ("anyedit", "mirror it", {"image_id": "any-0", "edit_type": "color_alter", "input": "in 0"}),
        ("ip2p", "invert the colors", {"original_prompt": "photo 0", "edited_prompt": "edited 0"}),
    ],
)
def test_each_public_layout_is_detected_indexed_and_kept(hf_index, source, instruction, metadata):
    edits = edits_of(hf_index, source)
    assert len(edits) == ROWS * (2 if source == "ip2p" else 1)  # both IP2P layouts are `ip2p`
    first = edits[0]
    assert first["instruction"] == instruction
    assert metadata.items() <= first["metadata"].items()
    before = ImageRef.from_locator(first["before"])
    assert before.row == 0 and before.load().size == (16, 16)


def test_masks_and_extra_images_are_kept_as_locators_not_indexed(hf_index):
    mask = edits_of(hf_index, "magicbrush")[1]["metadata"]["mask_img"]
    assert mask.startswith("parquet-cell:1:mask_img:")
    assert ImageRef.from_locator(mask).content_hash()  # readable again later
    anyedit = edits_of(hf_index, "anyedit")
    assert anyedit[0]["metadata"]["visual_input"].startswith("parquet-cell:0:visual_input:")
    assert anyedit[1]["metadata"]["visual_input"] is None
    ultra = edits_of(hf_index, "ultraedit")[0]["metadata"]
    assert "mask_image" not in ultra and "edit_object" not in ultra  # all-null columns of a free-form split


def test_metadata_columns_are_searchable_with_where_and_facets(hf_index):
    where = "source = 'magicbrush' AND json_extract(metadata, '$.turn_index') = 2"
    result = run("query", "--index", hf_index, "--text", "make it snowy", "--where", where, "--k", "20", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["results"]
    assert len(hits) == ROWS // 2 and {h["metadata"]["turn_index"] for h in hits} == {2}
    with EditIndex.open(hf_index) as index:
        facets = index.facets()["metadata"]
    assert {"turn_index", "img_id", "inverse_instruction", "task"} <= set(facets)


def test_audit_runs_on_the_built_index_and_its_clean_manifest_indexes_again(hf_index, tmp_path, tiny_model_dir):
    import pyarrow.parquet as pq

    clean = tmp_path / "clean.jsonl"
    result = run("audit", "--index", hf_index, "--out", tmp_path / "audit", "--write-clean", clean, "--json", "-q")
    assert result.exit_code in (0, 3), result.output
    assert pq.read_table(tmp_path / "audit" / "audit.parquet").num_rows == ROWS * len(LAYOUTS)
    listed = [json.loads(line) for line in clean.read_text().splitlines()]
    assert listed and all(line["before"].startswith("parquet-cell:") for line in listed)
    again = run(
        "build-index", clean, "--index", tmp_path / "idx", "--model", tiny_model_dir, "--workers", 0, "-q", "--json"
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["added"] == len(listed)  # the locators are read back from the tables


def test_a_rerun_with_nothing_changed_skips_every_row(hf_index, tables):
    result = run("build-index", *[tables / n for n in LAYOUTS], "--index", hf_index, "-q", "--json")
    report = json.loads(result.stdout)
    assert (report["skipped"], report["embedded"], report["added"]) == (ROWS * len(LAYOUTS), 0, 0)


def test_a_saved_dataset_folder_is_read_from_its_arrow_files(tmp_path, tiny_model_dir):
    folder = write_saved_dataset(magicbrush(5), tmp_path / "saved")
    idx = tmp_path / "idx"
    result = run("build-index", folder, "--index", idx, "--model", tiny_model_dir, "--workers", 0, "-q", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 5
    edits = edits_of(idx, "magicbrush")
    assert edits[3]["before"].endswith(":source_img:" + str((folder / "data-00000-of-00001.arrow").resolve()))
    assert ImageRef.from_locator(edits[3]["after"]).load().size == (16, 16)


def custom_table(n: int, tmp_path: Path) -> pa.Table:
    """Own column names: plain binary before, a path (relative to the file) after, a caption and an id."""
    (tmp_path / "after").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (tmp_path / "after" / f"{i}.png").write_bytes(png(40 + i))
    return pa.table(
        {
            "uid": [f"u{i}" for i in range(n)],
            "pic_a": pa.array([png(i) for i in range(n)], pa.binary()),
            "pic_b": [f"after/{i}.png" for i in range(n)],
            "caption": ["add a hat"] * n,
            "score": [0.5] * n,
        }
    )


def test_columns_name_a_table_of_any_layout(tmp_path, tiny_model_dir):
    file = write_parquet(custom_table(3, tmp_path), tmp_path / "mine.parquet")
    idx = tmp_path / "idx"
    unknown = run("build-index", file, "--index", idx, "--model", tiny_model_dir)
    assert unknown.exit_code == 1
    assert "no known layout (image columns: pic_a)" in unknown.output and "uid (string)" in unknown.output
    assert "--columns" in unknown.output
    columns = "before=pic_a,after=pic_b,instruction=caption,id=uid"
    built = run("build-index", file, "--index", idx, "--model", tiny_model_dir, "--columns", columns, "-q", "--json")
    assert built.exit_code == 0, built.output
    edits = edits_of(idx, "parquet")
    assert [e["metadata"] for e in edits] == [{"id": f"u{i}", "score": 0.5} for i in range(3)]
    assert edits[2]["after"] == str((tmp_path / "after" / "2.png").resolve())  # a path cell is its own file
    assert edits[0]["instruction"] == "add a hat"
    wrong = run("build-index", file, "--index", idx, "--columns", "before=pic_a,after=nope")
    assert wrong.exit_code == 1
    assert "no column after=nope; its columns are uid (string), pic_a (binary), pic_b (string)" in wrong.output
    bad = run("build-index", file, "--index", idx, "--columns", "before=pic_a,later=pic_b")
    assert bad.exit_code == 2 and "--columns takes before=C,after=C" in bad.output


def test_a_table_with_no_image_columns_says_so(tmp_path):
    file = write_parquet(pa.table({"a": [1, 2], "b": ["x", "y"]}), tmp_path / "plain.parquet")
    result = run("build-index", file, "--index", tmp_path / "idx")
    assert result.exit_code == 1
    assert "no image columns; its columns are a (int64), b (string)" in result.output
    inspect = run("data", "inspect", file)
    assert inspect.exit_code == 1 and "no image columns; its columns are a (int64), b (string)" in inspect.output


def test_webdataset_tars_index_what_they_can_and_report_each_bad_sample(tmp_path, tiny_model_dir):
    tar = write_tar(tmp_path / "shards" / "edits-000.tar", webdataset_members())
    idx = tmp_path / "idx"
    pattern = str(tmp_path / "shards" / "*.tar")
    result = run("build-index", pattern, "--index", idx, "--model", tiny_model_dir, "--workers", 0, "-q", "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (3, 3)
    reasons = {e["item"]: e["reason"] for e in report["errors"]}
    assert reasons[f"{tar}#s/k2"].startswith("no after image(s) (s/k2.after/tgt/output/target.EXT)")
    assert "the instruction is not UTF-8 text" in reasons[f"tar-member:s%2Fk4.txt:{tar}"]
    corrupt = next(item for item in reasons if "k3.target.png" in item)
    assert "k3.source.png" in corrupt and "tar-member:" in corrupt  # the pair, by its two members
    edits = edits_of(idx, "webdataset")
    assert [e["instruction"] for e in edits] == ["make it snowy", "turn the sky red", "blur the background"]
    assert edits[0]["metadata"] == {"key": "s/k0", "quality": 7}
    assert edits[2]["metadata"]["mask"] == f"tar-member:s%2Fk5.mask.png:{tar}"
    for edit in edits:  # a later reader (thumbnails, audit, serve) gets every image again
        assert ImageRef.from_locator(edit["before"]).load().size == (16, 16)
    again = json.loads(run("build-index", pattern, "--index", idx, "-q", "--json").stdout)
    assert (again["skipped"], again["embedded"], again["failed"]) == (3, 0, 3)
    audit = run("audit", "--index", idx, "--out", tmp_path / "audit", "-q")
    assert audit.exit_code in (0, 3), audit.output


def test_a_compressed_tar_is_refused_with_why(tmp_path):
    import gzip

    tar = write_tar(tmp_path / "a.tar", webdataset_members()[:3])
    packed = tmp_path / "a.tar.gz"
    packed.write_bytes(gzip.compress(tar.read_bytes()))
    result = run("build-index", packed, "--index", tmp_path / "idx", "-q", "--json")
    assert result.exit_code == 3
    assert "a gzip-compressed tar: decompress it first" in json.loads(result.stdout)["errors"][0]["reason"]


def test_inspect_shows_layout_rows_columns_and_samples(tables):
    result = run("data", "inspect", tables / "magicbrush", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["format"], info["layout"], info["card"], info["rows"]) == (
        "parquet",
        "magicbrush",
        "osunlp/MagicBrush",
        4,
    )
    uses = {c["name"]: c["use"] for c in info["columns"]}
    assert uses["source_img"] == "before" and uses["target_img"] == "after" and uses["instruction"] == "instruction"
    assert uses["turn_index"] == "metadata 'turn_index'" and "image locator" in uses["mask_img"]
    assert len(info["samples"]) == 3 and info["samples"][2]["metadata"]["turn_index"] == 1
    text = run("data", "inspect", tables / "hq-edit")
    assert text.exit_code == 0 and "hq-edit (card: UCSC-VLAA/HQ-Edit)" in text.output
    assert "metadata 'inverse_instruction'" in text.output


def test_inspect_a_tar_lists_member_kinds(tmp_path):
    tar = write_tar(tmp_path / "a.tar", webdataset_members())
    info = json.loads(run("data", "inspect", tar, "--json").stdout)
    assert info["format"] == "webdataset" and info["rows"] == 6
    uses = {c["name"]: c["use"] for c in info["columns"]}
    assert uses["KEY.src.png"] == "before" and uses["KEY.target.png"] == "after" and uses["KEY.txt"] == "instruction"
    assert info["samples"][0]["instruction"] == "make it snowy"


def test_embed_reads_tables_and_tars_and_feeds_an_index(tables, tiny_model_dir, tmp_path):
    shard_dir = tmp_path / "shards"
    write_tar(shard_dir / "a.tar", webdataset_members())
    shutil.copy(tables / "magicbrush" / "data" / "train-00000-of-00001.parquet", shard_dir / "mb.parquet")
    custom = write_parquet(custom_table(2, tmp_path / "mine"), tmp_path / "mine" / "mine.parquet")
    emb = tmp_path / "emb"
    first = run("embed", shard_dir / "a.tar", shard_dir / "mb.parquet", "--out", emb, "--model", tiny_model_dir,
                "--workers", 0, "-q", "--json")  # fmt: skip
    assert first.exit_code == 3, first.output
    assert (json.loads(first.stdout)["pairs"], json.loads(first.stdout)["failed"]) == (3 + ROWS, 3)
    named = run("embed", custom, "--out", emb, "--model", tiny_model_dir, "--columns", "before=pic_a,after=pic_b",
                "-q", "--json")  # fmt: skip
    assert named.exit_code == 0 and json.loads(named.stdout)["pairs"] == 2
    idx = tmp_path / "idx"
    synced = run("build-index", "--from-embeddings", emb, "--index", idx, "-q", "--json")
    assert json.loads(synced.stdout)["added"] == 3 + ROWS + 2
    again = json.loads(run("embed", shard_dir / "a.tar", "--out", emb, "--model", tiny_model_dir, "--json").stdout)
    assert again["skipped_shards"] == 1 and again["embedded_shards"] == 0


def test_a_table_with_a_bad_cell_fails_that_row_only(tmp_path, tiny_model_dir):
    table = magicbrush(4)
    broken = images([1, 2, 3, 4]).to_pylist()
    broken[2] = {"bytes": b"not an image", "path": None}
    table = table.set_column(
        table.schema.get_field_index("target_img"),
        "target_img",
        pa.array(broken, table.schema.field("target_img").type),
    )
    file = write_parquet(table, tmp_path / "mb.parquet")
    result = run(
        "build-index", file, "--index", tmp_path / "idx", "--model", tiny_model_dir, "--workers", 0, "-q", "--json"
    )
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["added"] == 3 and f"parquet-cell:2:target_img:{file}" in report["errors"][0]["item"]


def test_training_reads_a_table_through_columns_too(tmp_path):
    from editsearch.training.pairs import PairSampler

    file = write_parquet(custom_table(3, tmp_path), tmp_path / "mine.parquet")
    sampler = PairSampler([file], size=8, columns="before=pic_a,after=pic_b,instruction=caption")
    assert len(sampler.pairs) == 3 and sampler.pair(1).instruction == "add a hat"
    shown = run("train", "editclip", "--help").output
    assert "--columns ROLE=COLUMN,..." in shown
