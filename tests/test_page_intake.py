"""A page of records on the crawl's thread, after it is built: the shortcuts of
the batch intake (``RecordBatch``'s field check, validation, the page's JSON
texts, the JSON Lines writes, the listing's key spool) give what the record by
record computation gives, byte for byte, including on the odd values (NaN,
huge integers, lone surrogates, dates) and on records out of field order.

Records are built by the row builder from a real capture (Seattle Fire's
Socrata sample, ``tests/fixtures``); the odd values are synthetic.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import orjson
import pytest
from scrapy import Spider, signals
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from cfs_spiders.ingest.exporters import _CHUNK, RecordJsonLinesExporter
from cfs_spiders.ingest.pipelines import KeySpool, ValidatePipeline
from cfs_spiders.records.elements import _PART, HAS, FillCounter
from cfs_spiders.records.encoding import json_texts_exact
from cfs_spiders.records.items import RECORD_FIELDS, RecordBatch, in_field_order
from tests.test_throughput import ODD_RAWS, dumps, sf_records


def shared_keys(records: list[dict]) -> list[dict]:
    """The records with one set of key objects, as the columnar builder makes a
    page (``dict(zip(names, row))``)."""
    names = tuple(records[0])
    return [dict(zip(names, (r[k] for k in names), strict=True)) for r in records]


def odd_page(n: int, odd: list | None = None) -> list[dict]:
    """``n`` real records, every seventh with one of the odd raw values."""
    odd = [raw for raw, _, _ in ODD_RAWS] if odd is None else odd
    base = shared_keys(sf_records(n))
    for i in range(0, n, 7):
        base[i] = {**base[i], "raw": odd[(i // 7) % len(odd)]}
    return base


# A lone surrogate cannot be written as UTF-8 at all: the JSON Lines export
# refuses such a record (as Scrapy's exporter does; the spider's JSON reader
# replaces them first, ``ingest/parsers.load_json``).
WRITABLE = [raw for raw, _, _ in ODD_RAWS if "surrogate" not in str(raw)]


def test_page_texts_are_what_json_dumps_held():
    """Each record of a page as ``json`` wrote it before the fast path: the
    same text where orjson cannot say the same (NaN, a date, a huge integer, a
    lone surrogate, a non-string key), else orjson's compact text of the same
    values."""
    page = odd_page(len(ODD_RAWS) * 7)
    texts, exact = json_texts_exact(page)
    for i, (rec, text, ok) in enumerate(zip(page, texts, exact, strict=True)):
        odd = ODD_RAWS[i // 7] if i % 7 == 0 else None
        assert ok is (odd[1] if odd else True)
        if ok:
            assert orjson.loads(text) == rec and text.startswith('{"feed_id":"')
            assert json.loads(text) == json.loads(dumps(rec))
        else:
            assert text == dumps(rec)
    assert "NaN" in texts[7]


def scrapy_line(exporter: RecordJsonLinesExporter, rec: dict) -> bytes:
    return exporter.encoder.encode(in_field_order(rec)).encode("utf-8") + b"\n"


@pytest.mark.parametrize("given", [True, False], ids=["texts given", "texts made"])
def test_jsonl_bytes_over_several_writes(given):
    """More than two writes' worth of lines: each line is the record's stored
    text, or Scrapy's line where that text is not plain JSON or the fields are
    out of order, with nothing lost or doubled at the write boundaries."""
    n = 2 * _CHUNK + 40
    page = odd_page(n, WRITABLE)
    shuffled = dict(reversed(list(page[5].items())))  # same fields, other order
    page[5] = shuffled
    batch = RecordBatch(page)
    if given:
        batch.encoded, batch.exact = json_texts_exact(page)
    out = BytesIO()
    exporter = RecordJsonLinesExporter(out, encoding="utf-8")
    exporter.export_item(batch)
    texts, exact = json_texts_exact(page)
    expected = b"".join(
        (t.encode("utf-8") + b"\n")
        if ok and tuple(r) == RECORD_FIELDS
        else scrapy_line(exporter, r)
        for r, t, ok in zip(page, texts, exact, strict=True)
    )
    assert out.getvalue() == expected
    lines = out.getvalue().split(b"\n")
    assert len(lines) == n + 1 and lines[-1] == b""
    assert list(json.loads(lines[5])) == list(RECORD_FIELDS)  # put in order
    assert lines[1] == texts[1].encode("utf-8")  # the stored text itself


def test_record_batch_checks_each_record_of_a_shared_key_page():
    page = shared_keys(sf_records(30))
    RecordBatch(page)  # the same key objects: checked once
    bad = dict(page[20])
    bad["not_a_field"] = 1
    with pytest.raises(KeyError, match="not_a_field"):
        RecordBatch([*page[:20], bad, *page[21:]])
    dropped = {k: v for k, v in page[3].items() if k != "status"}
    RecordBatch([*page[:3], dropped, *page[4:]])  # fewer fields is allowed


def dropping_crawler(name: str) -> tuple[Any, Spider, list[dict]]:
    """A crawler, its spider, and the items it reports dropped
    (``item_dropped``), in order."""
    crawler = get_crawler(Spider)
    spider = Spider.from_crawler(crawler, name=name)
    dropped: list[dict] = []
    crawler.signals.connect(
        lambda item, **kw: dropped.append(item),
        signal=signals.item_dropped,
        weak=False,  # a lambda: held by the dispatcher, not weakly
    )
    return crawler, spider, dropped


def test_validation_of_a_page_drops_what_record_by_record_drops():
    crawler, spider, dropped = dropping_crawler("zz_validate_page")
    page = shared_keys(sf_records(40))
    pipe = ValidatePipeline(False, crawler)
    batch = RecordBatch(page)
    batch.encoded = ["kept"] * len(page)  # a page that passes is untouched
    assert pipe.process_item(batch) is batch and batch.encoded == ["kept"] * 40
    assert batch.records == page
    # a record without a vocabulary field, one with a value off the vocabulary,
    # one with an unhashable value in an enum field
    missing = {k: v for k, v in page[4].items() if k != "call_source"}
    off = {**page[9], "status": "not-a-status"}
    unhashable = {**page[12], "status_basis": ["rule"]}
    mixed = [*page[:4], missing, *page[5:9], off, *page[10:]]
    with pytest.raises(DropItem):
        pipe.check(missing)
    batch = pipe.process_item(RecordBatch(mixed), spider)
    assert batch.records == page[:4] + page[5:9] + page[10:]
    assert dropped == [missing, off]  # each reported on its own
    assert batch.encoded is None  # texts are made again for what is left
    with pytest.raises(TypeError):  # as the record by record check raises
        pipe.process_item(RecordBatch([*page[:12], unhashable]), spider)


def test_key_spool_finds_keys_across_batches():
    spool = KeySpool()
    try:
        odd = ['a "quoted"\nkey', "ключ", "", "K\\0"]
        spool.add(f"K{i}" for i in range(5000))
        spool.add(iter(()))  # an empty batch writes nothing
        spool.add(odd)
        spool.add(["K5000"])
        assert spool.count == 5000 + len(odd) + 1
        wanted = {"K0", "K4999", "K5000", "K5001", *odd, "missing"}
        assert spool.among(wanted) == wanted - {"K5001", "missing"}
        spool.add(["late"])  # still appends after a read
        assert spool.among({"late", "K1"}) == {"late", "K1"}
    finally:
        spool.close()
    assert spool.among({"K0"}) == set()


def test_fill_rates_of_a_page_are_those_of_its_records():
    """Counted a page at a time (element by element, ``_PART`` records at once)
    or record by record with ``HAS``: the same counts, also with values that
    are falsy but present (0, False, 0.0), NaN, blanks, a missing field and an
    unhashable value (those parts fall back to ``HAS``)."""
    base = shared_keys(sf_records(60))
    odd_values = [0, False, 0.0, float("nan"), "", None, " ", "withheld", "x"]
    page = []
    for i in range(3 * _PART + 17):
        rec = dict(base[i % len(base)])
        for j, field in enumerate(("call_id", "latitude", "area_beat", "units_raw")):
            if (i + j) % 5 == 0:
                rec[field] = odd_values[(i + j) % len(odd_values)]
        page.append(rec)
    page[_PART + 3] = {k: v for k, v in page[_PART + 3].items() if k != "longitude"}
    page[2 * _PART + 5] = {**page[2 * _PART + 5], "priority_raw": ["1", "2"]}
    by_page, by_record = FillCounter(), FillCounter()
    by_page.add_many(page[:100])
    by_page.add_many(page[100:])
    for rec in page:
        by_record.add(rec)
    expected = {e: sum(map(has, page)) for e, has in HAS.items()}
    assert by_page.hits == by_record.hits == expected
    assert by_page.n == by_record.n == len(page)
    assert 0 < expected["coordinates"] < len(page)  # the odd values did count
    assert 0 < expected["id"] < len(page)
