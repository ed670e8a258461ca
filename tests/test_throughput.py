"""The backfill fast path keeps results identical.

Records travel through Scrapy a page at a time (``items.RecordBatch``), are
encoded once (orjson, falling back to ``json``), stored by a second process on
large runs (``store/writer.py``), and the builder remembers parsed times and
points. Each shortcut is checked here against the plain computation it replaces.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from scrapy.exporters import JsonLinesItemExporter

from cfs_spiders.config.loader import load_config
from cfs_spiders.ingest.exporters import RecordJsonLinesExporter
from cfs_spiders.normalize.time import iso_utc
from cfs_spiders.records.builder import RecordBuilder
from cfs_spiders.records.encoding import (
    change_hash,
    json_text_exact,
    raw_json,
    record_json,
)
from cfs_spiders.records.gcpause import paused_gc
from cfs_spiders.records.items import CallRecord, RecordBatch
from cfs_spiders.store import thread as store_thread
from cfs_spiders.store.base import CALLS_FROM, OBSERVATIONS_FROM, RUNS_FROM  # noqa: F401
from cfs_spiders.store.raw import install_sql_function
from cfs_spiders.store.sqlite import Store
from tests.conftest import ROOT, run_cfs

CONFIGS = ROOT / "city_configs"
WHEN = datetime(2026, 1, 17, 17, 14, 9, tzinfo=UTC)


def dumps(value):  # what the store wrote before the fast path
    return json.dumps(value, ensure_ascii=False, default=str)


def sf_records(n: int = 50) -> list[dict]:
    cfg = load_config(CONFIGS / "wa_seattle_fire_realtime911.yaml")
    builder = RecordBuilder(cfg)
    sample = json.loads(
        (
            ROOT / "tests/fixtures/wa_seattle_fire_realtime911/"
            "socrata_kzjm-xkqj_api_response_sample.json"
        ).read_text()
    )
    return [
        builder.build(
            sample[i % len(sample)],
            fetched_at=WHEN,
            source_url="https://x/",
            run_id="r1",
        )
        for i in range(n)
    ]


# Each odd raw value, whether orjson writes the record's text (``exact``: it
# reads back as the record), and the raw record's JSON text as stored.
ODD_RAWS = [
    ({"raw": {"raw": 1}, "x": ', "raw": ', "y": ',"raw":'}, True, None),
    ({"a": float("nan")}, False, '{"a": NaN}'),
    ({"a": float("inf"), "b": [1.5, -0.0, 1e-05, 1e16]}, False, None),
    ({"when": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)}, False, None),
    ({"big": 2**70}, False, '{"big": 1180591620717411303424}'),
    ({"surrogate": "\ud800"}, False, '{"surrogate": "\ud800"}'),
    ({1: "int key"}, False, '{"1": "int key"}'),
    (
        {"ctl": '\x00\x1f\x7f\u2028"\\', "nested": [{"k": [None, True, 0.1]}]},
        True,
        None,
    ),
    (["list", "raw"], True, '["list","raw"]'),
    (None, True, "null"),
    ("text", True, '"text"'),
]


@pytest.mark.parametrize("raw,exact,stored", ODD_RAWS, ids=range(len(ODD_RAWS)))
def test_json_texts_hold_what_json_dumps_held(raw, exact, stored):
    rec = {**sf_records(1)[0], "raw": raw}
    text, got_exact = json_text_exact(rec)
    assert got_exact is exact
    before = dumps(rec)
    if exact:  # orjson wrote it: compact, the same values, reads back as the record
        import orjson

        assert orjson.loads(text) == rec
        assert json.loads(text) == json.loads(before)
        assert raw_json(rec, text) == text[text.index(',"raw":') + 7 : -1]
    else:  # json wrote it, exactly as before (NaN, a date, a huge integer...)
        assert text == before
    raw_text = raw_json(rec, text)
    if stored is not None:  # the exact text written
        assert raw_text == stored
    elif isinstance(raw, dict) and "when" in raw:  # a date: json's str()
        assert json.loads(raw_text) == {"when": "2025-01-02 03:04:05+00:00"}
    else:  # plain JSON values: they read back as published
        assert json.loads(raw_text) == raw


def test_raw_json_is_cut_only_when_unambiguous():
    rec = sf_records(1)[0]
    rec["raw"] = {"outer": {"raw": {"raw": "x"}}}
    text = record_json(rec)
    assert json.loads(raw_json(rec, text)) == rec["raw"]
    rec2 = dict(rec)
    rec2["zzz"] = 1  # raw no longer last
    assert json.loads(raw_json(rec2, record_json(rec2))) == rec["raw"]


def test_iso_utc_matches_strftime():
    rnd = random.Random(7)
    for _ in range(20000):
        tz = timezone(timedelta(minutes=rnd.randint(-720, 720)))
        value = datetime(
            rnd.randint(1, 9998),
            rnd.randint(1, 12),
            rnd.randint(1, 28),
            rnd.randint(0, 23),
            rnd.randint(0, 59),
            rnd.randint(0, 59),
            rnd.choice((0, rnd.randint(0, 999999))),
            tzinfo=tz,
        )
        try:
            expected = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except OverflowError:
            continue
        assert iso_utc(value) == expected


def test_builder_memo_keeps_values_of_each_type_apart():
    cfg = load_config(CONFIGS / "tx_houston_hec_active_incidents.yaml")
    builder = RecordBuilder(cfg)
    base = {
        "Agency": "F",
        "Address": "MAIN ST",
        "CrossStreet": "ELM ST",
        "LATITUDE": 29.7,
        "LONGITUDE": -95.3,
    }
    seen = []
    for stamp in (1700000000000, 1700000000000.0, "1700000000000", True, 1700000000000):
        for lat in (29.7, "29.7", "29.700000", 29.7):
            rec = builder.build(
                {**base, "CALL_TIME": stamp, "LATITUDE": lat},
                fetched_at=WHEN,
                source_url="u",
                run_id="r",
            )
            fresh = RecordBuilder(cfg).build(
                {**base, "CALL_TIME": stamp, "LATITUDE": lat},
                fetched_at=WHEN,
                source_url="u",
                run_id="r",
            )
            assert rec == fresh
            seen.append((rec["received_at_raw"], rec["coord_granularity"]))
    # equal-hashing values of different types were not taken for one another
    assert {raw for raw, _ in seen} == {"1700000000000", "1700000000000.0", "True"}
    assert len({gran for _, gran in seen}) > 1


def test_record_batch_checks_fields_like_callrecord():
    RecordBatch([{"feed_id": "x"}])
    with pytest.raises(KeyError):
        CallRecord({"not_a_field": 1})
    with pytest.raises(KeyError):
        RecordBatch([{"feed_id": "x"}, {"not_a_field": 1}])


def test_jsonl_lines_are_scrapy_lines_of_callrecords():
    records = sf_records(20)
    records[3] = {**records[3], "raw": {"when": WHEN}}  # json writes this one
    plain, fast = BytesIO(), BytesIO()
    scrapy_exporter = JsonLinesItemExporter(plain, encoding="utf-8")
    ours = RecordJsonLinesExporter(fast, encoding="utf-8")
    for rec in records:
        scrapy_exporter.export_item(CallRecord(rec))
    batch = RecordBatch(records)
    batch.encoded = [record_json(r) for r in records]
    ours.export_item(batch)
    ours.export_item(CallRecord(records[0]))  # single items still work
    a = plain.getvalue().decode().splitlines()
    b = fast.getvalue().decode().splitlines()
    assert len(b) == len(a) + 1
    for x, y in zip(a, b, strict=False):
        assert json.loads(x) == json.loads(y)
        assert list(json.loads(x)) == list(json.loads(y))  # field order too
    assert b[-1] == a[0]


def test_validate_drops_single_records_of_a_batch():
    from scrapy import Spider, signals
    from scrapy.utils.test import get_crawler

    from cfs_spiders.ingest.pipelines import ValidatePipeline

    crawler = get_crawler(Spider)
    spider = Spider.from_crawler(crawler, name="zz_validate")
    dropped = []

    def on_dropped(item, exception, **kw):
        dropped.append(item)

    crawler.signals.connect(on_dropped, signal=signals.item_dropped)
    pipe = ValidatePipeline(False, crawler)
    records = sf_records(5)
    records[2] = {**records[2], "status": "not-a-status"}
    batch = pipe.process_item(RecordBatch(records), spider)
    assert len(batch.records) == 4 and dropped == [records[2]]
    from scrapy.exceptions import DropItem

    with pytest.raises(DropItem):
        pipe.process_item(RecordBatch([records[2]]), spider)


def test_paused_gc_nests_and_restores():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()


def _store_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    install_sql_function(conn)
    try:
        calls = conn.execute(f"SELECT * FROM {CALLS_FROM} ORDER BY feed_id, record_key")
        obs = conn.execute(
            "SELECT feed_id, record_key, fetched_at, last_seen, run_id, "
            f"values_hash, cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM} "
            "ORDER BY 1, 2, 3"
        )
        return [*calls.fetchall(), *obs.fetchall()]
    finally:
        conn.close()


def test_writer_thread_stores_what_a_direct_write_would(tmp_path: Path):
    """Jobs run on the writer thread, in the order sent, on its own connection."""
    cfg = load_config(CONFIGS / "wa_seattle_fire_realtime911.yaml")
    records = sf_records(60)
    for i, rec in enumerate(records):
        rec["call_id"] = rec["record_key"] = f"K{i:03d}"
    direct = Store(tmp_path / "direct.sqlite")
    direct.register_feeds([cfg])
    counts = [direct.write_records(records[i : i + 20]) for i in range(0, 60, 20)]
    direct.close()
    writer = store_thread.acquire(tmp_path / "writer.sqlite", cfg.feed_id)
    try:
        writer.submit(lambda s: s.register_feeds([cfg])).result()

        def job(batch):
            return lambda s: (s.write_records(batch), threading.get_ident())

        futures = [writer.submit(job(records[i : i + 20])) for i in range(0, 60, 20)]
        got = [f.result() for f in futures]
    finally:
        store_thread.release(writer)
    assert [g[0] for g in got] == counts == [(20, 20)] * 3
    assert {g[1] for g in got} == {writer.ident} != {threading.get_ident()}
    assert _store_rows(tmp_path / "direct.sqlite") == _store_rows(
        tmp_path / "writer.sqlite"
    )


def test_one_writer_thread_per_sqlite_database(tmp_path: Path):
    a = store_thread.acquire(tmp_path / "a.sqlite", "feed_one")
    b = store_thread.acquire(tmp_path / "a.sqlite", "feed_two")
    c = store_thread.acquire(tmp_path / "b.sqlite", "feed_one")
    try:
        assert a is b and a is not c  # every feed run of the process, one writer
        pg = store_thread.writer_key("postgresql://h/db", "feed_one")
        assert pg != store_thread.writer_key("postgresql://h/db", "feed_two")
    finally:
        for w in (a, b, c):
            store_thread.release(w)
    assert not a._thread.is_alive() and not c._thread.is_alive()


def refused_batches(tmp_path: Path, **settings: Any) -> tuple[Any, list, Any]:
    """A store pipeline (batches of 10), 25 real San Francisco records of a feed
    the store has not registered (so it refuses every batch), and the crawl that
    sends them: the batches go to the writer while the crawl goes on, and the
    store's refusal is raised at the latest when the run flushes."""
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from cfs_spiders.ingest import pipelines

    db = tmp_path / "cfs.sqlite"
    crawler = get_crawler(
        Spider, {"CFS_DATABASE_URL": str(db), "CFS_STORE_BATCH": 10, **settings}
    )
    pipe = pipelines.StorePipeline(crawler)
    pipe.writer = store_thread.acquire(db, "zz_not_registered")
    records = [{**r, "feed_id": "zz_not_registered"} for r in sf_records(25)]
    for i, rec in enumerate(records):
        rec["call_id"] = rec["record_key"] = f"K{i:03d}"

    async def crawl() -> None:
        await pipe.process_item(RecordBatch(records), None)
        await pipe.flush()

    return pipe, records, crawl


