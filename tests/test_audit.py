"""editsearch audit: each check catches its planted problem, the edge cases, and the command end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

import editsearch
from editsearch.audit.run import run_audit
from editsearch.audit.table import SUMMARY_KEY
from editsearch.cli.main import cli
from editsearch.core.errors import UsageError
from editsearch.data.records import ImageRef
from editsearch.data.synthetic.generator import synth_pairs
from editsearch.index.store import EditIndex
from editsearch.pairs.signatures import SignatureTable, pair_signatures
from editsearch.pairs.store import signatures as stored_signatures


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _jpeg(img: Image.Image, scale: float) -> Image.Image:
    img = img.resize((int(img.width * scale),) * 2, Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


VISIBLE = ["brighter", "darker", "grayscale", "invert", "sepia", "frame", "flip_vertical", "cartoon"]


def visible_pairs(n: int, seed: int, size: int = 96) -> list[tuple[Image.Image, Image.Image, str]]:
    """n synthetic (before, after, instruction) of edits visible even at the tiny model's 32 px."""
    from editsearch.data.synthetic.families import FAMILIES

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        before = next(synth_pairs(1, seed * 1000 + i, size=size)).before
        fam = FAMILIES[VISIBLE[i % len(VISIBLE)]]
        after, params = fam.apply(before, rng)
        out.append((before, after, fam.instruction("train", params, rng)))
    return out


def write_planted(root: Path, n: int = 16, seed: int = 3) -> tuple[Path, dict[str, str]]:
    """Synthetic pairs plus a no-op (the before re-encoded) and a resized, re-encoded copy of pair 0."""
    images = root / "images"
    images.mkdir(parents=True)
    lines, planted = [], {}
    pairs = visible_pairs(n, seed)
    extra = [
        ("noop", pairs[1][0], _jpeg(pairs[1][0], 1.0).resize((96, 96)), "make it brighter"),
        ("dup", _jpeg(pairs[0][0], 0.75), _jpeg(pairs[0][1], 0.75), pairs[0][2]),
    ]
    rows = [(f"p{i}", *p) for i, p in enumerate(pairs)] + extra
    for name, before, after, instruction in rows:
        for half, img in (("before", before), ("after", after)):
            img.save(images / f"{name}_{half}.png")
        line = {"before": f"images/{name}_before.png", "after": f"images/{name}_after.png", "instruction": instruction}
        lines.append(line)
        planted[str(images / f"{name}_before.png")] = name
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return manifest, planted


@pytest.fixture
def planted_index(tmp_path, tiny_model):
    manifest, names = write_planted(tmp_path / "data")
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        report = index.sync([manifest], tiny_model, batch_size=8, workers=0)
        assert report.failed == 0
    return tmp_path / "idx", names


@pytest.fixture
def cli_index(tmp_path, tiny_model_dir):
    """The planted collection built by the command line with the tiny model saved to a folder."""
    manifest, names = write_planted(tmp_path / "data")
    built = run("build-index", manifest, "--index", tmp_path / "idx", "--model", tiny_model_dir, "-q")
    assert built.exit_code == 0, built.output
    return tmp_path / "idx", names


def test_build_stores_a_signature_per_pair(planted_index):
    idx, names = planted_index
    with EditIndex.open(idx) as index:
        ids = [r[0] for r in index.catalog.db.execute("SELECT id FROM edits")]
        stored = stored_signatures(index.catalog.conn, ids)
    assert set(stored) == set(ids) and SignatureTable.from_blobs(list(stored.values())).known.all()


