"""The store's writer process takes a batch as Arrow columns
(``store/arrow_batch.py``), built from the columns the columnar builder made the
records from (``records/colarrow.py``): the store it writes is the one the JSON
texts write, table by table and row by row, on every bundled capture; the run
reports prove which path wrote; a batch that fails there is raised in the crawl;
a batch that does not convert exactly goes as JSON texts. Every value below that
is not read from a bundled capture is synthetic and named so.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from cfs_spiders.config.loader import get_config, load_config
from cfs_spiders.records.colarrow import PageColumns
from cfs_spiders.records.colqueue import RecordQueue, RowPart, records_of
from cfs_spiders.records.columnar import ColumnarBuilder
from cfs_spiders.records.encoding import change_digest, json_texts_exact, raw_json
from cfs_spiders.records.items import RecordBatch
from cfs_spiders.store import arrow_batch
from cfs_spiders.store.base import (
    OBSERVATION_COLUMNS,
    PRESENCE_COLUMNS,
    RUNS_FROM,
    by_call,
)
from cfs_spiders.store.raw import install_sql_function
from cfs_spiders.store.sqlite import Store
from tests.conftest import FIXTURES, ROOT, run_cfs
from tests.test_columnar import CAPTURED, capture_pages

CONFIGS = ROOT / "city_configs"
WHEN = datetime(2026, 1, 17, 17, 14, 9, tzinfo=UTC)
# every batch from the process, every page of the captures by columns, and
# batches that start and end inside pages (and span several)
ENV = {
    "CFS_STORE_PROCESS_AFTER": "0",
    "CFS_COLUMNAR_MIN_ROWS": "1",
    "CFS_STORE_BATCH": "37",
}
# what a run's report holds that depends on time or on the path that wrote
_REPORT_SKIP = {"started_at", "finished_at", "duration_s", "store_writer", "run_id"}


def seattle(n: int) -> tuple[list[dict[str, Any]], PageColumns, Any]:
    """``n`` records of Seattle's bundled capture built by columns, with their
    columns, and the feed's config."""
    cfg = load_config(CONFIGS / "wa_seattle_fire_realtime911.yaml")
    sample = json.loads(
        (
            FIXTURES / "wa_seattle_fire_realtime911/"
            "socrata_kzjm-xkqj_api_response_sample.json"
        ).read_text()
    )
    builder = ColumnarBuilder(cfg)
    raws = [sample[i % len(sample)] for i in range(n)]
    records = builder.build_page(
        raws, fetched_at=WHEN, source_url="https://x/", run_id="r1"
    )
    assert builder.page_columns is not None
    return records, builder.page_columns, cfg


def registered(tmp_path: Path, n: int) -> tuple[Path, list, PageColumns, list, list]:
    """A store in ``tmp_path`` with Seattle's feed registered, and ``n`` of its
    records (``seattle``) with their JSON texts."""
    db = tmp_path / "cfs.sqlite"
    records, columns, cfg = seattle(n)
    st = Store(db)
    st.register_feeds([cfg])
    st.close()
    texts, exact = json_texts_exact(records)
    return db, records, columns, texts, exact


