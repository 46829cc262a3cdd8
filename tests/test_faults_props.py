"""Property: random bytes, JSON values and unicode lines are each their own error; every good line is processed."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from index_fixtures import make_collection

from editsearch.cli.main import cli
from editsearch.data.manifest import iter_manifest
from editsearch.data.records import EditPair, ItemError
from editsearch.index.store import EditIndex
from editsearch.search.api import EditSearch
from editsearch.search.specs import QUERY_KEYS, read_queries

FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8).filter(lambda k: k not in QUERY_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
junk = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    st.text(max_size=100).map(lambda t: t.encode("utf-8")),
).map(lambda b: b.replace(b"\n", b" "))
# a file of lines: True marks a good line, bytes a junk one (blank junk lines are skipped by every reader)
layouts = st.lists(st.one_of(st.just(True), junk), min_size=1, max_size=12)


def write_lines(path, lines, good: list[bytes]) -> list[int]:
    """Write the layout (good lines cycled from `good`); the line numbers of the junk that is not blank."""
    out, bad, n = io.BytesIO(), [], 0
    for lineno, line in enumerate(lines, start=1):
        if line is True:
            out.write(good[n % len(good)] + b"\n")
            n += 1
        else:
            out.write(line + b"\n")
            if line.strip():
                bad.append(lineno)
    path.write_bytes(out.getvalue())
    return bad


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    manifest = make_collection(root, 3)
    return root, manifest.read_bytes().splitlines()


@FAST
@given(layout=layouts)
def test_the_manifest_reader_turns_every_junk_line_into_its_error(collection, layout):
    root, good = collection
    path = root / "fuzz.jsonl"
    bad = write_lines(path, layout, good)
    items = list(iter_manifest(path))
    errors = [i for i in items if isinstance(i, ItemError)]
    assert [e.item for e in errors] == [f"{path}:{n}" for n in bad]
    assert sum(isinstance(i, EditPair) for i in items) == layout.count(True)


@pytest.fixture(scope="module")
def searcher(collection, tiny_model):
    root, _ = collection
    with EditIndex.open(root / "idx", create=True) as index:
        index.sync([root / "manifest.jsonl"], tiny_model, batch_size=8, workers=0)
    with EditSearch(EditIndex.open(root / "idx"), tiny_model) as opened:
        yield opened


@FAST
@given(layout=layouts)
def test_the_query_batch_reader_keeps_every_good_query(collection, searcher, layout):
    root, _ = collection
    path = root / "fuzz-queries.jsonl"
    bad = write_lines(path, layout, [b'{"edit_id": 1, "k": 2}', b'{"edit_id": 3}'])
    outcomes = searcher.run_batch(read_queries(path))
    kinds = [line for line in layout if line is True or line.strip()]
    assert len(outcomes) == len(kinds)
    for kind, outcome in zip(kinds, outcomes, strict=True):
        if kind is True:
            assert outcome.error is None and outcome.results
        else:
            assert outcome.error and not outcome.results
    assert sum(o.error is not None for o in outcomes) == len(bad)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=layouts)
def test_score_manifest_scores_every_good_line_and_reports_the_rest(collection, tiny_model_dir, layout):
    root, good = collection
    path = root / "fuzz-score.jsonl"
    bad = write_lines(path, layout, good)
    out = root / "fuzz-score.csv"
    result = CliRunner().invoke(
        cli, ["score", "--manifest", str(path), "--model", str(tiny_model_dir), "--out", str(out)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    rows = list(csv.DictReader(out.open(newline="")))
    assert result.exit_code == (3 if bad else 0)
    assert sorted(r["item"] for r in rows if r["error"]) == sorted(f"{path}:{n}" for n in bad)
    assert sum(not r["error"] and r["ec2t"] != "" for r in rows) == layout.count(True)