def test_the_loader_workers_make_the_signatures_and_a_failing_one_fails_no_pair(tmp_path, tiny_model, monkeypatch):
    import os

    import editsearch.pairs.loading as loading

    manifest, names = write_planted(tmp_path / "data")
    made_by, original = tmp_path / "made_by", loading.pair_signatures

    def recorded(pixels):
        with open(made_by, "a") as f:
            f.write(f"{os.getpid()}\n")
        return original(pixels)

    monkeypatch.setattr(loading, "pair_signatures", recorded)
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        assert index.sync([manifest], tiny_model, batch_size=4, workers=1).failed == 0
        stored = stored_signatures(index.catalog.conn, [r[0] for r in index.catalog.db.execute("SELECT id FROM edits")])
    assert len(stored) == 18 and str(os.getpid()) not in made_by.read_text().split()

    monkeypatch.setattr(loading, "pair_signatures", lambda pixels: 1 / 0)
    with EditIndex.open(tmp_path / "idx2", create=True) as index:
        report = index.sync([manifest], tiny_model, batch_size=4, workers=1)
        assert (report.added, report.failed) == (18, 0)
        assert not stored_signatures(index.catalog.conn, list(range(1, 19)))
    table = editsearch.audit(tmp_path / "idx2", checks=["noop"])  # the audit makes them from the images
    assert [names[r["before"]] for r in table.to_pylist() if r["is_noop"]] == ["noop"]


def test_noop_and_duplicate_are_caught(planted_index):
    idx, names = planted_index
    table = editsearch.audit(idx, checks=["noop", "duplicate"])
    rows = {names[r["before"]]: r for r in table.to_pylist()}
    assert [n for n, r in rows.items() if r["is_noop"]] == ["noop"]
    assert [n for n, r in rows.items() if r["is_duplicate"]] == ["dup"]
    assert rows["dup"]["duplicate_of"] == rows["p0"]["id"]  # the larger original is the one kept
    assert rows["noop"]["noop_score"] == max(r["noop_score"] for r in rows.values())
    assert rows["p3"]["mismatch_score"] is None and rows["p3"]["is_mismatch"] is None  # not run
    summary = json.loads(table.schema.metadata[SUMMARY_KEY])
    assert summary["checks"]["duplicate"]["flagged"] == 1 and summary["duplicate_groups"] == 1


def test_an_exact_index_too_large_to_scan_is_searched_through_an_ivf(planted_index, monkeypatch):
    import editsearch.audit.run as run_module

    idx, names = planted_index
    exact = editsearch.audit(idx, checks=["duplicate"]).to_pylist()
    with EditIndex.open(idx) as index:
        assert index.caches.neighbour_index(100).kind == "flat" and index.caches.neighbour_index(4).kind == "ivf"
    monkeypatch.setattr(run_module, "EXACT_MAX", 4)
    approx = editsearch.audit(idx, checks=["duplicate"]).to_pylist()
    assert [names[r["before"]] for r in approx if r["is_duplicate"]] == ["dup"]
    assert [r["duplicate_of"] for r in approx] == [r["duplicate_of"] for r in exact]


def test_a_copy_outside_its_originals_nearest_pair_vectors_is_found_by_its_phashes(planted_index, monkeypatch):
    import editsearch.audit.run as run_module

    idx, names = planted_index
    blind = lambda vi, vectors, positions, where, k: np.full((len(vectors), k), -1)  # noqa: E731
    monkeypatch.setattr(run_module, "pair_neighbours", blind)  # as if the model put every pair alike
    rows = {names[r["before"]]: r for r in editsearch.audit(idx, checks=["duplicate"]).to_pylist()}
    assert [n for n, r in rows.items() if r["is_duplicate"]] == ["dup"]
    assert rows["dup"]["duplicate_of"] == rows["p0"]["id"]


@pytest.fixture(scope="module")
def collection_copies(tmp_path_factory):
    """Copies of 8 pairs (a JPEG before, a PNG after) and of a pair whose files are gone, measured at the tiny model's
    side."""
    from conftest import tiny_config

    from editsearch.audit.copies import make_copies
    from editsearch.encoder.preprocess import PairTransform

    folder = tmp_path_factory.mktemp("copies")
    cfg = tiny_config()
    refs = []
    for i, (before, after, _) in enumerate(visible_pairs(8, 3)):
        before.save(folder / f"{i}_before.jpg", quality=95)
        after.save(folder / f"{i}_after.png")
        refs.append((ImageRef(str(folder / f"{i}_before.jpg")), ImageRef(str(folder / f"{i}_after.png"))))
    refs.append((ImageRef(str(folder / "gone.png")), refs[0][1]))  # passed over
    transform = PairTransform(cfg.image_size, cfg.image_mean, cfg.image_std)
    measure = lambda: make_copies(refs, transform.pixels, cfg.image_size, np.random.default_rng(0))  # noqa: E731
    return measure(), measure()


