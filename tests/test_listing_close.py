"""A listing's close takes the listing from the store, not from the crawl.

Why: a backfill of a live feed used to keep the key of every call it listed until
the run ended (a million keys at 1,000,000 records), only to name the complete
listing that decides disappearances. The store knows it already: a call written at
the run's fetch time has ``last_seen`` there, and the few sightings the span rules
placed (runs committed out of order) are named per fetch time (``_sighted``), handed
back by the writer process with each batch. These tests check that the answer is
the one the explicit complete listing gives, on the real captures, in any commit
order, when the batches are written by one store object and the run is closed by
another (the writer process and the writer thread), and that the crawl's pipeline
holds nothing per call between batches.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cfs_spiders.config.loader import get_config
from cfs_spiders.records.items import RecordBatch
from cfs_spiders.store import thread as store_thread
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    LISTINGS_FROM,
    OBSERVATIONS_FROM,  # noqa: F401
    PRESENCE_FROM,
    RUNS_FROM,
)
from cfs_spiders.store.connect import open_store
from tests.test_history import _record
from tests.test_lifecycle import (
    CLEARWATER,
    PORTLAND,
    clearwater_snapshots,
    portland_snapshots,
    replayed,  # noqa: F401 - the fixture
)

KEY = "Master_Incident_Number"


def tables(db: Path, feed_id: str) -> dict[str, list[tuple]]:
    con = sqlite3.connect(db)
    out = {
        name: con.execute(sql, (feed_id,)).fetchall()
        for name, sql in {
            "calls": "SELECT record_key, first_seen, last_seen, disappeared_at, "
            f"status, status_basis FROM {CALLS_FROM} WHERE feed_id = ? ORDER BY record_key",
            "presence": f"SELECT record_key, first_seen, last_seen FROM {PRESENCE_FROM} "
            "WHERE feed_id = ? ORDER BY record_key, first_seen",
            "versions": "SELECT record_key, fetched_at, last_seen, values_hash FROM "
            f"{OBSERVATIONS_FROM} WHERE feed_id = ? ORDER BY record_key, fetched_at",
            "listings": f"SELECT fetched_at FROM {LISTINGS_FROM} WHERE feed_id = ? "
            "ORDER BY fetched_at",
        }.items()
    }
    con.close()
    return out


def snapshots(feed_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """The real capture's snapshots as (fetch time, raw calls)."""
    if feed_id == CLEARWATER:
        return [
            (t, [{**c, "_key": c[KEY]} for c in cs]) for t, cs in clearwater_snapshots()
        ]
    return [(t, [{"_key": k, "id": k} for k in ids]) for t, ids in portland_snapshots()]


def records(feed_id: str, t: str, calls: list[dict[str, Any]]) -> list[dict]:
    return [
        {
            **_record(feed_id, c["_key"], t, ""),
            "raw": {k: v for k, v in c.items() if k != "_key"},
        }
        for c in calls
    ]


class Asked:
    """A run's listing that can only be asked (``store.lifecycle.ListedKeys``),
    counting what the store asked it."""

    def __init__(self, keys: set[str], answer: bool = True) -> None:
        self.keys, self.answer, self.asked = keys, answer, 0

    def among(self, keys: set[str]) -> set[str]:
        self.asked += len(keys)
        return keys & self.keys if self.answer else set()


def replay_both(
    tmp_path: Path, feed_id: str, seed: int | None, answer: bool = True
) -> tuple[dict, dict, int]:
    """Every snapshot one run, in batches of 7, committed in the given order:
    into ``ref`` closed with the complete listing of keys; into ``new`` written
    by one store object and closed by another (as the writer process and the
    writer thread do) with a listing it may only ask."""
    cfg = get_config(feed_id)
    order = snapshots(feed_id)
    if seed is not None:
        random.Random(seed).shuffle(order)
    ref = open_store(tmp_path / "ref.sqlite")
    writer = open_store(tmp_path / "new.sqlite")
    closer = open_store(tmp_path / "new.sqlite")
    for s in (ref, writer):
        s.register_feeds([cfg])
    asked = 0
    for t, calls in order:
        recs = records(feed_id, t, calls)
        for i in range(0, len(recs), 7):
            ref.write_records(recs[i : i + 7])
            writer.write_records(recs[i : i + 7])
        writer._sighted.clear()  # what the writer process does after each batch
        keys = {c["_key"] for c in calls}
        listing = Asked(keys, answer)
        ref.mark_disappeared(feed_id, t, cfg.board, keys=keys)
        closer.mark_disappeared(feed_id, t, cfg.board, keys=listing)
        asked += listing.asked
    for s in (ref, writer, closer):
        s.close()
    return (
        tables(tmp_path / "new.sqlite", feed_id),
        tables(tmp_path / "ref.sqlite", feed_id),
        asked,
    )


