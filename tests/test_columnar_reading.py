"""How the columnar path reads a page's raw fields (``records/compile.py``) and
assembles its records (``records/columnar.py``), against the row semantics they
replace. Every input here is SYNTHETIC (written for the test, not captured):
blanks made of each space Python knows, dotted paths into nested JSON, empty
objects, fallbacks needed by some rows only, constants and per-row columns."""

from __future__ import annotations

from itertools import repeat
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.records.colrows import Const, as_records, count_of, distinct_apply
from cfs_spiders.records.compile import (
    PY_SPACE,
    Columns,
    PageFallback,
    blank_to_null,
    compile_column,
)
from cfs_spiders.records.mapping import _blank_to_none, compile_spec, get_path


def _expected_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def test_blank_to_null_knows_every_python_space():
    values = (
        ["", "x", " x ", "x\u3000", "\u00e9", "\u0084"]
        + list(PY_SPACE)
        + [c * 3 for c in PY_SPACE]
        + [c + "x" for c in PY_SPACE]
    )
    got = blank_to_null(pl.Series("v", values, dtype=pl.String)).to_list()
    assert got == [_expected_blank(v) for v in values]


def test_blank_to_null_leaves_a_column_without_blanks_as_it_is():
    s = pl.Series("v", ["A1", "B 2", None, "\u00e9t\u00e9"], dtype=pl.String)
    assert blank_to_null(s).to_list() == ["A1", "B 2", None, "\u00e9t\u00e9"]


SPACEY = st.text(
    alphabet=st.sampled_from(list(PY_SPACE[:8]) + list("a !~\u0085\u3000\u00e9")),
    max_size=4,
)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(st.none(), SPACEY), min_size=1, max_size=12))
def test_blank_to_null_matches_python_on_any_text(values):
    got = blank_to_null(pl.Series("v", values, dtype=pl.String)).to_list()
    assert got == [_expected_blank(v) for v in values]


ROWS = [  # synthetic rows: nested points, flat dotted keys, empties, absences
    {"id": "1", "pt": {"coordinates": [-122.4, 37.7]}, "wkt": "POINT (1 2)"},
    {"id": "2", "wkt": "POINT (3 4)"},
    {"id": "3", "pt": {}, "pt.coordinates.1": 9.5},
    {"id": "4", "pt": {"coordinates": []}, "tags": []},
    {"id": "5", "pt": None, "tags": ["a"]},
    {"id": "6", "pt": {"coordinates": [1.0]}, "wkt": " "},
    {"pt": {"coordinates": [0.0, -0.0]}},
]


@pytest.mark.parametrize(
    "path", ["id", "pt", "pt.coordinates", "pt.coordinates.1", "tags", "nope.x"]
)
def test_columns_read_each_path_as_get_path_does(path):
    expected = [get_path(r, path) for r in ROWS]
    expected = [None if isinstance(v, dict | list) and not v else v for v in expected]
    got = Columns(ROWS).values(path)
    assert [(type(v), v) for v in got] == [(type(v), v) for v in expected]


FALLBACK_ROWS = [  # synthetic: the primary is missing or blank in some rows
    {"id": "1", "p": {"c": ["a", "b"]}, "w": "POINT (1 2)"},
    {"id": "2", "w": "POINT (3 4)"},
    {"id": "3", "p": {"c": ["x", " "]}, "w": "POINT (5 6)"},
    {"id": "4", "p": {}},
    {"p": {"c": ["y", "z"]}, "w": 7},
]


@pytest.mark.parametrize(
    "spec",
    [
        {"field": "p.c.1", "fallback": {"field": "w"}},
        {
            "field": "p.c.1",
            "fallback": {"field": "w", "steps": [{"regex": r"POINT \(\S+ (\S+)\)"}]},
        },
        {"field": "p.c.0", "fallback": {"const": "none"}},
        {"field": "id", "fallback": {"field": "p.c.1"}},
        {"field": "p.c.1", "fallback": {"field": "id", "fallback": {"const": "?"}}},
    ],
    ids=repr,
)
def test_a_fallback_read_only_where_needed_gives_the_row_values(spec):
    reference = compile_spec(spec)
    expected = [reference(r) for r in FALLBACK_ROWS]
    got = compile_column(spec)(Columns(FALLBACK_ROWS)).to_list()
    assert [(type(v), v) for v in got] == [(type(v), v) for v in expected]


def test_a_fallback_needed_with_another_type_refuses_the_page():
    rows = [{"a": 1.5}, {"b": "x"}]  # synthetic: a float, else text
    with pytest.raises(PageFallback):
        compile_column({"field": "a", "fallback": {"field": "b"}})(Columns(rows))


