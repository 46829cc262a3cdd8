"""`editsearch rebuild --model`: an index re-embedded with another model, or with new weights of its own."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import tiny_config
from index_fixtures import make_collection

from editsearch.cli.main import cli
from editsearch.core.errors import EXIT_ERROR, EXIT_PARTIAL, ModelMismatchError
from editsearch.encoder.embedder import check_fingerprint
from editsearch.encoder.identity import ModelRow
from editsearch.index.store import EditIndex


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def models(tiny_model, tiny_model_dir, tmp_path_factory):
    """Model A (the suite's tiny model) and model B (the same size, another seed), each saved in a folder."""
    from editsearch.encoder.registry import random_model

    other = random_model(tiny_config(name="tiny-b"), seed=1)
    folder = other.save_pretrained(tmp_path_factory.mktemp("tiny-b"))
    return SimpleNamespace(
        a=tiny_model_dir, a_fp=tiny_model.fingerprint, b=folder, b_fp=other.fingerprint, b_model=other
    )


@pytest.fixture
def built(tmp_path, models):
    """An index of 6 pairs built with model A, and its manifest."""
    data = make_collection(tmp_path / "data", 6)
    idx = tmp_path / "idx"
    result = run("build-index", data, "--index", idx, "--model", models.a, "--workers", "0", "-q")
    assert result.exit_code == 0, result.output
    return idx, data


def rebuild(idx: Path, model: Path, *more: object):
    return run("rebuild", "--index", idx, "--model", model, "--workers", "0", "-q", "--json", *more)


def vector_counts(idx: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Stored pair vectors and instruction vectors by model fingerprint."""
    with EditIndex.open(idx) as index:
        conn = index.catalog.conn
        pairs = dict(conn.execute("SELECT model, count(*) FROM vectors GROUP BY model").fetchall())
        texts = dict(conn.execute("SELECT model, count(*) FROM instruction_vectors GROUP BY model").fetchall())
    return pairs, texts


def top_of_pair(idx: Path, data: Path, n: int) -> dict:
    """The best result of an exemplar query with the files of the collection's pair `n`, by the index's model."""
    images = data.parent / "images"
    result = run("query", "--index", idx, "--before", images / f"p0_{n}_before.png",
                 "--after", images / f"p0_{n}_after.png", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"][0]


def test_rebuild_with_another_model_re_embeds_every_edit(built, models):
    idx, data = built
    own = rebuild(idx, models.a)
    assert own.exit_code == 0, own.output
    assert json.loads(own.stdout)["reembed"]["switched"] is False
    assert vector_counts(idx) == ({models.a_fp: 6}, {models.a_fp: 5})

    result = rebuild(idx, models.b)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["reembed"]
    assert (report["reembedded"], report["failed"], report["instructions"]) == (6, 0, 5)
    assert (report["previous_fingerprint"], report["fingerprint"]) == (models.a_fp, models.b_fp)
    assert vector_counts(idx) == ({models.b_fp: 6}, {models.b_fp: 5})
    with EditIndex.open(idx) as index:
        assert index.model_info["fingerprint"] == models.b_fp
    top = top_of_pair(idx, data, 2)  # embedded by B now, and found as itself
    assert top["id"] == 3 and top["score"] == pytest.approx(1.0, abs=1e-4)
    assert run("verify", "--index", idx).exit_code == 0

    refused = run("query", "--index", idx, "--text", "invert the colors", "--model", models.a)
    assert refused.exit_code == EXIT_ERROR
    assert "not comparable" in refused.stderr and f"editsearch rebuild --index {idx} --model" in refused.stderr


@pytest.mark.parametrize("page", [None, 2], ids=["one-page", "pages-of-2"])
def test_an_edit_whose_image_is_gone_is_reported_and_left_out(built, models, page, monkeypatch):
    import editsearch.index.reembed as reembed

    if page is not None:  # a million-edit index is planned and embedded a page at a time
        monkeypatch.setattr(reembed, "PAGE", page)
    idx, data = built
    (data.parent / "images" / "p0_2_before.png").unlink()
    result = rebuild(idx, models.b)
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert f"failed: edit #3 from {data.resolve()}: " in result.stderr and "p0_2_before.png" in result.stderr
    report = json.loads(result.stdout)["reembed"]
    assert (report["reembedded"], report["failed"], report["errors"][0]["origin"]) == (5, 1, str(data.resolve()))
    with EditIndex.open(idx) as index:
        assert index.model_info["fingerprint"] == models.b_fp
        assert index.catalog.get_edit(3)["deleted_reason"] == "unreadable"
        assert (index.stats()["edits"], index.stats()["vectors"]) == (5, 5)
    assert run("verify", "--index", idx).exit_code == 0


def test_a_rebuild_stopped_before_the_switch_leaves_the_old_model_and_resumes(built, models, monkeypatch):
    from editsearch.encoder.model import EditCLIP

    idx, data = built
    forward, batches = EditCLIP.embed_pair_tensors, []

    def dies_on_the_second_batch(self, pixels):
        batches.append(len(pixels))
        if len(batches) == 2:
            raise RuntimeError("killed")
        return forward(self, pixels)

    monkeypatch.setattr(EditCLIP, "embed_pair_tensors", dies_on_the_second_batch)
    stopped = rebuild(idx, models.b, "--batch-size", "2")
    assert stopped.exit_code == EXIT_ERROR and "run the same command again to resume" in stopped.stderr
    monkeypatch.undo()
    with EditIndex.open(idx) as index:
        assert index.model_info["fingerprint"] == models.a_fp
    assert vector_counts(idx)[0] == {models.a_fp: 6, models.b_fp: 2}
    top = top_of_pair(idx, data, 2)  # still answered by A
    assert top["id"] == 3 and top["score"] == pytest.approx(1.0, abs=1e-4)
    assert run("verify", "--index", idx).exit_code == 0

    resumed = rebuild(idx, models.b)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["reembed"]["reembedded"] == 4
    assert vector_counts(idx)[0] == {models.b_fp: 6}


def test_an_index_of_earlier_weights_of_its_model_says_how_to_rebuild(tmp_path, tiny_model, models):
    folder = tiny_model.save_pretrained(tmp_path / "model")
    data = make_collection(tmp_path / "data", 4)
    idx = tmp_path / "idx"
    assert run("build-index", data, "--index", idx, "--model", folder, "--workers", "0", "-q").exit_code == 0
    models.b_model.save_pretrained(folder)  # the model ships new weights under the same name
    os.utime(folder / "model.safetensors", ns=(0, 0))  # unlike the build's, whatever the clock's resolution

    refused = run("query", "--index", idx, "--text", "invert the colors")
    assert refused.exit_code == EXIT_ERROR
    assert "earlier version of model" in refused.stderr
    assert f"editsearch rebuild --index {idx} --model {folder.resolve()}" in refused.stderr
    assert run("stats", "--index", idx).exit_code == 0
    assert run("show", "1", "--index", idx).exit_code == 0

    fixed = run("rebuild", "--index", idx, "--model", folder, "--workers", "0", "-q")
    assert fixed.exit_code == 0, fixed.output
    assert "re-embedded 4 edits" in fixed.stdout
    assert run("query", "--index", idx, "--text", "invert the colors").exit_code == 0


def test_the_refusal_names_the_rebuild_for_new_weights_and_for_another_model():
    row = ModelRow(name="editclip-mini", fingerprint="a" * 64, dim=16, trained=1, config="{}", created_at="")
    with pytest.raises(ModelMismatchError, match="earlier version") as same:
        check_fingerprint(row, "b" * 64, "editclip-mini", "my index")
    assert "`editsearch rebuild --index 'my index' --model editclip-mini`" in str(same.value)
    with pytest.raises(ModelMismatchError, match="not comparable") as other:
        check_fingerprint(row, "b" * 64, "other-model")
    assert "`editsearch rebuild --index DIR --model other-model`" in str(other.value)
    check_fingerprint(row, "a" * 64, "anything")


def test_a_server_refuses_to_answer_once_its_index_is_re_embedded_in_place(built, models):
    from editsearch.serve.engine import Engine

    idx, _ = built
    engine = Engine(idx, models.a, readers=1)
    with engine.reader() as reader:
        assert reader.search_text("make it brighter", k=2)  # answers with its model
    assert rebuild(idx, models.b).exit_code == 0
    with pytest.raises(ModelMismatchError), engine.reader():
        pass  # its model's vectors are gone: refused, not answered with the other model's