def test_copies_of_the_collection_are_measured_as_its_own_pairs_are(collection_copies):
    from editsearch.audit.copies import COPIES_PER_PAIR

    copies, again = collection_copies
    assert len(copies.duplicate) == len(copies.noop) == 8 * COPIES_PER_PAIR  # the unreadable pair passed over
    assert copies.duplicate.min() >= 0 and copies.duplicate.max() > 2  # resized and re-encoded, at 32 px
    assert 0 < copies.noop.max() < 5  # a re-saved before changes a little, far less than a visible edit
    np.testing.assert_array_equal(copies.duplicate, again.duplicate)  # drawn from the generator given
    np.testing.assert_array_equal(copies.noop, again.noop)


def test_the_duplicate_threshold_is_no_stricter_than_where_copies_of_the_collection_land(collection_copies):
    from editsearch.audit.checks.base import COPIES
    from editsearch.audit.checks.duplicate import Duplicate
    from editsearch.audit.copies import Copies
    from editsearch.audit.state import AuditState, Edits

    copies = collection_copies[0]
    rng = np.random.default_rng(0)  # distinct pairs' nearest pairs far and spread, a tight cluster of exact copies
    scores = np.r_[-np.log2(1 + rng.uniform(20, 60, 40)), -np.log2(1 + rng.uniform(0.1, 0.5, 6))]
    strict = Duplicate().threshold(AuditState(edits=Edits()), scores)
    assert strict.value == pytest.approx(-np.log2(3)) and "ceiling" in strict.how  # flags D < 2 only
    measured = AuditState(edits=Edits())
    measured.extra[COPIES] = copies
    calibrated = Duplicate().threshold(measured, scores)
    assert calibrated.value == pytest.approx(-np.log2(1 + copies.duplicate.max()))  # as close as any copy: flagged
    assert "copies of the collection's own pairs lands" in calibrated.how
    measured.extra[COPIES] = Copies(np.full(10, 40.0), copies.noop)  # further than the check's floor: held at D 16
    assert Duplicate().threshold(measured, scores).value == pytest.approx(-np.log2(17))


def test_the_noop_threshold_is_no_stricter_than_where_re_saved_befores_land():
    from editsearch.audit.checks.base import COPIES
    from editsearch.audit.checks.noop import Noop
    from editsearch.audit.copies import Copies
    from editsearch.audit.state import AuditState, Edits

    rng = np.random.default_rng(0)  # edits that change 8-60 grey levels, no-ops at 0.2-0.5: the scores say < 1
    scores = np.r_[-np.log10(rng.uniform(8, 60, 40)), -np.log10(rng.uniform(0.2, 0.5, 4))]
    alone = Noop().threshold(AuditState(edits=Edits()), scores)
    measured = AuditState(edits=Edits())
    measured.extra[COPIES] = Copies(np.zeros(0), np.asarray([0.6, 1.1, 2.4, 1.8]))
    calibrated = Noop().threshold(measured, scores)
    assert calibrated.value == pytest.approx(-np.log10(2.4))  # a re-saved before's change is flagged
    assert alone.value is not None and calibrated.value < alone.value
    assert "re-saved copies of the collection's own befores" in calibrated.how
    assert not (np.r_[-np.log10(8.0)] > calibrated.value).any()  # a visible edit is not
    measured.extra[COPIES] = Copies(np.zeros(0), np.asarray([9.0]))  # past the check's bound: held at 5 levels
    assert Noop().threshold(measured, scores).value == pytest.approx(-np.log10(5))