def test_records_keep_key_order_constants_and_row_values():
    raws = [{"n": 1}, {"n": 2}, {"n": 3}]
    columns = {
        "feed_id": repeat("zz_feed"),
        "call_id": ["a", None, "c"],
        "flag": repeat(None),
        "count": [1, 2.0, True],
        "raw": raws,
    }
    got = as_records(columns, 3)
    assert [list(r) for r in got] == [list(columns)] * 3
    assert got[1] == {
        "feed_id": "zz_feed",
        "call_id": None,
        "flag": None,
        "count": 2.0,
        "raw": raws[1],
    }
    assert [type(r["count"]) for r in got] == [int, float, bool]
    assert got[0] is not got[1]
    got[0]["call_id"] = "changed"
    assert got[2]["call_id"] == "c" and got[1]["feed_id"] == "zz_feed"


def test_records_refuse_a_column_of_the_wrong_length():
    with pytest.raises(PageFallback):
        as_records({"a": [1, 2], "b": [1]}, 2)


def test_blank_to_none_reference_is_what_blank_to_null_mirrors():
    # the row path's rule, read here so a change to it fails this file too
    assert _blank_to_none("\x1f") is None and _blank_to_none("\u200b") == "\u200b"
    assert blank_to_null(pl.Series(["\x1f", "\u200b"])).to_list() == [None, "\u200b"]


@pytest.mark.parametrize(
    "values, folded",
    [
        (["a", "a", "a"], True),
        ([None, None], True),
        ([0.0, -0.0], False),  # equal, not the same published value
        ([float("nan"), float("nan")], False),
        ([2.5, 2.5], True),
        (["a", "b"], False),
    ],
)
def test_an_output_is_folded_to_one_value_only_when_each_row_is_the_same(
    values, folded
):
    rows = pl.Series("k", list(range(len(values))))
    got = distinct_apply({"k": rows}, lambda k: (values[k],), ("v",))["v"]
    assert isinstance(got, Const) is folded
    assert [(type(v), repr(v)) for v in got] == [(type(v), repr(v)) for v in values]


@pytest.mark.parametrize("values", [[1, True], [1, 1.0]])
def test_outputs_equal_but_of_two_types_refuse_the_page(values):
    rows = pl.Series("k", list(range(len(values))))
    with pytest.raises(PageFallback):
        distinct_apply({"k": rows}, lambda k: (values[k],), ("v",))


def test_a_folded_column_counts_and_assembles_like_a_list():
    const = Const("unknown", 3)
    assert count_of(const, "unknown") == 3 and count_of(const, None) == 0
    assert count_of(["unknown", None, "unknown"], "unknown") == 2
    got = as_records({"a": const, "b": [1, 2, 3]}, 3)
    assert got == [{"a": "unknown", "b": i} for i in (1, 2, 3)]


def test_keys_of_calls_without_an_id_are_the_row_builders(tmp_path):
    from datetime import UTC, datetime

    from cfs_spiders.records.builder import RecordBuilder
    from cfs_spiders.records.columnar import ColumnarBuilder
    from tests.test_json_platform import config

    cfg = config(
        tmp_path,
        record={
            "call_id": "id",
            "address": "location",
            "agency": "agency",
            "latitude": "lat",
            "received_at": {"field": "t", "format": ["%Y-%m-%d %H:%M", "%Y-%m-%d"]},
        },
        record_key=["received_at", "agency", "address", "latitude"],
    )
    rows = [  # synthetic: ids on some rows, a day without a clock, blanks
        {"id": "A1", "location": "1 MAIN ST", "t": "2025-09-25 03:10"},
        {
            "location": "1 MAIN ST",
            "agency": "Fire",
            "t": "2025-09-25 03:10",
            "lat": 1.5,
        },
        {"location": " ", "agency": "Fire", "t": "2025-09-25"},
        {"agency": "7", "t": None, "lat": 37.25},
        {"id": "A2", "t": "2025-09-26"},
        {"location": "2 ELM ST", "agency": "Police", "t": "2025-09-25 04:00"},
    ]
    when = datetime(2025, 9, 25, 12, 0, tzinfo=UTC)
    reference = RecordBuilder(cfg)
    expected = [
        reference.build(r, fetched_at=when, source_url="x", run_id="r") for r in rows
    ]
    columnar = ColumnarBuilder(cfg)
    got = columnar.build_page(rows, fetched_at=when, source_url="x", run_id="r")
    assert [g["record_key"] for g in got] == [e["record_key"] for e in expected]
    assert got == expected
    assert (
        columnar.counts["record_key:incomplete"]
        == reference.counts["record_key:incomplete"]
        > 0
    )


def test_results_join_back_in_the_pages_row_order():
    import random

    rng = random.Random(3)  # synthetic inputs, shuffled, with nulls
    n = 10_000
    a = [rng.choice([None] + [f"v{i}" for i in range(1000)]) for _ in range(n)]
    b = [rng.choice([None, "x", "y"]) for _ in range(n)]
    got = distinct_apply(
        {"a": pl.Series(a), "b": pl.Series(b)}, lambda x, y: (f"{x}/{y}",), ("o",)
    )["o"]
    assert got == [f"{x}/{y}" for x, y in zip(a, b, strict=True)]