@pytest.mark.parametrize("feed_id", [CLEARWATER, PORTLAND])
@pytest.mark.parametrize("seed", [None, 5, 6])
def test_the_store_closes_a_listing_as_its_complete_listing_would(
    feed_id: str, seed: int | None, tmp_path: Path
) -> None:
    """In order or shuffled: the same calls, disappearances, closures, presence,
    versions and listings as closing with the complete listing; in order the
    store asks about no call at all."""
    new, ref, asked = replay_both(tmp_path, feed_id, seed)
    assert new == ref
    if seed is None:
        assert asked == 0
    elif feed_id == CLEARWATER:  # calls on many snapshots: some seen later
        assert asked > 0


def test_the_asked_calls_are_what_makes_an_out_of_order_close_exact(
    tmp_path: Path,
) -> None:
    """The same shuffled runs closed with a listing that answers nothing: the
    tables differ (so the test above can fail)."""
    new, ref, asked = replay_both(tmp_path, CLEARWATER, 5, answer=False)
    assert asked > 0
    assert new["presence"] != ref["presence"]


def test_the_pipeline_holds_nothing_per_call_between_batches(tmp_path: Path):
    """A live listing's run of 600 calls through the store pipeline and the
    writer process, in batches of 10: nothing the pipeline keeps grows with the
    calls (it used to keep every key until the run closed), and the batches in
    flight keep only their texts."""
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from cfs_spiders.ingest import pipelines

    db = tmp_path / "cfs.sqlite"
    store = open_store(db)
    store.register_feeds([get_config(CLEARWATER)])
    store.close()
    crawler = get_crawler(
        Spider,
        {
            "CFS_DATABASE_URL": str(db),
            "CFS_STORE_BATCH": 10,
            "CFS_STORE_PROCESS_AFTER": 0,
        },
    )
    pipe = pipelines.StorePipeline(crawler)
    pipe.writer = store_thread.acquire(db, CLEARWATER)
    pipe.listing_keys = pipelines.KeySpool()  # as open_spider does on a listing
    t = "2025-12-13T17:00:00Z"
    batches = [
        [_record(CLEARWATER, f"K{i:04d}", t, str(i)) for i in range(j, j + 10)]
        for j in range(0, 600, 10)
    ]
    largest: list[int] = []
    inflight_records: list[Any] = []

    def sizes() -> int:
        return max(
            (len(v) for v in vars(pipe).values() if isinstance(v, list | set | dict)),
            default=0,
        )

    async def crawl() -> None:
        for batch in batches:
            await pipe.process_item(RecordBatch(batch), None)
            largest.append(sizes())
            inflight_records.extend(kept for _, kept, *_ in pipe._inflight)
        await pipe.flush()

    try:
        asyncio.run(crawl())
        assert pipe.process is not None and pipe.batches == 60
        assert max(largest) < 60  # not the 600 keys listed
        assert pipe.listing_keys is not None and pipe.listing_keys.count == 600
        # a batch sent to the process is held as its texts only
        assert inflight_records and all(k == {} for k in inflight_records)
        spool = pipe.listing_keys
        assert spool.among({"K0000", "K0599", "K0600"}) == {"K0000", "K0599"}

        def close(s: Any) -> int:
            return s.mark_disappeared(CLEARWATER, t, "active_calls", keys=spool)

        assert asyncio.run(pipe._run(close)) == 0
        con = sqlite3.connect(db)
        assert con.execute(f"SELECT COUNT(*) FROM {LISTINGS_FROM}").fetchone()[0] == 1
        con.close()
    finally:
        pipe._release()


def test_crawl_through_the_writer_process_closes_as_the_thread_does(
    replayed: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Clearwater's 52 and Portland's snapshots replayed as polls with every batch
    (of 7) written by the writer process: the same calls, disappearances,
    closures, presence and listings as the writer thread's store."""
    db = tmp_path / "cfs.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFS_")}
    env.update(CFS_STORE_PROCESS_AFTER="0", CFS_STORE_BATCH="7")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfs_spiders.cli",
            "--db",
            str(db),
            "--output",
            str(tmp_path / "out"),
            "crawl",
            CLEARWATER,
            PORTLAND,
            "--replay",
            "--no-jsonl",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    con = sqlite3.connect(db)
    reports = [
        json.loads(r[0]) for r in con.execute(f"SELECT report_json FROM {RUNS_FROM}")
    ]
    con.close()
    assert all(r["store_writer"]["process"] for r in reports if r["records"])
    for feed_id in (CLEARWATER, PORTLAND):
        assert tables(db, feed_id) == tables(replayed, feed_id), feed_id