def test_another_crop_or_another_edit_of_the_photo_is_no_duplicate():
    rng = np.random.default_rng(0)
    photo = Image.fromarray((np.add.outer(np.arange(160), np.arange(160)) % 256).astype(np.uint8)).convert("RGB")
    photo = Image.fromarray(np.asarray(photo) ^ rng.integers(0, 40, (160, 160, 3), dtype=np.uint8))

    def pix(b: Image.Image, a: Image.Image) -> np.ndarray:
        return np.concatenate([np.asarray(im.resize((64, 64))).transpose(2, 0, 1) for im in (b, a)])

    crop_a, crop_b = photo.crop((0, 0, 112, 112)), photo.crop((48, 48, 160, 160))
    darker = crop_a.point(lambda v: int(v * 0.6))
    brighter = crop_a.point(lambda v: min(255, int(v * 1.3)))
    pairs = [
        pix(crop_a, darker),
        pix(crop_b, crop_b.point(lambda v: int(v * 0.6))),
        pix(crop_a, brighter),
        pix(_jpeg(crop_a, 0.75), _jpeg(darker, 0.75)),  # a resized, re-encoded copy of the first pair
    ]
    sigs = SignatureTable.from_blobs(pair_signatures(np.stack(pairs)))
    from editsearch.audit.checks.duplicate import duplicate_distances

    dist = duplicate_distances(sigs, np.asarray([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, -1]]))
    assert dist[0, 0] > 16 and dist[0, 1] > 16  # another crop; another edit of the same crop
    assert dist[0, 2] < 4 and dist[3, 0] == dist[0, 2] and dist[3, 2] == np.inf  # the copy; no neighbour


def test_a_small_local_edit_is_no_duplicate_of_the_photo_left_as_it_was():
    from editsearch.audit.checks.base import COPIES
    from editsearch.audit.checks.duplicate import duplicate_distances, noop_line
    from editsearch.audit.copies import Copies
    from editsearch.audit.state import AuditState, Edits

    rng = np.random.default_rng(1)
    photo = Image.fromarray(rng.integers(60, 200, (8, 8, 3), dtype=np.uint8)).resize((112, 112), Image.BICUBIC)
    smile = photo.copy()
    smile.paste((250, 40, 40), (50, 70, 66, 80))  # a few pixels changed: thumbnails and hashes barely move
    resaved = _jpeg(photo, 1.0)  # the photo left as it was, saved again
    pairs = [
        np.concatenate([np.asarray(im).transpose(2, 0, 1) for im in p]) for p in ((photo, smile), (photo, resaved))
    ]
    sigs = SignatureTable.from_blobs(pair_signatures(np.stack(pairs)))
    neighbours = np.asarray([[1], [0]])
    assert duplicate_distances(sigs, neighbours)[0, 0] < 8  # by D alone, as close as copies of many collections land
    state = AuditState(edits=Edits())
    state.extra[COPIES] = Copies(np.zeros(0), np.asarray([0.8, 1.6, 2.2]))  # re-saved befores change up to 2.2
    assert noop_line(state) == 2.2 and sigs.change[1] <= 2.2 < sigs.change[0]
    assert np.isinf(duplicate_distances(sigs, neighbours, noop_line(state))).all()  # not the same edit
    assert noop_line(AuditState(edits=Edits())) == 1.0  # without copies: the noop check's surest level
    state.extra[COPIES] = Copies(np.zeros(0), np.asarray([30.0]))
    assert noop_line(state) == 5.0  # never past the level the noop check never flags


