"""The edit atlas library: layout, clusters and names; the stored layout, transform of new edits, removals."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from map_fixtures import add_vectors, clustered, unit, vector_index

from editsearch.atlas import build, build_map, layout, read_map, view_map
from editsearch.atlas import store as atlas_store
from editsearch.atlas.clusters import NOISE
from editsearch.atlas.store import MAP_STATE
from editsearch.core.errors import NoMapError, UsageError
from editsearch.index.errors import EditIndexError
from editsearch.index.instructions import save_instruction_vectors
from editsearch.index.store import EditIndex
from editsearch.search.vocabulary import EDIT_PHRASES

PHRASES = [EDIT_PHRASES[5], EDIT_PHRASES[12], EDIT_PHRASES[20]]  # invert, pencil sketch, flip: apart for the tiny model


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    from editsearch.encoder import load_model

    return load_model(str(tiny_model_dir))  # its name is its folder: the index can load it again


def _majority_agrees(atlas, family: dict[int, int]) -> float:
    """Purity: share of clustered edits whose family is their cluster's majority family."""
    right = total = 0
    for c in set(atlas.cluster.tolist()) - {NOISE}:
        fams = [family[int(i)] for i in atlas.ids[atlas.cluster == c]]
        right += max(fams.count(f) for f in set(fams))
        total += len(fams)
    return right / total


def _labels_by_majority(atlas, family: dict[int, int]) -> dict[int, str]:
    """majority family -> the label of its (largest) cluster."""
    out = {}
    for info in sorted(atlas.clusters(), key=lambda c: c.size):
        fams = [family[int(i)] for i in atlas.ids[atlas.cluster == info.cluster]]
        out[max(set(fams), key=fams.count)] = info.label
    return out


@pytest.fixture
def vocab_index(tmp_path, model):
    """60 edits without instructions around the text vectors of three vocabulary phrases."""
    vectors, family = clustered(model.embed_texts(PHRASES).numpy(), 20, seed=1)
    directory = vector_index(tmp_path / "idx", model, vectors)
    return directory, vectors, family


def test_map_clusters_families_and_names_them_from_the_vocabulary(vocab_index):
    directory, _, family = vocab_index
    with EditIndex.open(directory, writable=True) as index:
        atlas = build_map(index)
    fam = dict(zip(atlas.ids.tolist(), family.tolist(), strict=True))
    assert len(atlas) == 60 and atlas.refitted
    assert len(atlas.clusters()) == 3 and (atlas.cluster == NOISE).mean() <= 0.2
    assert _majority_agrees(atlas, fam) == 1.0
    assert _labels_by_majority(atlas, fam) == dict(enumerate(PHRASES))
    table = atlas.to_arrow()
    assert table.column_names == ["id", "before", "after", "x", "y", "cluster", "label"]
    assert table.num_rows == 60 and np.isfinite(atlas.x).all() and np.isfinite(atlas.y).all()
    assert {c.source for c in atlas.clusters()} == {"vocabulary"} and {c.purity for c in atlas.clusters()} == {None}
    assert atlas.agreement["instructed"] == 0 and atlas.agreement["purity"] is None
    assert atlas.agreement_line() == "no instructions on the mapped edits: the clusters cannot be checked against them"


def test_clusters_are_named_by_the_index_instructions_where_edits_carry_them(tmp_path, model):
    texts = ["paint the sky purple", "add a tiny red boat", "remove every tree"]
    vectors, family = clustered(model.embed_texts(texts).numpy(), 20, seed=2)
    directory = vector_index(tmp_path / "idx", model, vectors, [texts[f] for f in family])
    with EditIndex.open(directory, writable=True) as index:
        atlas = build_map(index)
    fam = dict(zip(atlas.ids.tolist(), family.tolist(), strict=True))
    assert _labels_by_majority(atlas, fam) == dict(enumerate(texts))


