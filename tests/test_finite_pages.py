"""A page known to hold no NaN or infinity skips the encoder's walk over every
value (``items.RecordBatch.finite``): the columnar builder sees its float columns
by dtype (``colrows.FiniteWatch``), and the spider knows its raw records were
parsed by orjson or hold text only. Wherever that is not established the walk
stays, and a NaN or an infinity still gets the text ``json.dumps`` wrote.

Inputs are synthetic (the synthetic feed of ``test_json_platform``); the bundled
captures are checked in ``test_columnar.py``.
"""

from __future__ import annotations

import dataclasses
import json

import polars as pl

from cfs_spiders.ingest.parsers import load_json
from cfs_spiders.records import columnar as columnar_module
from cfs_spiders.records.colrows import FiniteWatch, distinct_apply
from cfs_spiders.records.columnar import ColumnarBuilder
from cfs_spiders.records.encoding import all_finite, json_texts_exact
from cfs_spiders.records.items import RecordBatch
from tests.test_json_platform import FETCHED, config, response, spider

_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


def rows(n: int) -> list[dict]:
    """``n`` synthetic rows, more than the columnar path's minimum page."""
    return [{"id": f"A{i}", "location": f"{i} MAIN ST"} for i in range(n)]


def batches(feed, body: bytes) -> list[RecordBatch]:
    return [item for item in feed.parse(response(body)) if hasattr(item, "records")]


def watched(column: pl.Series) -> bool:
    watch = FiniteWatch()
    watch.series(column)
    return watch.finite


def test_watch_by_dtype_and_by_value():
    assert watched(pl.Series([1.5, None, -0.0]))
    assert not watched(pl.Series([1.5, float("nan")]))
    assert not watched(pl.Series([float("-inf"), None]))
    assert watched(pl.Series(["NaN", None]))  # text, whatever it says
    assert watched(pl.Series([10**18, None]))
    assert watched(pl.Series([None, None]))
    assert not watched(pl.Series([[1.0], [2.0]]))  # a list column: not known
    watch = FiniteWatch()
    watch.value(1)
    assert watch.finite
    watch.value({"a": [float("inf")]})
    assert not watch.finite
    watch.series(pl.Series([1.0]))  # once not finite, it stays so
    assert not watch.finite


def test_distinct_apply_sees_a_nan_among_its_results():
    column = pl.Series("v", ["a", "b", "a"])
    watch = FiniteWatch()
    got = distinct_apply({"v": column}, lambda v: (len(v) * 0.5,), ("x",), watch)
    assert got["x"].value == 0.5 and watch.finite  # one value: a Const
    got = distinct_apply(
        {"v": column},
        lambda v: (float("nan") if v == "b" else 1.0,),
        ("x",),
        watch,
    )
    assert got["x"][0] == 1.0 and got["x"][1] != got["x"][1]
    assert not watch.finite


def test_a_nan_from_a_normalizer_clears_the_page_flag(tmp_path, monkeypatch):
    """A float column that holds a NaN (here a synthetic categorizer's
    similarity) makes the page not finite, and its text is json's."""
    cfg = config(tmp_path)
    builder = ColumnarBuilder(cfg)
    kw = {"fetched_at": FETCHED, "source_url": "http://127.0.0.1/x", "run_id": "r"}
    page = rows(20)
    records, finite = builder.build_page_finite(page, **kw)
    assert finite and all(map(all_finite, records))
    real = columnar_module.categorize

    def nan_similarity(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), similarity=float("nan"))

    monkeypatch.setattr(columnar_module, "categorize", nan_similarity)
    records, finite = builder.build_page_finite(page, **kw)
    assert not finite
    texts, exact = json_texts_exact(records, finite)
    assert '"category_similarity": NaN' in texts[0] and not exact[0]
    assert texts[0] == _dumps(records[0])


def test_a_page_orjson_read_is_finite_and_encodes_as_before(tmp_path):
    feed = spider(config(tmp_path))
    got = batches(feed, json.dumps(rows(250)).encode())
    assert got and all(b.finite for b in got)
    for batch in got:
        fast = json_texts_exact(batch.records, batch.finite)
        assert fast == json_texts_exact(batch.records)  # the walk's own answer


def test_a_page_json_read_keeps_the_walk(tmp_path):
    """``NaN`` and ``1e400`` are not JSON: orjson refuses the page, ``json``
    reads them (a float NaN and an infinity), and the page is not marked
    finite, so each such record keeps json's text."""
    feed = spider(config(tmp_path))
    page = rows(250)
    page[3]["reading"] = float("nan")
    body = (
        json.dumps(page)
        .encode()
        .replace(b'"7 MAIN ST"}', b'"7 MAIN ST", "big": 1e400}')
    )
    got = batches(feed, body)
    assert got and not any(b.finite for b in got)
    records = [r for b in got for r in b.records]
    texts, exact = json_texts_exact(records, got[0].finite)
    assert '"reading": NaN' in texts[3] and not exact[3]
    assert '"big": Infinity' in texts[7] and not exact[7]
    assert texts[3] == _dumps(records[3]) and texts[7] == _dumps(records[7])
    # the next page, read by orjson again, is finite again
    assert all(b.finite for b in batches(feed, json.dumps(rows(250)).encode()))


def test_only_a_json_fallback_clears_the_mark(tmp_path):
    feed = spider(config(tmp_path))
    feed.page_raw_finite = True
    assert load_json(response(b'[{"id": "A1", "v": 1.5}]'), feed)[0]["v"] == 1.5
    assert feed.page_raw_finite
    assert load_json(response(b'[{"id": "A1", "v": NaN}]'), feed)[0]["v"] != 0
    assert not feed.page_raw_finite


def test_pages_built_by_rows_are_not_marked(tmp_path):
    """A page under the columnar minimum is built by the row builder, which
    does not see its columns: the walk stays."""
    feed = spider(config(tmp_path))
    got = batches(feed, json.dumps(rows(5)).encode())
    assert got and not any(b.finite for b in got)