@pytest.fixture(scope="module")
def mini_index(tmp_path_factory):
    """A small collection indexed with the shipped model: two wrong instructions, two reversed directional
    edits and one reversed self-undoing edit (invert)."""
    from editsearch.data.synthetic.families import FAMILIES
    from editsearch.encoder import load_model

    root = tmp_path_factory.mktemp("mini")
    (root / "images").mkdir()
    rng = np.random.default_rng(5)
    families = ["brighter", "darker", "grayscale", "blur", "sepia", "frame", "snow", "invert", "watercolor", "cartoon"]
    lines, kinds = [], {}
    for i in range(30):
        family = families[i % len(families)]
        before = next(synth_pairs(1, 100 + i, size=112)).before
        after, params = FAMILIES[family].apply(before, rng)
        instruction = FAMILIES[family].instruction("train", params, rng)
        kind = {0: "reversed", 2: "reversed", 7: "undoes", 13: "mismatch", 24: "mismatch"}.get(i, "clean")
        if kind == "mismatch":
            instruction = "add falling snow" if family != "snow" else "make it black and white"
        if kind in ("reversed", "undoes"):
            before, after = after, before
        for half, img in (("before", before), ("after", after)):
            img.save(root / "images" / f"{i}_{half}.png")
        lines.append({"before": f"images/{i}_before.png", "after": f"images/{i}_after.png", "instruction": instruction})
        kinds[str(root / "images" / f"{i}_before.png")] = kind
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    model = load_model("editclip-mini")
    with EditIndex.open(root / "idx", create=True) as index:
        index.sync([root / "manifest.jsonl"], model, workers=0)
    with EditIndex.open(root / "idx") as index:
        table, _ = run_audit(index, model, ["mismatch", "reversed"])
    return table.to_pylist(), kinds


def test_mismatch_ranks_the_wrong_instructions_first(mini_index):
    rows, kinds = mini_index
    forwards = [r for r in rows if kinds[r["before"]] != "reversed"]  # a reversed pair misfits its text too
    worst = sorted(forwards, key=lambda r: -r["mismatch_score"])[:2]
    assert {kinds[r["before"]] for r in worst} == {"mismatch"}
    assert all(r["is_mismatch"] for r in worst)
    instructions = {r["instruction"] for r in rows}
    flagged = [r for r in rows if r["is_mismatch"] or r["is_reversed"]]
    assert all(r["suggested_instruction"] in instructions for r in flagged)
    assert not any(r["suggested_instruction"] for r in rows if r not in flagged)  # only where it is shown


def test_reversed_catches_directional_edits_not_self_undoing_ones(mini_index):
    rows, kinds = mini_index
    by_kind = {k: [r for r in rows if kinds[r["before"]] == k] for k in ("reversed", "undoes", "clean")}
    # the two reversed directional pairs score above every forward pair and the reversed self-undoing one ...
    lowest_reversed = min(r["reversed_score"] for r in by_kind["reversed"])
    others = [r["reversed_score"] for r in by_kind["clean"] + by_kind["undoes"]]
    assert lowest_reversed > max(others)
    # ... and the flags follow: a reversed pair is flagged, the self-undoing one is not, at most one clean pair is
    assert any(r["is_reversed"] for r in by_kind["reversed"])
    assert not any(r["is_reversed"] for r in by_kind["undoes"])
    assert sum(bool(r["is_reversed"]) for r in by_kind["clean"]) <= 1


def test_empty_and_single_edit_indexes(tmp_path, tiny_model):
    EditIndex.open(tmp_path / "empty", create=True).close()
    table = editsearch.audit(tmp_path / "empty")
    assert table.num_rows == 0
    assert "no live edits" in json.loads(table.schema.metadata[SUMMARY_KEY])["notes"][0]
    manifest, _ = write_planted(tmp_path / "one", n=2)
    manifest.write_text(manifest.read_text().splitlines()[0] + "\n")
    with EditIndex.open(tmp_path / "idx1", create=True) as index:
        index.sync([manifest], tiny_model, workers=0)
    table = editsearch.audit(tmp_path / "idx1", checks=["noop", "duplicate", "mismatch"])
    row = table.to_pylist()[0]
    assert row["duplicate_score"] is None and row["is_noop"] is False
    notes = json.loads(table.schema.metadata[SUMMARY_KEY])["notes"]
    assert any("single edit" in n for n in notes) and any("single distinct instruction" in n for n in notes)