def apart(centres: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n unit vectors orthogonal to the centres and to each other: texts the text tower finds unlike anything."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(np.concatenate([centres, rng.normal(size=(n, centres.shape[1]))]).T)
    return q.T[len(centres) :].astype(np.float32)


def members_of(atlas, edits: list[int]) -> list[int]:
    """The clusters these edits are in (noise left out)."""
    row = {int(i): k for k, i in enumerate(atlas.ids)}
    return [int(atlas.cluster[row[e]]) for e in edits if atlas.cluster[row[e]] != NOISE]


def test_a_cluster_is_named_by_the_instruction_most_of_its_edits_carry(tmp_path, model):
    """Not by the text nearest the cluster's mean: its edits sit around one instruction's vector, most carry another."""
    texts = ["paint the sky purple", "add a tiny red boat", "remove every tree"]
    centres = model.embed_texts(texts).numpy()
    vectors, family = clustered(centres, 20, seed=2)
    carried = [texts[f] if f != 1 or i % 5 == 0 else "make it gloomy" for i, f in enumerate(family)]
    text_vectors = dict(zip(texts, centres, strict=True)) | {"make it gloomy": apart(centres, 1, seed=0)[0]}
    directory = vector_index(tmp_path / "idx", model, vectors, carried, text_vectors)
    with EditIndex.open(directory, writable=True) as index:
        atlas = build_map(index)
    fam = dict(zip(atlas.ids.tolist(), family.tolist(), strict=True))
    assert _labels_by_majority(atlas, fam) == {0: texts[0], 1: "make it gloomy", 2: texts[2]}
    gloomy = next(c for c in atlas.clusters() if c.label == "make it gloomy")
    ids = atlas.ids[atlas.cluster == gloomy.cluster].tolist()
    share = sum(carried[i - 1] == "make it gloomy" for i in ids) / len(ids)  # edit ids start at 1
    assert (gloomy.source, gloomy.mixed, gloomy.instructed) == ("instructions", False, len(ids))
    assert gloomy.purity == pytest.approx(share) and 0.75 <= share < 1


def test_a_cluster_formed_from_two_different_edits_is_named_mixed(tmp_path, model):
    vectors, family = clustered(model.embed_texts(PHRASES).numpy(), 20, seed=1)
    mirror, flip, sepia = "mirror the image", "flip it upside down", "make it sepia"
    spoken = {0: [mirror, flip], 1: [sepia, sepia, sepia, "Make it  sepia.", "give it a sepia tone"], 2: [None]}
    carried = [spoken[f][i % len(spoken[f])] for i, f in enumerate(family.tolist())]
    a = apart(np.zeros((0, 16)), 4, seed=3)  # unlike each other; the sepia paraphrase alike sepia (cosine 0.96)
    text_vectors = {
        mirror: a[0],
        flip: a[1],
        sepia: a[2],
        "Make it  sepia.": a[3],
        "give it a sepia tone": a[2] + 0.3 * a[3],
    }
    directory = vector_index(tmp_path / "idx", model, vectors, carried, text_vectors)
    with EditIndex.open(directory, writable=True) as index:
        atlas = build_map(index)
    fam = dict(zip(atlas.ids.tolist(), family.tolist(), strict=True))
    assert _majority_agrees(atlas, fam) == 1.0 and len(atlas.clusters()) == 3
    info = {fam[int(atlas.ids[atlas.cluster == c.cluster][0])]: c for c in atlas.clusters()}
    in_mix = [carried[int(i) - 1] for i in atlas.ids[atlas.cluster == info[0].cluster]]
    top = max(in_mix.count(mirror), in_mix.count(flip))
    assert info[0].mixed and info[0].label.startswith("mixed: ") and info[0].source == "instructions"
    assert set(info[0].label.removeprefix("mixed: ").split(" / ")) == {mirror, flip}  # two groups: no "+N more"
    assert info[0].purity == pytest.approx(top / len(in_mix)) and info[0].purity < 0.55
    # spellings of one instruction and a paraphrase the text tower finds alike are one group
    assert (info[1].label, info[1].mixed, info[1].purity, info[1].source) == (sepia, False, 1.0, "instructions")
    assert (info[2].label, info[2].source, info[2].purity, info[2].instructed) == (PHRASES[2], "vocabulary", None, 0)
    n0, n1 = len(in_mix), int((atlas.cluster == info[1].cluster).sum())
    assert atlas.agreement == {
        "instructed": 40,
        "clustered": n0 + n1,
        "purity": round((top + n1) / (n0 + n1), 4),
        "kept_together": 1.0,
        "clusters": 2,
        "mixed": 1,
    }
    line = atlas.agreement_line()
    assert line.startswith(f"clusters agree with the instructions: purity {(top + n1) / (n0 + n1):.2f};")
    assert "1 of 2 clusters mixed" in line and "over 40 edits with instructions" in line


def test_the_agreement_figures_on_a_constructed_case():
    from editsearch.atlas.agreement import agreement_line, alike_groups, measure
    from editsearch.atlas.labels import from_instructions

    e = np.eye(4, dtype=np.float32)
    vectors = {"a": e[0], "A.": e[0], "b": e[1], "c": e[2], "d": e[3]}
    clusters = {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: NOISE, 9: 1, 10: 0}
    carried = {1: "a", 2: "a", 3: "A.", 4: "b", 5: "b", 6: "b", 7: "c", 8: "a", 9: "d"}  # edit 10 carries none
    rng = np.random.default_rng(0)
    groups = {
        c: alike_groups([carried[i] for i in (1, 2, 3, 4, 5, 6, 7, 9) if clusters[i] == c], vectors, rng)
        for c in (0, 1)
    }
    assert groups[0].groups == [(3, "a"), (1, "b")] and groups[1].groups == [(2, "b"), (1, "c"), (1, "d")]
    names = {c: from_instructions(g) for c, g in groups.items()}
    assert (names[0].label, names[0].purity, names[0].mixed, names[0].instructed) == ("a", 0.75, False, 4)
    assert (names[1].label, names[1].purity, names[1].mixed) == ("mixed: b / c (+1 more)", 0.5, True)
    agreement = measure(clusters, carried, groups, mixed=1)
    # purity (3 + 2) / (4 + 4); kept together: "a" 3 of 3 clustered in cluster 0, "b" 2 of 3 in cluster 1,
    # "c" and "d" carried once (nothing to keep together), edit 8 noise
    assert agreement == {
        "instructed": 9,
        "clustered": 8,
        "purity": 0.625,
        "kept_together": round(5 / 6, 4),
        "clusters": 2,
        "mixed": 1,
    }
    assert agreement_line(agreement, " (per cluster in the table)") == (
        "clusters agree with the instructions: purity 0.62 (per cluster in the table); an instruction's edits in "
        "one cluster: 0.83; 1 of 2 clusters mixed; over 9 edits with instructions"
    )
    noise_only = measure({1: NOISE}, {1: "a"}, {}, mixed=0)
    assert "all noise" in agreement_line(noise_only) and "no instructions" in agreement_line(measure({1: 0}, {}, {}, 0))


def test_a_large_cluster_is_grouped_on_a_sample_of_its_edits(monkeypatch):
    from editsearch.atlas import agreement

    monkeypatch.setattr(agreement, "NAME_SAMPLE", 10)
    e = np.eye(2, dtype=np.float32)
    groups = agreement.alike_groups(["a"] * 24 + ["b"] * 6, {"a": e[0], "b": e[1]}, np.random.default_rng(0))
    assert groups.instructed == 30 and sum(n for n, _ in groups.groups) == 10 and groups.groups[0][1] == "a"


def test_stored_layout_is_reused_and_a_new_edit_is_placed_by_transform(vocab_index, model, monkeypatch):
    directory, vectors, family = vocab_index
    with EditIndex.open(directory, writable=True) as index:
        first = build_map(index)
        assert index.catalog.get_setting(MAP_STATE) and not list(directory.glob("atlas*"))  # no model file

        def no_refit(*_a, **_k):
            raise AssertionError("the layout was fitted again")

        monkeypatch.setattr(layout, "fit_layout", no_refit)
        again = build_map(index)
        assert not again.refitted and again.placed == 0
        assert np.array_equal(again.x, first.x) and np.array_equal(again.cluster, first.cluster)
        # a new edit close to family 2: placed by the fitted model, in family 2's cluster
        new_id = add_vectors(index, unit(vectors[family == 2][:1] + 0.01), "new")[0]
        grown = build_map(index)
    assert not grown.refitted and grown.placed == 1 and len(grown) == 61
    row = int(np.flatnonzero(grown.ids == new_id)[0])
    old = np.isin(grown.ids, first.ids)
    assert np.array_equal(grown.x[old], first.x)  # the others stay where they were
    assert grown.labels[row] == PHRASES[2]


class Planted:
    """A pickle that, once loaded, creates its marker file: what a crafted index folder could hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("version", [build.STATE_VERSION, 1])
def test_a_pickle_planted_in_the_index_is_never_loaded(vocab_index, tmp_path, monkeypatch, version):
    directory, vectors, family = vocab_index
    marker = tmp_path / "unpickled"
    planted = pickle.dumps(Planted(marker))
    with EditIndex.open(directory, writable=True) as index:
        build_map(index)
        (directory / layout.LEGACY_MODEL_FILE).write_bytes(planted)
        state = json.loads(index.catalog.get_setting(MAP_STATE))  # the file's checksum, as a state once held it
        state.update(sha256=hashlib.sha256(planted).hexdigest(), version=version)
        index.catalog.set_setting(MAP_STATE, json.dumps(state))
        add_vectors(index, unit(vectors[family == 1][:1] + 0.01), "new")
        if version == build.STATE_VERSION:  # a state this code reads: the new edit is placed, no refit
            monkeypatch.setattr(layout, "fit_layout", lambda *_a, **_k: pytest.fail("the layout was fitted again"))
        grown = build_map(index)
    assert not marker.exists() and not (directory / layout.LEGACY_MODEL_FILE).exists()
    assert len(grown) == 61 and grown.refitted == (version != build.STATE_VERSION)
    assert grown.placed == (1 if version == build.STATE_VERSION else 0)
    assert any("another version" in note for note in grown.notes) == (version != build.STATE_VERSION)


def test_a_removed_edit_is_gone_from_the_map(vocab_index):
    directory, _, _ = vocab_index
    with EditIndex.open(directory, writable=True) as index:
        first = build_map(index)
        gone = [int(first.ids[0]), int(first.ids[30])]
        assert index.remove(gone) == 2
        after = build_map(index)
        stored = {p[0] for p in atlas_store.map_points(index)}
        assert index.catalog.db.execute("SELECT count(*) FROM map_points").fetchone()[0] == 58
    assert not after.refitted and len(after) == 58
    assert not set(gone) & set(after.ids.tolist()) and not set(gone) & stored


def test_a_reader_sees_the_stored_map_and_a_reader_cannot_build_one(vocab_index):
    directory, _, _ = vocab_index
    with EditIndex.open(directory) as reader:
        assert len(read_map(reader)) == 0 and "no map stored" in read_map(reader).notes[0]
        with pytest.raises(NoMapError, match="editsearch map"):
            view_map(reader)
        with pytest.raises(EditIndexError, match="writable"):
            build_map(reader)
    with EditIndex.open(directory, writable=True) as index:
        built = build_map(index)
    with EditIndex.open(directory) as reader:
        stored = read_map(reader)
        shown = view_map(reader)
    assert np.array_equal(stored.ids, built.ids) and stored.names == built.names
    assert np.array_equal(shown.x, stored.x) and np.array_equal(shown.cluster, stored.cluster)
    payload = stored.to_dict()
    assert len(payload["points"]["id"]) == 60 and {"cluster", "label", "size", "x", "y"} <= set(payload["clusters"][0])


def test_names_follow_the_live_edits_when_the_naming_ones_are_removed(tmp_path, model, monkeypatch):
    texts = ["paint the sky purple", "add a tiny red boat", "remove every tree"]
    vectors, family = clustered(model.embed_texts(texts).numpy(), 20, seed=2)
    carried = [texts[f] if f != 1 or i % 4 else "make it gloomy" for i, f in enumerate(family)]
    directory = vector_index(tmp_path / "idx", model, vectors, carried)
    with EditIndex.open(directory, writable=True) as index:
        first = build_map(index)
        assert texts[1] in first.names.values()  # named by the instruction 15 of its 20 edits carry
        namers = [int(i) for i, text in zip(first.ids, carried, strict=True) if text == texts[1]]
        assert index.remove(namers) == 15
        monkeypatch.setattr(layout, "fit_layout", lambda *_a, **_k: pytest.fail("the layout was fitted again"))
        after = build_map(index)
        again = build_map(index)  # nothing changed since: the names stay as they are
    assert not after.refitted and len(after) == 45 and len(after.clusters()) == 3
    assert texts[1] not in after.names.values() and texts[1] not in after.labels
    assert "make it gloomy" in after.labels and again.names == after.names
    with EditIndex.open(directory, writable=True) as index:  # the manifest now says otherwise: named anew
        kept = [int(i) for i in after.ids if carried[int(i) - 1] == "make it gloomy"]
        index.catalog.update_texts([(i, "make it stormy", {}, "vectors") for i in kept])
        save_instruction_vectors(
            index.catalog,
            index.model_info["fingerprint"],
            ["make it stormy"],
            model.embed_texts(["make it stormy"]).numpy(),
        )
        renamed = build_map(index)
    assert not renamed.refitted and "make it stormy" in renamed.labels and "make it gloomy" not in renamed.labels


def test_a_map_named_by_the_older_rules_is_named_again_without_a_refit(tmp_path, model, monkeypatch):
    texts = ["paint the sky purple", "add a tiny red boat", "remove every tree"]
    vectors, family = clustered(model.embed_texts(texts).numpy(), 20, seed=2)
    directory = vector_index(tmp_path / "idx", model, vectors, [texts[f] for f in family])
    with EditIndex.open(directory, writable=True) as index:
        first = build_map(index)
        state = json.loads(index.catalog.get_setting(MAP_STATE))  # as the older rules stored it: names alone
        pairs = np.array([(p[0], p[4]) for p in atlas_store.map_points(index)], dtype=np.int64)
        state.update(members=hashlib.sha256(pairs.tobytes()).hexdigest())
        del state["labels"], state["agreement"]
        index.catalog.set_setting(MAP_STATE, json.dumps(state))
        assert read_map(index).agreement is None and "not known" in read_map(index).agreement_line()
        monkeypatch.setattr(layout, "fit_layout", lambda *_a, **_k: pytest.fail("the layout was fitted again"))
        again = build_map(index)
    assert not again.refitted and again.agreement == first.agreement and again.agreement["purity"] == 1.0
    assert again.label_info == first.label_info and {c.source for c in again.clusters()} == {"instructions"}


def test_growth_beyond_the_fit_means_a_refit(tmp_path, model):
    vectors, _ = clustered(model.embed_texts(PHRASES).numpy(), 10, seed=3)
    directory = vector_index(tmp_path / "idx", model, vectors)
    with EditIndex.open(directory, writable=True) as index:
        assert build_map(index).refitted
        more, _ = clustered(model.embed_texts(PHRASES).numpy(), 30, seed=4)
        add_vectors(index, more, "more")
        grown = build_map(index)
    assert grown.refitted and len(grown) == 120 and "grown" in grown.notes[0]


@pytest.mark.parametrize("n", [1, 2, 10])
def test_too_few_edits_get_a_trivial_layout_all_noise(tmp_path, model, n):
    vectors, _ = clustered(model.embed_texts(PHRASES).numpy(), 4, seed=5)
    directory = vector_index(tmp_path / "idx", model, vectors[:n])
    with EditIndex.open(directory, writable=True) as index:
        atlas = build_map(index)
        assert index.catalog.get_setting(MAP_STATE) is None
    assert len(atlas) == n and (atlas.cluster == NOISE).all() and atlas.labels == [None] * n
    assert np.isfinite(atlas.x).all() and "at least" in atlas.notes[0]
    assert atlas.summary()["clusters"] == 0 and atlas.summary()["noise_share"] == 1.0
    with EditIndex.open(directory) as reader:  # a reader lays them out alike, nothing being stored
        shown = view_map(reader)
    assert np.array_equal(shown.ids, atlas.ids) and np.allclose(shown.x, atlas.x) and shown.notes == atlas.notes


def test_an_empty_index_gives_an_empty_map(tmp_path):
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        atlas = build_map(index)
    assert len(atlas) == 0 and "no edits" in atlas.notes[0]
    assert atlas.to_arrow().num_rows == 0 and atlas.summary()["noise_share"] == 0.0


def test_fit_sample_is_checked(vocab_index):
    with EditIndex.open(vocab_index[0], writable=True) as index, pytest.raises(UsageError, match="fit_sample"):
        build_map(index, fit_sample=3)


def test_a_fit_on_a_sample_places_the_rest_by_transform(vocab_index, monkeypatch):
    directory, _, family = vocab_index
    monkeypatch.setattr(build, "CHUNK", 7)  # the rest is read and placed in several chunks
    with EditIndex.open(directory, writable=True) as index:
        atlas = build_map(index, fit_sample=30)
        fitted = [p for p in atlas_store.map_points(index) if p[5]]
    fam = dict(zip(atlas.ids.tolist(), family.tolist(), strict=True))
    assert len(fitted) == 30 and len(atlas) == 60 and atlas.placed == 30
    assert _majority_agrees(atlas, fam) == 1.0


def test_the_picture_sizes_and_fades_points_by_their_number():
    from editsearch.atlas.render import point_style

    sizes, alphas = zip(*(point_style(n) for n in (10, 1_000, 10_000, 100_000)), strict=True)
    assert list(sizes) == sorted(sizes, reverse=True) and sizes[-1] < 2 < 20 < sizes[0]
    assert list(alphas) == sorted(alphas, reverse=True) and alphas[-1] <= 0.35 and alphas[0] >= 0.85
