"""`where` filters run under an SQLite authorizer, a length limit and an optional time budget."""

from __future__ import annotations

import time

import pytest

from editsearch.index.catalog import Catalog
from editsearch.index.errors import FilterError


@pytest.fixture
def catalog(tmp_path):
    c = Catalog.open(tmp_path / "catalog.db")
    c.bind_model("m", "fp", 4, False, {})
    rows = [
        {"key": f"k{i}", "origin": "/src", "source": "manifest", "before": f"b{i}.png", "after": f"a{i}.png",
         "instruction": text, "metadata": {"family": f"f{i % 2}"}}
        for i, text in enumerate(["make it watercolor", "mirror it", "add contrast", "mirror again"])
    ]  # fmt: skip
    c.save_edits(rows, [bytes(16)] * len(rows), "fp")
    yield c
    c.close()


def test_ordinary_filters_still_work(catalog):
    assert catalog.filtered_vector_ids("fp", "id > 2", None) == [3, 4]
    assert catalog.filtered_vector_ids("fp", "json_extract(metadata, '$.family') = 'f1'", None) == [2, 4]
    assert catalog.filtered_vector_ids("fp", "id IN (SELECT edit_id FROM vectors)", "mirror") == [2, 4]
    assert catalog.filtered_vector_ids("fp", None, "contrast") == [3]
    assert catalog.filtered_vector_ids("fp", "upper(instruction) LIKE '%MIRROR%'", None) == [2, 4]


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("id IN (SELECT rowid FROM settings)", "prohibited"),
        ("(SELECT count(*) FROM models) > 0", "not authorized"),
        ("(SELECT count(*) FROM errors) >= 0", "not authorized"),
        ("id IN (SELECT rowid FROM edits_fts WHERE edits_fts MATCH 'mirror')", "prohibited"),
        ("id IN (SELECT rowid FROM sqlite_master)", "prohibited"),
        ("id IN (SELECT cid FROM pragma_table_info('edits'))", "not authorized"),
        ("length(randomblob(100)) > 0", "randomblob"),
        ("length(zeroblob(100)) > 0", "zeroblob"),
        ("load_extension('x') IS NULL", "load_extension"),
        ("id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)", "not authorized"),
        ("1; DELETE FROM edits", "syntax error"),
    ],
)
def test_filters_read_only_the_edits_and_vectors(catalog, where, reason):
    with pytest.raises(FilterError, match=reason):
        catalog.filtered_vector_ids("fp", where, None)
    assert catalog.db.execute("SELECT count(*) FROM edits").fetchone()[0] == 4
    assert catalog.get_setting("model") == "fp"  # the authorizer is gone again: the catalog reads as before


def test_values_are_capped_in_length(catalog):
    assert catalog.filtered_vector_ids("fp", "length(printf('%.*c', 100000000, 'x')) > 0", None) == []


def test_the_time_budget_stops_a_slow_filter(catalog):
    slow = "(SELECT count(*) FROM " + ", ".join(f"edits t{i}" for i in range(16)) + ") > 0"
    catalog.filter_budget_s = 0.3
    started = time.perf_counter()
    with pytest.raises(FilterError, match="longer than 0.3 s"):
        catalog.filtered_vector_ids("fp", slow, None)
    assert time.perf_counter() - started < 2
    assert catalog.filtered_vector_ids("fp", "id = 1", None) == [1]


def test_metadata_facets_are_bound_values_not_sql(catalog):
    assert catalog.filtered_vector_ids("fp", None, None, {"family": "f1"}) == [2, 4]
    assert catalog.filtered_vector_ids("fp", "id > 2", None, {"family": "f1"}) == [4]
    assert catalog.filtered_vector_ids("fp", None, None, {"family": "f1' OR '1'='1"}) == []
    for key in ("family') OR 1=1 --", "a.b", "", "1x"):
        with pytest.raises(FilterError, match="plain name"):
            catalog.filtered_vector_ids("fp", None, None, {key: "f1"})
        with pytest.raises(FilterError, match="plain name"):
            catalog.check_filter(None, None, {key: "f1"})


def test_a_numeric_facet_matches_however_the_number_was_written(tmp_path):
    c = Catalog.open(tmp_path / "catalog.db")
    c.bind_model("m", "fp", 4, False, {})
    values = [2, 2.0, "2", 3.5, True]
    rows = [
        {"key": f"k{i}", "origin": "/src", "source": "manifest", "before": f"b{i}.png", "after": f"a{i}.png",
         "instruction": "x", "metadata": {"turn": v}}
        for i, v in enumerate(values)
    ]  # fmt: skip
    c.save_edits(rows, [bytes(16)] * len(rows), "fp")
    assert c.filtered_vector_ids("fp", None, None, {"turn": "2"}) == [1, 2, 3]
    assert c.filtered_vector_ids("fp", None, None, {"turn": "3.5"}) == [4]
    assert c.filtered_vector_ids("fp", None, None, {"turn": "1"}) == [5]  # JSON true reads as 1, as facets show it
    c.close()
