#!/usr/bin/env python
"""A poll's life-cycle work against the size of the feed's history.

A store gets ``--history`` calls of an active-calls board (synthetic calls, not
captured data: each seen on one listing and gone at the next, as a board's calls
are) and a board of 50 open calls; then the board is polled unchanged ``--polls``
times. Each poll is what a run does in the store: write the 50 records (no new
version: only last_seen moves) and record the complete listing with its keys
(``mark_disappeared``). The figure is the median wall time of a poll, split into
the write and the listing. With the life cycle proportional to the board, the
same within noise at 10,000 and at 1,000,000 historic calls.

``python bench/lifecycle.py --history 10000 1000000`` (prints a table and writes
``bench/results/lifecycle.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cfs_spiders.config.loader import get_config  # noqa: E402
from cfs_spiders.store.connect import open_store  # noqa: E402

FEED = "fl_clearwater_police_active_calls"
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def stamp(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(key: str, t: str, run: str) -> dict:
    return {
        "feed_id": FEED,
        "record_key": key,
        "call_id": key,
        "fetched_at": t,
        "run_id": run,
        "status": "dispatched",
        "status_basis": "derived_from_timestamps",
        "address_raw": "100 BLOCK OF MAIN ST",
        "call_type_raw": "TRAFFIC STOP",
        "config_version": 1,
        "raw": {"Master_Incident_Number": key, "Address": "100 BLOCK OF MAIN ST"},
    }


def fill(store, history: int, chunk: int = 5000) -> int:
    """``history`` calls, ``chunk`` per listing, each gone at the next listing;
    returns the minute of the last listing."""
    minute = 0
    for start in range(0, history, chunk):
        t = stamp(minute)
        keys = [f"H{i:08d}" for i in range(start, min(start + chunk, history))]
        store.write_records([record(k, t, f"fill-{minute}") for k in keys])
        store.mark_disappeared(FEED, t, "active_calls", keys=set(keys))
        minute += 5
    return minute


def measure(history: int, polls: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "cfs.sqlite")
        store.register_feeds([get_config(FEED)])
        started = time.perf_counter()
        minute = fill(store, history)
        filled = time.perf_counter() - started
        board = [f"B{i:03d}" for i in range(50)]
        writes, listings = [], []
        for n in range(polls + 1):
            t = stamp(minute + 5 * n)
            records = [record(k, t, f"poll-{n}") for k in board]
            a = time.perf_counter()
            store.write_records(records)
            b = time.perf_counter()
            closed = store.mark_disappeared(FEED, t, "active_calls", keys=set(board))
            c = time.perf_counter()
            if n:  # the first poll brings the board (new calls)
                writes.append(b - a)
                listings.append(c - b)
            elif history:
                assert closed == min(history, 5000) - 0, closed
        calls = store.query("SELECT COUNT(*) AS n FROM calls")[0]["n"]
        open_calls = store.query(
            "SELECT COUNT(*) AS n FROM calls WHERE disappeared_at IS NULL"
        )[0]["n"]
        store.close()
    assert calls == history + 50 and open_calls == 50
    return {
        "history": history,
        "polls": polls,
        "fill_s": round(filled, 1),
        "write_ms": round(1000 * statistics.median(writes), 2),
        "listing_ms": round(1000 * statistics.median(listings), 2),
        "poll_ms": round(
            1000
            * statistics.median(w + x for w, x in zip(writes, listings, strict=True)),
            2,
        ),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--history", type=int, nargs="+", default=[10_000, 1_000_000])
    p.add_argument("--polls", type=int, default=30)
    p.add_argument("--out", type=Path, default=ROOT / "bench/results/lifecycle.json")
    args = p.parse_args()
    results = [measure(h, args.polls) for h in args.history]
    print("| historic calls | poll ms (median) | write ms | listing ms |")
    print("|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['history']:,} | {r['poll_ms']} | {r['write_ms']} | "
            f"{r['listing_ms']} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
