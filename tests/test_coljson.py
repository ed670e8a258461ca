"""A page's records carried as columns (records/colpage.py, coljson.py) against
the record dicts they stand for.

The key test reads EVERY bundled capture (``test_columnar.capture_pages``: each
``tests/fixtures/*/manifest.yaml``, so a feed added later is covered without an
edit here), builds each page by columns, and compares what the stages make from
the columns with what they make from the record dicts: the JSON Lines export
byte for byte (written by ``RecordJsonLinesExporter`` both ways), each record's
text, the raw texts and change hashes the store keeps, the fill counts and the
vocabulary check. The other tests use SYNTHETIC values (named so) where the
captures hold none: characters JSON escapes, values orjson refuses.
"""

from __future__ import annotations

import sys
from io import BytesIO
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from cfs_spiders.config.loader import get_config
from cfs_spiders.ingest.exporters import RecordJsonLinesExporter
from cfs_spiders.ingest.intake import take_part
from cfs_spiders.ingest.pipelines import StorePipeline, ValidatePipeline
from cfs_spiders.records.coljson import ESCAPES, _escaped, _may_escape
from cfs_spiders.records.colpage import ColumnPage, fill_counts
from cfs_spiders.records.colqueue import PagePart
from cfs_spiders.records.columnar import ColumnarBuilder
from cfs_spiders.records.elements import FillCounter
from cfs_spiders.records.encoding import change_digest, json_texts_exact, raw_json
from cfs_spiders.records.items import RecordBatch
from tests.test_columnar import CAPTURED, capture_pages
from tests.test_page_intake import dropping_crawler


def export(batch: RecordBatch) -> bytes:
    out = BytesIO()
    RecordJsonLinesExporter(out, encoding="utf-8").export_item(batch)
    return out.getvalue()


def by_rows(page: ColumnPage, finite: bool) -> RecordBatch:
    """The same records as dicts (copies: the page makes its own), as the
    store pipeline hands them to the exporter today: with their texts."""
    records = [dict(r) for r in ColumnPage.records(page)]
    batch = RecordBatch(records, finite=finite)
    batch.encoded, batch.exact = json_texts_exact(records, finite)
    return batch


def fresh(page: ColumnPage) -> ColumnPage:
    """The page again, its records not yet made (``records`` made them)."""
    return ColumnPage(page.columns, page.n, page.arrow, finite=page.finite)


@pytest.mark.parametrize("feed_id", CAPTURED)
def test_every_capture_is_written_by_columns_as_by_records(feed_id: str) -> None:
    builder = ColumnarBuilder(get_config(feed_id), replay=True)
    by_columns = 0
    for n, (fetched, url, raws, raw_finite) in enumerate(capture_pages(feed_id)):
        where = f"{feed_id} page {n}"
        built, finite = builder.build_page_columns(
            raws, fetched_at=fetched, source_url=url, run_id="r1"
        )
        if not raws:
            continue
        assert isinstance(built, ColumnPage), f"{where}: built as dicts"
        finite = finite and raw_finite
        rows = by_rows(built, finite)
        page = fresh(built)
        batch = RecordBatch(page=page, finite=finite, columns=page.arrow)
        # validation by each vocabulary column's distinct values
        assert ValidatePipeline(False).process_item(batch) is batch
        text = page.text(finite)
        if text is not None:
            by_columns += 1
            assert text.lines.to_list() == rows.encoded, where
            assert text.raw.to_pylist() == list(
                map(raw_json, rows.records, rows.encoded)
            ), where
            assert text.hashes.to_pylist() == [
                change_digest(r["raw"], True) for r in rows.records
            ], where
        got = export(batch)
        assert got == export(rows), f"{where}: the JSON Lines differ"
        assert got.count(b"\n") == len(rows.records)
        if text is not None:  # written from the columns, no record dict made
            assert page._records is None, where
        counted, expected = FillCounter(), FillCounter()
        counted.add_counts(page.n, fill_counts(page.arrow))
        expected.add_many(rows.records)
        assert (counted.n, counted.hits) == (expected.n, expected.hits), where
    assert by_columns, f"{feed_id}: no page was written by columns"