def test_no_instructions_gives_null_mismatch_and_reversed_with_one_note(tmp_path, tiny_model):
    manifest, _ = write_planted(tmp_path / "data", n=6)
    manifest.write_text("".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "instruction"}) + "\n"
                                for line in manifest.read_text().splitlines()))  # fmt: skip
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.sync([manifest], tiny_model, workers=0)
    from editsearch.search.api import EditSearch

    with EditSearch.open(tmp_path / "idx", tiny_model) as search:
        table = editsearch.audit(search)
    rows = table.to_pylist()
    assert all(r["mismatch_score"] is None and r["reversed_score"] is None for r in rows)
    assert all(r["noop_score"] is not None for r in rows)
    notes = json.loads(table.schema.metadata[SUMMARY_KEY])["notes"]
    assert len([n for n in notes if "mismatch and reversed" in n]) == 1


def test_cli_end_to_end(cli_index, tmp_path):
    idx, names = cli_index
    out, clean = tmp_path / "out", tmp_path / "clean.jsonl"
    result = run("audit", "--index", idx, "--out", out, "--write-clean", clean, "--json", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert "UNTRAINED" in result.stderr
    assert json.loads((out / "summary.json").read_text())["checks"] == summary["checks"]
    table = pq.read_table(out / "audit.parquet")
    assert table.num_rows == 18 and {"noop_score", "is_duplicate", "duplicate_of", "suggested_instruction"} <= set(
        table.column_names
    )
    page = (out / "report.html").read_text()
    assert "data:image/jpeg;base64" in page and "duplicate of id" in page
    listed = [json.loads(line) for line in clean.read_text().splitlines()]
    flagged = sum(any(r[f"is_{c}"] for c in ("noop", "mismatch", "reversed", "duplicate")) for r in table.to_pylist())
    assert len(listed) == 18 - flagged == summary["clean_manifest"]["pairs"]
    assert all(Path(r["before"]).is_absolute() and "instruction" in r for r in listed)
    assert not any(names.get(r["before"]) in ("noop", "dup") for r in listed)
    forced = run("audit", "--index", idx, "--out", out, "--checks", "noop", "--threshold", "noop=-5", "--json", "-q")
    assert json.loads(forced.stdout)["checks"]["noop"]["flagged"] == 18


def test_cli_gone_images_exit_3_and_the_rest_is_audited(cli_index, tmp_path):
    idx, names = cli_index
    gone = next(p for p, n in names.items() if n == "p5")
    Path(gone).unlink()
    result = run("audit", "--index", idx, "--out", tmp_path / "out", "--checks", "noop,duplicate", "-q")
    assert result.exit_code == 3
    assert "failed: edit" in result.stderr and "p5_before.png" in result.stderr
    rows = pq.read_table(tmp_path / "out" / "audit.parquet").to_pylist()
    assert [names[r["before"]] for r in rows if r["error"]] == ["p5"]
    assert sum(r["is_noop"] is not None for r in rows) == 18  # the stored signature still scores it


def test_cli_bad_input_is_one_line(cli_index, tmp_path):
    idx, _ = cli_index
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, code in (
        (("--out", blocker), 2),
        (("--out", tmp_path / "o", "--checks", "nope"), 2),
        (("--out", tmp_path / "o", "--threshold", "noop"), 2),
        (("--out", tmp_path / "o", "--threshold", "bogus=1"), 2),
    ):
        result = run("audit", "--index", idx, *args, "-q")
        assert result.exit_code == code and result.stderr.startswith("Error:"), result.output
        assert "Traceback" not in result.output
    missing = run("audit", "--index", tmp_path / "nothing", "--out", tmp_path / "o")
    assert missing.exit_code == 1 and "no index" in missing.stderr


def test_a_collection_past_the_memory_available_is_refused_before_any_work(cli_index, tmp_path, monkeypatch):
    import psutil

    idx, _ = cli_index
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=100 << 20))
    result = run("audit", "--index", idx, "--out", tmp_path / "out", "--checks", "noop", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "an audit of 18 edits needs about 0.4 GiB of memory, and this machine has 0.1 GiB" in result.stderr
    assert not (tmp_path / "out" / "summary.json").exists()
    monkeypatch.undo()
    assert run("audit", "--index", idx, "--out", tmp_path / "out", "--checks", "noop", "-q").exit_code == 0


def test_missing_signatures_are_computed_from_the_images(planted_index):
    idx, names = planted_index
    with EditIndex.open(idx, writable=True) as index:
        index.catalog.db.execute("DELETE FROM pair_signatures")  # an index built before signatures existed
    table = editsearch.audit(idx, checks=["noop", "duplicate"])
    rows = {names[r["before"]]: r for r in table.to_pylist()}
    assert [n for n, r in rows.items() if r["is_noop"]] == ["noop"]
    assert [n for n, r in rows.items() if r["is_duplicate"]] == ["dup"]
    with EditIndex.open(idx) as index:
        assert not stored_signatures(index.catalog.conn, [r["id"] for r in rows.values()])  # a reader writes nothing


def test_outputs_inside_the_index_folder_are_refused_before_any_work(cli_index, tmp_path):
    idx, _ = cli_index
    catalog = (idx / "catalog.db").read_bytes()
    for args, what in (
        (("--out", tmp_path / "out", "--write-clean", idx / "catalog.db"), "--write-clean"),
        (("--out", idx), "--out"),
        (("--out", idx / "audit"), "--out"),
    ):
        result = run("audit", "--index", idx, *args, "-q")
        assert result.exit_code == 2 and result.stderr.startswith(f"Error: {what}"), result.output
        assert "index folder" in result.stderr
    assert (idx / "catalog.db").read_bytes() == catalog
    assert not (idx / "audit").exists() and not (tmp_path / "out").exists()


def test_planted_links_at_the_old_temp_names_are_never_followed(cli_index, tmp_path):
    from editsearch.data.gallery import write_gallery

    idx, _ = cli_index
    out, clean, victim = tmp_path / "out", tmp_path / "clean.jsonl", tmp_path / "victim.txt"
    victim.write_text("precious")
    out.mkdir()
    planted = [out / n for n in ("audit.parquet.tmp", "summary.json.tmp", "report.html.tmp", ".audit-write-test")]
    for link in [*planted, tmp_path / "clean.jsonl.tmp"]:
        link.symlink_to(victim)
    result = run("audit", "--index", idx, "--out", out, "--write-clean", clean, "-q")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    assert pq.read_table(out / "audit.parquet").num_rows == 18 and clean.read_text()
    gallery = tmp_path / "gallery.html"  # a link planted at the target itself is replaced, not written through
    gallery.symlink_to(victim)
    write_gallery(gallery, [("nothing", [])])
    assert victim.read_text() == "precious" and not gallery.is_symlink() and "nothing" in gallery.read_text()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_threshold_that_is_no_finite_number_is_refused_before_any_work(cli_index, tmp_path, value):
    idx, _ = cli_index
    result = run("audit", "--index", idx, "--out", tmp_path / "out", "--threshold", f"noop={value}", "-q")
    assert result.exit_code == 2 and result.stderr.startswith("Error:"), result.output
    assert "threshold of noop" in result.stderr and "finite" in result.stderr and value in result.stderr
    assert not (tmp_path / "out").exists()
    with EditIndex.open(idx) as index, pytest.raises(UsageError, match="noop"):
        run_audit(index, None, ["noop"], {"noop": float(value)})


class Killed(BaseException):
    """What a kill looks like to the code it stops: nothing catches it."""


def test_a_summary_not_written_with_its_table_is_refused(cli_index, tmp_path, monkeypatch):
    import editsearch.audit.files as files
    from editsearch.audit.folder import AuditFolderError, read_outputs

    idx, _ = cli_index
    out = tmp_path / "out"
    assert run("audit", "--index", idx, "--out", out, "--checks", "noop", "-q").exit_code == 0
    rows, summary = read_outputs(out)
    assert len(rows) == 18 and summary["checks"]["noop"]["flagged"] < 18
    written = files.write_atomic

    def killed_before_the_summary(target, data):
        if Path(target).name == "summary.json":
            raise Killed  # the audit is stopped between its table and its summary
        return written(target, data)

    monkeypatch.setattr(files, "write_atomic", killed_before_the_summary)
    with pytest.raises(Killed):
        run("audit", "--index", idx, "--out", out, "--checks", "noop", "--threshold", "noop=-5", "-q")
    assert sum(r["is_noop"] for r in pq.read_table(out / "audit.parquet").to_pylist()) == 18  # the new table
    with pytest.raises(AuditFolderError, match="incomplete"):
        read_outputs(out)


def test_a_damaged_audit_folder_is_refused_with_the_reason(cli_index, tmp_path):
    from editsearch.audit.folder import AuditFolderError, read_outputs

    idx, _ = cli_index
    out = tmp_path / "out"
    assert run("audit", "--index", idx, "--out", out, "--checks", "noop", "-q").exit_code == 0
    good = json.loads((out / "summary.json").read_text())
    table = pq.read_table(out / "audit.parquet")
    for text, reason in (
        ("[]", "a JSON list"),
        ("not json", "not JSON"),
        (json.dumps({**good, "edits": "18"}), "'edits'"),
        (json.dumps({**good, "checks": {"noop": {"scored": 18}}}), "noop"),
        (json.dumps({**good, "notes": [1]}), "notes"),
    ):
        (out / "summary.json").write_text(text)
        with pytest.raises(AuditFolderError, match=reason):
            read_outputs(out)
    (out / "summary.json").write_text(json.dumps(good))
    pq.write_table(table.drop_columns(["id"]), out / "audit.parquet")  # its metadata names this audit still
    with pytest.raises(AuditFolderError, match="column 'id' is missing"):
        read_outputs(out)
    (out / "audit.parquet").write_bytes(b"PAR1 not a table")
    with pytest.raises(AuditFolderError, match="no readable audit"):
        read_outputs(out)


SLOW_AUDIT = """
import sys, time
import editsearch.audit.pixels as pixels
from editsearch.audit.run import run_audit
from editsearch.index.store import EditIndex

read = pixels.PairPixels.__getitem__
pixels.PairPixels.__getitem__ = lambda self, i: (time.sleep(0.05), read(self, i))[1]  # a slow disk
with EditIndex.open(sys.argv[1]) as index:
    run_audit(index, None, ["noop"], workers=2)
"""


def _children(parent: int) -> list[tuple[int, str]]:
    """(pid, start time) of the live children of a process, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append((int(stat.parent.name), fields[19]))
    return found


def _alive(pid: int, start: str) -> bool:
    """Whether that process (not a later one given its pid) still runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


def test_a_killed_audit_leaves_no_decoding_worker(tmp_path, tiny_model):
    import os
    import signal
    import subprocess
    import sys
    import time

    from index_fixtures import make_collection

    from editsearch.audit.pixels import BATCH

    manifest = make_collection(tmp_path / "data", BATCH + 40)
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.sync([manifest], tiny_model, batch_size=32, workers=0)
        index.catalog.db.execute("DELETE FROM pair_signatures")  # so that the audit decodes every pair
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(editsearch.__file__).parents[1]), *sys.path])}
    audit = subprocess.Popen([sys.executable, "-c", SLOW_AUDIT, str(tmp_path / "idx")], env=env)
    workers: list[tuple[int, str]] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and audit.poll() is None:
            time.sleep(0.1)
            workers = _children(audit.pid)
        assert len(workers) == 2, "the audit started no decoding workers"
        time.sleep(1)  # the workers are decoding their first batches
        os.kill(audit.pid, signal.SIGKILL)
        audit.wait()
        deadline = time.monotonic() + 30
        while any(_alive(*w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid, start in workers if _alive(pid, start)], "workers outlived the killed audit"
    finally:
        for pid, start in workers:
            if _alive(pid, start):
                os.kill(pid, signal.SIGKILL)
        if audit.poll() is None:
            audit.kill()