def reports(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    try:
        return [
            json.loads(r[0])
            for r in conn.execute(
                f"SELECT report_json FROM {RUNS_FROM} "
                "ORDER BY feed_id, fetched_at, started_at"
            )
        ]
    finally:
        conn.close()


def crawl_alike(
    tmp_path: Path, envs: dict[str, dict[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """Every bundled capture crawled and exported once per entry of ``envs``
    (``ENV`` with its settings), each into a store of its own; asserts that
    the two give the same calls, versions with their raw records and hashes,
    presence, listings, runs, calls.csv and JSON Lines
    (``bench/compare_outputs.py``) and the same run reports but for the run
    id, times and the writer. Returns each store's run reports."""
    outs = {}
    for mode, settings in envs.items():
        db, out = tmp_path / f"{mode}.sqlite", tmp_path / mode
        common = ("--db", str(db), "--output", str(out))
        env = {**ENV, **settings}
        run_cfs(*common, "crawl", "--all", "--replay", env=env, timeout=900)
        run_cfs(*common, "export")
        outs[mode] = (db, out)
    (a_db, a_out), (b_db, b_out) = outs.values()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "compare_outputs.py")]
        + [str(p) for p in (a_db, a_out, b_db, b_out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = {mode: reports(db) for mode, (db, _) in outs.items()}
    a, b = got.values()
    assert len(a) == len(b) > 50
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if k not in _REPORT_SKIP} == {
            k: v for k, v in y.items() if k not in _REPORT_SKIP
        }
    return got


def test_every_capture_stores_the_same_through_arrow(tmp_path: Path) -> None:
    """Every bundled capture crawled into a store with the writer process taking
    its batches as Arrow, and as JSON texts (``CFS_STORE_ARROW=off``): the same
    stores, outputs and reports (``crawl_alike``); and the reports say the
    Arrow path wrote."""
    got = crawl_alike(tmp_path, {m: {"CFS_STORE_ARROW": m} for m in ("off", "on")})
    off, on = got["off"], got["on"]
    # every batch from the process: by Arrow when on, never when off
    assert all(r["store_writer"]["process"] for r in on + off if r["records"])
    assert sum(r["store_writer"]["arrow_batches"] for r in off) == 0
    arrow = [r["store_writer"]["arrow_batches"] for r in on]
    batches = [r["store_writer"]["batches"] for r in on]
    assert all(a <= b for a, b in zip(arrow, batches, strict=True))
    # a run whose pages were all built by columns, of a feed of one row per
    # call (merged rows are other records than the columns': as JSON), is
    # written by Arrow only
    merged = {
        r["feed_id"]
        for r in on
        if load_config(CONFIGS / f"{r['feed_id']}.yaml").get("rows_per", "call")
        != "call"
    }
    by_columns = [
        r
        for r in on
        if r["counts"].get("record_pages:columnar")
        and not r["counts"].get("record_pages:reference")
        and r["feed_id"] not in merged
    ]
    assert len({r["feed_id"] for r in by_columns}) >= 15
    for r in by_columns:
        writer = r["store_writer"]
        assert writer["arrow_batches"] == writer["batches"] > 0, r["feed_id"]
    for r in on:
        if r["feed_id"] in merged:
            assert r["store_writer"]["arrow_batches"] == 0


def test_the_arrow_batch_holds_what_the_json_path_cuts_and_hashes() -> None:
    """The raw text in the batch is what ``raw_json`` cuts from each record's
    text, and its change hash ``change_digest``'s (the golden hashes are pinned in test_history.py)."""
    records, columns, _ = seattle(40)
    texts, exact = json_texts_exact(records)
    data = arrow_batch.encode_batch([columns], records, texts, exact)
    assert data is not None
    got = arrow_batch.decode_batch(data)
    assert got.raw_texts == [
        raw_json(r, t) for r, t in zip(records, texts, strict=True)
    ]
    assert got.hashes == [change_digest(r["raw"]) for r in records]
    # every record column as the records hold it; one value sent once
    assert got.consts["feed_id"] == "wa_seattle_fire_realtime911"
    assert "feed_id" not in got.columns
    for name, values in got.columns.items():
        assert values == [r[name] for r in records], name
    for name, value in got.consts.items():
        assert all(r[name] == value for r in records), name
    # a column no record fills is not sent (not bound)
    empty = [
        c for c in arrow_batch.RECORD_COLUMNS if all(r[c] is None for r in records)
    ]
    assert empty and not set(empty) & (got.columns.keys() | got.consts.keys())


def test_a_batch_that_does_not_convert_exactly_goes_as_json() -> None:
    """Synthetic changes to real records: a record whose text does not read
    back, a number in a text column, a page's column of another type than the
    next page's: no Arrow batch (the process then gets the JSON texts)."""
    records, columns, _ = seattle(20)
    texts, exact = json_texts_exact(records)
    assert arrow_batch.encode_batch([columns], records, texts, exact) is not None
    assert arrow_batch.encode_batch([columns], records, texts, [False] * 20) is None
    # the columns do not cover the records
    assert (
        arrow_batch.encode_batch([columns.slice(0, 10)], records, texts, exact) is None
    )
    # synthetic: a text column holding numbers
    wrong = PageColumns(20, {**columns.consts, "address": 5}, columns.arrays)
    assert arrow_batch.encode_batch([wrong], records, texts, exact) is None
    # synthetic: the same column as float in one part, text in the other
    import pyarrow as pa

    a = PageColumns(10, columns.consts, {**columns.slice(0, 10).arrays})
    b = columns.slice(10, 20)
    a.arrays["priority_raw"] = pa.array([1.5] * 10)
    b.arrays["priority_raw"] = pa.array(["1"] * 10)
    assert arrow_batch.encode_batch([a, b], records, texts, exact) is None


def test_parts_of_pages_are_taken_in_buffer_order() -> None:
    """Batches cut across pages take the pages' columns in order, sliced where
    a batch ends inside a page; records without columns (built by rows, or put
    back after a failed write) make their batch go as JSON."""
    records, columns, _ = seattle(30)
    texts, exact = json_texts_exact(records)

    def part(start: int, stop: int, cols: Any = columns) -> RowPart:
        return RowPart(
            records[start:stop],
            texts[start:stop],
            exact[start:stop],
            None if cols is None else cols.slice(start, stop),
        )

    queue = RecordQueue()
    queue.add(part(0, 12))
    queue.add(part(12, 30))
    assert len(queue) == 30
    first = queue.take(20)
    assert [p.n for p in first] == [12, 8]
    rest = queue.take(10)
    assert [p.n for p in rest] == [10] and len(queue) == 0
    keys = [
        v for p in (*first, *rest) for v in p.columns.arrays["record_key"].to_pylist()
    ]
    assert keys == [r["record_key"] for r in records]
    assert records_of([*first, *rest]) == records
    queue.add(part(0, 5, None))  # built by rows
    queue.add(part(0, 5))
    taken = queue.take(7)
    assert [p.columns is None for p in taken] == [True, False]  # part by rows
    assert [p.n for p in queue.take(3)] == [3]
    queue.put_back(taken)
    assert [p.n for p in queue] == [5, 2] and len(queue) == 7


def test_a_batch_the_process_refuses_as_arrow_is_raised_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real records with their columns, of a feed the store has not registered
    (so the store refuses every batch): sent as Arrow, the store's own error is
    raised in the crawl and every record is kept, in order."""
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from cfs_spiders.ingest import pipelines
    from cfs_spiders.store import thread as store_thread

    records, columns, _ = seattle(25)
    columns.consts["feed_id"] = "zz_not_registered"
    for rec in records:
        rec["feed_id"] = "zz_not_registered"
    sent = []
    encode = arrow_batch.encode_table

    def counted(*args: Any) -> Any:
        data = encode(*args)
        sent.append(data is not None)
        return data

    monkeypatch.setattr(arrow_batch, "encode_table", counted)
    db = tmp_path / "cfs.sqlite"
    crawler = get_crawler(
        Spider,
        {
            "CFS_DATABASE_URL": str(db),
            "CFS_STORE_BATCH": 10,
            "CFS_STORE_PROCESS_AFTER": 0,
        },
    )
    pipe = pipelines.StorePipeline(crawler)
    pipe.writer = store_thread.acquire(db, "zz_not_registered")

    async def crawl() -> None:
        await pipe.process_item(RecordBatch(records, columns=columns), None)
        await pipe.flush()

    try:
        with pytest.raises(sqlite3.IntegrityError):
            asyncio.run(crawl())
        assert pipe.process is not None and sent and all(sent)
        assert pipe.buffer == records and len(pipe.exact) == len(records)
        assert pipe.batches == 0 and pipe.arrow_batches == 0
    finally:
        pipe._release()


def test_write_columns_stores_what_write_records_stores(tmp_path: Path) -> None:
    """The two entries of the one core, on the same real records (first
    sightings, then the same records again, then changed: versions extended and
    added): the same calls, versions and presence."""
    records, columns, cfg = seattle(30)
    stores = {}
    for way in ("dicts", "columns"):
        st = Store(tmp_path / f"{way}.sqlite")
        st.register_feeds([cfg])
        stores[way] = st
    later = WHEN.replace(hour=18)
    rounds = [(records, columns)]
    again, again_cols, _ = seattle(30)
    stamp = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    for rec in again:
        rec["fetched_at"] = stamp
    again_cols.consts["fetched_at"] = stamp
    # synthetic: a changed published value on every third record
    for i in range(0, 30, 3):
        again[i]["raw"] = {**again[i]["raw"], "type": f"SYNTHETIC {i}"}
    rounds.append((again, again_cols))
    got = {}
    for recs, cols in rounds:
        texts, exact = json_texts_exact(recs)
        got.setdefault("dicts", []).append(stores["dicts"].write_records(recs, texts))
        data = arrow_batch.encode_batch([cols], recs, texts, exact)
        assert data is not None
        got.setdefault("columns", []).append(
            arrow_batch.write_columns(stores["columns"], arrow_batch.decode_batch(data))
        )
    assert got["dicts"] == got["columns"]
    assert got["dicts"][1][1] > 0  # the changes did make versions
    tables = {}
    for way, st in stores.items():
        st.close()
        conn = sqlite3.connect(tmp_path / f"{way}.sqlite")
        install_sql_function(conn)
        tables[way] = {
            "calls": conn.execute(
                "SELECT * FROM calls ORDER BY feed_key, record_key"
            ).fetchall(),
            "observations": conn.execute(
                "SELECT feed_key, record_key, fetched_at, last_seen, run_key, "
                "values_hash, cfs_raw(raw_dict, raw_deflate) FROM "
                + by_call("observations", OBSERVATION_COLUMNS)
                + " ORDER BY feed_key, record_key, fetched_at"
            ).fetchall(),
            "presence": conn.execute(
                f"SELECT * FROM {by_call('presence', PRESENCE_COLUMNS)} "
                "ORDER BY feed_key, record_key, first_seen"
            ).fetchall(),
        }
        conn.close()
    assert tables["dicts"] == tables["columns"]
    assert len(tables["dicts"]["observations"]) > len(tables["dicts"]["calls"])
    raws = [orjson.loads(r[6]) for r in tables["columns"]["observations"]]
    assert any(r.get("type", "").startswith("SYNTHETIC") for r in raws)


@pytest.mark.parametrize("feed_id", CAPTURED)
def test_every_capture_page_has_the_columns_of_its_records(feed_id: str) -> None:
    """The Arrow columns the columnar builder hands on hold each record's own
    values, of the same Python type, on every page of every bundled capture:
    a column of one value as that value, a column left out null everywhere."""
    builder = ColumnarBuilder(get_config(feed_id), replay=True)
    checked = 0
    for fetched, url, raws, _ in capture_pages(feed_id):
        records = builder.build_page(
            raws, fetched_at=fetched, source_url=url, run_id="r1"
        )
        columns = builder.page_columns
        assert columns is not None and columns.n == len(records), feed_id
        for name in arrow_batch.RECORD_COLUMNS:
            values = [r.get(name) for r in records]
            if name in columns.consts:
                got = [columns.consts[name]] * len(records)
            elif name in columns.arrays:
                got = columns.arrays[name].to_pylist()
            else:
                got = [None] * len(records)
            assert [type(v) for v in got] == [type(v) for v in values], name
            assert got == values, f"{feed_id} {name}"
        checked += len(records)
    assert checked > 0


def test_the_writer_process_answers_each_batch_in_order_while_it_reads_ahead(
    tmp_path: Path,
) -> None:
    """The writer process receives and decodes the next batch on a thread while
    it writes the current one (``process._receive``): every batch is still
    answered, in the order sent. SYNTHETIC: the middle message is bytes that
    are not an Arrow stream; around it, real Seattle records as columns, of a
    feed the store has registered (first, written) and of one it has not
    (last, refused by the store itself)."""
    from concurrent.futures import Future

    from cfs_spiders.store import process as store_process

    db, records, columns, texts, exact = registered(tmp_path, 25)
    good = arrow_batch.encode_batch([columns], records, texts, exact)
    assert good is not None
    columns.consts["feed_id"] = "zz_not_registered"
    for rec in records:
        rec["feed_id"] = "zz_not_registered"
    refused = arrow_batch.encode_batch([columns], records, texts, exact)
    proc = store_process.StoreProcess(db)
    try:
        futures = []
        for body in (good, b"synthetic: not an Arrow stream", refused):
            done: Future = Future()
            with proc._lock:
                proc._waiting.append(done)
                proc._requests.put(("arrow", body, None))
            futures.append(done)
        new_calls, new_versions, writer, path, driver = futures[0].result(timeout=60)
        assert new_calls == new_versions > 0 and path == "arrow"
        assert driver == "adbc"  # the columns bound through the ADBC driver
        with pytest.raises(Exception, match="metadata bytes"):
            futures[1].result(timeout=60)
        with pytest.raises(sqlite3.IntegrityError):
            futures[2].result(timeout=60)
    finally:
        proc.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM calls").fetchone() == (new_calls,)
    finally:
        conn.close()