def test_json_escapes_every_character_as_orjson_does() -> None:
    """SYNTHETIC: every Unicode scalar value, alone and among plain text; the
    byte look (``_may_escape``) finds exactly the characters escaped."""
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    values = pl.DataFrame({"v": chars + ['a\x00b"c\\d\u2028e\n', None, ""]})
    quoted = pl.concat_str([pl.lit('"'), _escaped("v"), pl.lit('"')])
    texts = values.select(quoted.fill_null("null").alias("t"))["t"].to_list()
    expected = ["null" if v is None else orjson.dumps(v).decode() for v in values["v"]]
    assert texts == expected
    assert set(ESCAPES) == {chr(c) for c in range(0x20)} | {'"', "\\"}
    plain = [c for c in chars if c not in ESCAPES]
    assert not _may_escape(pa.array(plain))
    assert all(_may_escape(pa.array(["plain", f"x{c}y"])) for c in ESCAPES)


def seattle_page(mutate: Any = None) -> tuple[ColumnPage, bool]:
    """Seattle's first captured page built by columns, its raw records first
    changed by ``mutate`` (SYNTHETIC values, where given)."""
    feed_id = "wa_seattle_fire_realtime911"
    fetched, url, raws, raw_finite = capture_pages(feed_id)[0]
    raws = [dict(r) for r in raws]
    if mutate is not None:
        mutate(raws)
    built, finite = ColumnarBuilder(
        get_config(feed_id), replay=True
    ).build_page_columns(raws, fetched_at=fetched, source_url=url, run_id="r1")
    assert isinstance(built, ColumnPage)
    return built, finite and raw_finite


def test_escaped_and_unicode_values_are_written_as_orjson_writes_them() -> None:
    """SYNTHETIC: addresses and raw fields with quotes, backslashes, control
    characters and text beyond ASCII."""
    odd = ['1 "A" ST', "C:\\PATH", "TAB\tAND\x01", "ÉCOLE ✓ 😀", "LINE\u2028SEP"]

    def mutate(raws: list[dict[str, Any]]) -> None:
        for i, raw in enumerate(raws):
            raw["address"] = odd[i % len(odd)]
            raw["synthetic_note"] = odd[(i + 1) % len(odd)]

    page, finite = seattle_page(mutate)
    rows = by_rows(page, finite)
    page = fresh(page)
    assert page.text(finite) is not None  # by columns
    assert export(RecordBatch(page=page, finite=finite)) == export(rows)


def test_a_page_orjson_refuses_is_written_record_by_record() -> None:
    """SYNTHETIC: a raw integer beyond 64 bits (orjson refuses it; ``json``
    writes it): the page is not written by columns, and its lines are those
    of the records."""

    def mutate(raws: list[dict[str, Any]]) -> None:
        raws[3]["synthetic_big"] = 2**70

    page, finite = seattle_page(mutate)
    rows = by_rows(page, finite)
    page = fresh(page)
    assert page.text(finite) is None
    assert export(RecordBatch(page=page, finite=finite)) == export(rows)
    assert b"1180591620717411303424" in export(rows)  # as Scrapy's encoder wrote it


def test_a_page_batch_reaches_the_store_without_record_dicts() -> None:
    """The store pipeline takes a page by its columns (fill counts, keys,
    texts) and buffers it as a ``PagePart``; the dicts are made only when a
    stage asks (here: the buffer read back, as a store path taking dicts
    would)."""
    page, finite = seattle_page()
    expected = by_rows(page, finite).records
    page = fresh(page)
    batch = RecordBatch(page=page, finite=finite, columns=page.arrow)
    fill, keys = FillCounter(), []
    part = take_part(batch, fill, keys.extend)
    assert isinstance(part, PagePart) and page._records is None
    assert keys == [r["record_key"] for r in expected]
    assert fill.n == len(expected)
    crawler = get_crawler(Spider, {"CFS_STORE_BATCH": 10**6})
    pipe = StorePipeline(crawler)
    pipe.queue.add(part)
    assert len(pipe.queue) == len(expected) and page._records is None
    assert pipe.buffer == expected and pipe.exact == [True] * len(expected)
    assert len(batch) == len(expected)


def test_validation_of_a_page_drops_records_as_by_rows() -> None:
    """A value off the vocabulary (SYNTHETIC: a status no rule gives) in a page
    built by columns: that record alone is dropped, with ``item_dropped``, and
    the batch goes on as dicts (the page no longer describes it)."""
    crawler, spider, dropped = dropping_crawler("zz_validate_columns")
    page, finite = seattle_page()
    page.columns["status"] = list(page.values("status"))
    page.columns["status"][2] = "not-a-status"
    expected = by_rows(page, finite).records
    page = fresh(page)
    batch = RecordBatch(page=page, finite=finite, columns=page.arrow)
    got = ValidatePipeline(False, crawler).process_item(batch, spider)
    assert dropped == [expected[2]]
    assert got.records == expected[:2] + expected[3:]
    assert got.page is None and got.columns is None