def test_a_failed_batch_is_raised_and_kept_for_the_retry(tmp_path: Path):
    """The store refuses a batch (its feed is not registered): the pipeline raises
    the store's own error and keeps the records, in order, for the next write."""
    pipe, records, crawl = refused_batches(tmp_path)

    try:
        with pytest.raises(sqlite3.IntegrityError):
            asyncio.run(crawl())
        assert pipe.buffer == records  # every record back, in order
        assert not pipe._inflight
        assert pipe.batches == 0 and pipe.written_by == set()
    finally:
        pipe._release()


def test_crawl_with_the_writer_thread_and_without_is_identical(tmp_path: Path):
    feeds = [
        "tx_houston_hec_active_incidents",
        "wa_seattle_fire_realtime911",
        "fl_clearwater_police_active_calls",
    ]
    outs = {}
    for mode in ("off", "thread"):
        db, out = tmp_path / f"{mode}.sqlite", tmp_path / mode
        run_cfs(
            "--db",
            str(db),
            "--output",
            str(out),
            "crawl",
            *feeds,
            "--replay",
            # the thread alone (by default a run of more than one batch sends
            # its batches to the writer process, see the test below)
            env={
                "CFS_STORE_WRITER": mode,
                "CFS_STORE_BATCH": "7",
                "CFS_STORE_PROCESS_AFTER": "off",
            },
        )
        run_cfs("--db", str(db), "--output", str(out), "export")
        outs[mode] = db
        conn = sqlite3.connect(db)
        reports = [
            json.loads(r[0])
            for r in conn.execute(f"SELECT report_json FROM {RUNS_FROM}")
        ]
        conn.close()
        writers = [r["store_writer"] for r in reports]
        assert len(writers) == 54 + 1 + 1
        if mode == "off":  # written on the crawl's own thread
            assert {w["path"] for w in writers} == {"in_process"}
            assert {t for w in writers for t in w["threads"]} == {"MainThread"}
        else:  # by the one writer thread of the database, for every feed
            assert {w["path"] for w in writers} == {"thread"}
            threads = {t for w in writers for t in w["threads"]}
            assert len(threads) == 1 and threads != {"MainThread"}
            assert threads.pop().startswith("cfs-store-")
        assert sum(w["batches"] for w in writers) > len(writers)  # batches of 7
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "compare_outputs.py"),
            str(outs["off"]),
            str(tmp_path / "off"),
            str(outs["thread"]),
            str(tmp_path / "thread"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_store_keeps_the_raw_text_it_is_given(tmp_path: Path):
    """The raw record is stored as the text cut from the record's JSON text the
    pipeline made (not encoded again), and hashed from its canonical bytes."""
    cfg = load_config(CONFIGS / "wa_seattle_fire_realtime911.yaml")
    st = Store(tmp_path / "cfs.sqlite")
    st.register_feeds([cfg])
    recs = sf_records(3)
    for i, rec in enumerate(recs):
        rec["call_id"] = rec["record_key"] = f"K{i}"
    texts = [record_json(r) for r in recs]
    # the first record's text spells its raw record with spaces: the same JSON
    # value, another text; the store must keep this text
    spaced = (
        texts[0][: texts[0].index(',"raw":')]
        + ', "raw": '
        + json.dumps(recs[0]["raw"], ensure_ascii=False)
        + "}"
    )
    st.write_records(recs, [spaced, *texts[1:]])
    rows = st.query(
        "SELECT cfs_raw(raw_dict, raw_deflate) AS raw_json, values_hash FROM "
        f"{OBSERVATIONS_FROM} ORDER BY record_key"
    )
    assert rows[0]["raw_json"] == json.dumps(recs[0]["raw"], ensure_ascii=False)
    assert rows[0]["raw_json"] != raw_json(recs[0], texts[0])
    assert [json.loads(r["raw_json"]) for r in rows] == [r["raw"] for r in recs]
    # the hash is stored as its 16 bytes
    got = [bytes(r["values_hash"]).hex() for r in rows]
    assert got == [change_hash(r["raw"]) for r in recs]
    st.close()


def test_large_runs_write_from_the_store_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Past ``CFS_STORE_PROCESS_AFTER`` records a SQLite run's batches go to the
    store's writer process (one per database); the store, calls.csv and the JSON
    Lines are the same as written by the thread alone, and the run reports say
    which wrote. With 0 every batch of these small captures goes there; by
    default (one less than a batch) a run that fills a batch sends every batch
    there, its first included, and a run smaller than a batch (a poll) stays on
    the thread."""
    feeds = [
        "tx_houston_hec_active_incidents",
        "wa_seattle_fire_realtime911",
        "fl_clearwater_police_active_calls",
    ]
    monkeypatch.delenv("CFS_STORE_PROCESS_AFTER", raising=False)  # the default
    outs = {}
    for mode in ("off", "0", None):
        name = mode or "default"
        db, out = tmp_path / f"p{name}.sqlite", tmp_path / f"p{name}"
        env = {"CFS_STORE_BATCH": "7"}
        if mode is not None:
            env["CFS_STORE_PROCESS_AFTER"] = mode
        run_cfs(
            "--db",
            str(db),
            "--output",
            str(out),
            "crawl",
            *feeds,
            "--replay",
            env=env,
        )
        run_cfs("--db", str(db), "--output", str(out), "export")
        outs[name] = (db, out)
        conn = sqlite3.connect(db)
        reports = [
            json.loads(r[0])
            for r in conn.execute(f"SELECT report_json FROM {RUNS_FROM}")
        ]
        conn.close()
        writers = [r["store_writer"] for r in reports]
        assert len(writers) == 56
        if mode == "off":
            assert not any(w["process"] for w in writers)
        elif mode == "0":
            assert all(w["process"] for w in writers)
            assert {t for w in writers for t in w["threads"]} == {"cfs-store-process"}
        else:
            # a run that fills a batch (7 records or more)
            large = [r["store_writer"] for r in reports if r["records"] >= 7]
            small = [r["store_writer"] for r in reports if 0 < r["records"] < 7]
            assert small and any(w["batches"] >= 2 for w in large)
            # every batch of a large run, its first too, from the process
            assert all(w["threads"] == ["cfs-store-process"] for w in large)
            assert not any(w["process"] for w in small)
            assert {t for w in small for t in w["threads"]} == {
                f"cfs-store-{db.resolve()}"
            }
    import subprocess
    import sys

    for other in ("0", "default"):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "compare_outputs.py")]
            + [str(p) for p in (*outs["off"], *outs[other])],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_batch_the_store_process_refuses_is_raised_and_kept(tmp_path: Path):
    """The store process refuses a batch (its feed is not registered): the store's
    own error is raised in the crawl and every record is kept, in order."""
    pipe, records, crawl = refused_batches(tmp_path, CFS_STORE_PROCESS_AFTER=0)

    try:
        with pytest.raises(sqlite3.IntegrityError):
            asyncio.run(crawl())
        assert pipe.process is not None  # the batches did go to the process
        assert pipe.buffer == records and len(pipe.exact) == len(records)
        assert pipe.batches == 0
    finally:
        pipe._release()
