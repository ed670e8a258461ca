"""Life cycle of a call on a live listing: first seen, last seen, gone.

Clearwater's 52 recorded board snapshots are replayed as 52 runs (the real CLI, in a
subprocess: a Twisted reactor runs once per process), and every call's first and
last snapshot, its disappearance and its closing are checked against a count made
here by reading the capture file directly. Portland's "most recent 100" window is
checked the same way: leaving a recent-window listing sets ``disappeared_at`` but
never closes the call. Runs written out of order must give the same answer.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfs_spiders.config.loader import PROJECT_ROOT, get_config
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    LISTINGS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_COLUMNS,
    PRESENCE_FROM,
    RUNS_FROM,
    by_call,
)
from cfs_spiders.store.connect import open_store
from cfs_spiders.store.raw import install_sql_function

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
CLEARWATER = "fl_clearwater_police_active_calls"
PORTLAND = "or_portland_boec_911_incidents"


def iso(value: str | datetime) -> str:
    """The store's time text: ISO UTC to the second."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clearwater_snapshots() -> list[tuple[str, list[dict[str, Any]]]]:
    path = FIXTURES / CLEARWATER / "archive_2025-12-13.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    snaps = [(iso(s["timestamp"]), s["calls"]) for s in data["snapshots"]]
    return sorted(snaps, key=lambda s: s[0])


def portland_snapshots() -> list[tuple[str, list[str]]]:
    folder = FIXTURES / PORTLAND
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    out = []
    for snap in manifest["snapshots"]:
        xml = (folder / snap["responses"][0]["file"]).read_text(encoding="utf-8")
        ids = re.findall(r"<id>tag:[^<]*/([A-Z]{2}\d+)</id>", xml)
        out.append((iso(str(snap["captured_at"])), ids))
    return sorted(out, key=lambda s: s[0])


def expected_lifecycle(snapshots: list[tuple[str, list[str]]]) -> dict[str, dict]:
    """Per call: first and last snapshot it was in, and the listing it left at."""
    times = [t for t, _ in snapshots]
    seen: dict[str, list[int]] = {}
    for i, (_, keys) in enumerate(snapshots):
        for key in keys:
            seen.setdefault(key, []).append(i)
    out = {}
    for key, where in seen.items():
        gone = next((i for i in range(where[-1] + 1, len(times))), None)
        out[key] = {
            "first_seen": times[where[0]],
            "last_seen": times[where[-1]],
            "disappeared_at": times[gone] if gone is not None else None,
            "sightings": len(where),
        }
    return out


def calls(db: Path, feed_id: str) -> dict[str, dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = con.execute(
        "SELECT record_key, first_seen, last_seen, disappeared_at, status, "
        f"status_basis, received_at_utc FROM {CALLS_FROM} WHERE feed_id = ?",
        (feed_id,),
    ).fetchall()
    con.close()
    return {r["record_key"]: dict(r) for r in rows}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both feeds replayed, every snapshot one run, into a fresh SQLite store."""
    tmp = tmp_path_factory.mktemp("lifecycle")
    db = tmp / "cfs.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFS_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfs_spiders.cli",
            "--db",
            str(db),
            "--output",
            str(tmp / "out"),
            "crawl",
            CLEARWATER,
            PORTLAND,
            "--replay",
            "--no-jsonl",
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "54 runs: 54 ok" in proc.stderr, proc.stderr[-2000:]
    return db


def test_clearwater_every_call_first_last_and_closed(replayed: Path) -> None:
    snaps = clearwater_snapshots()
    assert len(snaps) == 52
    expected = expected_lifecycle(
        [(t, [c["Master_Incident_Number"] for c in cs]) for t, cs in snaps]
    )
    got = calls(replayed, CLEARWATER)
    assert set(got) == set(expected)
    left = {k for k, e in expected.items() if e["disappeared_at"] is not None}
    # the measured facts of this capture: 161 calls, 154 left the board
    assert (len(expected), len(left)) == (161, 154)
    for key, exp in expected.items():
        row = got[key]
        assert row["first_seen"] == exp["first_seen"], key
        assert row["last_seen"] == exp["last_seen"], key
        assert row["disappeared_at"] == exp["disappeared_at"], key
        if key in left:
            assert (row["status"], row["status_basis"]) == ("closed", "feed_presence")
        else:
            assert row["status"] != "closed", key
    con = sqlite3.connect(replayed)
    listings = con.execute(
        f"SELECT COUNT(*) FROM {LISTINGS_FROM} WHERE feed_id = ?", (CLEARWATER,)
    ).fetchone()[0]
    closed = con.execute(
        f"SELECT SUM(closed_calls) FROM {RUNS_FROM} WHERE feed_id = ?", (CLEARWATER,)
    ).fetchone()[0]
    con.close()
    assert listings == 52
    assert closed == len(left)  # each call counted closed once, by the run it left


def capture_versions(
    snaps: list[tuple[str, list[dict[str, Any]]]], key_field: str
) -> dict[str, list[tuple[str, str, dict]]]:
    """Per call, read from the capture: each run of equal published values as
    (first fetch, last fetch, the call object)."""
    out: dict[str, list[tuple[str, str, dict]]] = {}
    for t, cs in snaps:
        for c in cs:
            runs = out.setdefault(c[key_field], [])
            if runs and runs[-1][2] == c:
                runs[-1] = (runs[-1][0], t, c)
            else:
                runs.append((t, t, c))
    return out


SIGHTINGS_SQL = (
    "SELECT p.record_key, COUNT(*) AS n FROM "
    + by_call("presence", PRESENCE_COLUMNS, alias="p")
    + " JOIN listings l ON "
    "l.feed_key = p.feed_key AND l.fetched_at BETWEEN p.first_seen AND "
    "p.last_seen WHERE p.feed_key = (SELECT feed_key FROM feeds WHERE feed_id = ?) "
    "GROUP BY p.record_key"
)
VERSIONS_SQL = (
    f"SELECT record_key, COUNT(*) AS n FROM {OBSERVATIONS_FROM} WHERE feed_id = ? "
    "GROUP BY record_key"
)


def sightings_from_presence(con: sqlite3.Connection, feed_id: str) -> dict[str, int]:
    """How many complete listings each call was on, from its presence spans."""
    return dict(con.execute(SIGHTINGS_SQL, (feed_id,)).fetchall())


def per_call(store: Any, sql: str, feed_id: str) -> dict[str, int]:
    """``SIGHTINGS_SQL`` or ``VERSIONS_SQL`` through a store (either engine)."""
    return {r["record_key"]: int(r["n"]) for r in store.query(sql, (feed_id,))}


def clearwater_changes(snaps: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, int]:
    """Versions per call the capture implies (first sighting + each change)."""
    return {
        k: len(v) for k, v in capture_versions(snaps, "Master_Incident_Number").items()
    }


def test_clearwater_every_change_is_an_observation(replayed: Path) -> None:
    """One observation per version: the first sighting and each change of the
    published call object, with that object as its raw record and the first and
    last fetch that showed it; every sighting is kept as presence on listings."""
    snaps = clearwater_snapshots()
    expected = capture_versions(snaps, "Master_Incident_Number")
    sightings: dict[str, int] = {}
    for _, cs in snaps:
        for c in cs:
            key = c["Master_Incident_Number"]
            sightings[key] = sightings.get(key, 0) + 1
    con = sqlite3.connect(replayed)
    install_sql_function(con)
    rows = con.execute(
        "SELECT record_key, fetched_at, last_seen, cfs_raw(raw_dict, raw_deflate), "
        "values_hash FROM "
        f"{OBSERVATIONS_FROM} WHERE feed_id = ? ORDER BY record_key, fetched_at",
        (CLEARWATER,),
    ).fetchall()
    current = dict(
        con.execute(
            f"SELECT record_key, values_hash FROM {CALLS_FROM} WHERE feed_id = ?",
            (CLEARWATER,),
        ).fetchall()
    )
    presence = sightings_from_presence(con, CLEARWATER)
    con.close()
    got: dict[str, list[tuple[str, str, dict]]] = {}
    for key, first, last, raw, _ in rows:
        got.setdefault(key, []).append((first, last, json.loads(raw)))
    assert got == expected
    assert len(rows) == 161 + 6  # six calls changed a value once
    assert sum(len(v) - 1 for v in expected.values()) == 6
    assert presence == sightings and sum(sightings.values()) == 319
    # the call's current hash is its latest version's
    latest = {key: digest for key, *_, digest in rows}
    assert current == latest


def test_portland_recent_window_disappears_but_never_closes(replayed: Path) -> None:
    snaps = portland_snapshots()
    assert [len(ids) for _, ids in snaps] == [100, 100]
    expected = expected_lifecycle(snaps)
    got = calls(replayed, PORTLAND)
    assert set(got) == set(expected)
    rolled_off = {k for k, e in expected.items() if e["disappeared_at"]}
    assert len(rolled_off) == len(set(snaps[0][1]) - set(snaps[1][1])) > 0
    for key, exp in expected.items():
        row = got[key]
        assert (row["first_seen"], row["last_seen"], row["disappeared_at"]) == (
            exp["first_seen"],
            exp["last_seen"],
            exp["disappeared_at"],
        ), key
        # leaving a "most recent 100" window says nothing about the call's state
        assert row["status"] != "closed", key
        assert row["status_basis"] != "feed_presence", key
    # publication delay is measurable for the calls first seen in the second poll
    new = [got[k] for k in set(snaps[1][1]) - set(snaps[0][1])]
    assert new and all(c["received_at_utc"] <= c["first_seen"] for c in new)


# ------------------------------------------------------ order does not matter
def _record(feed_id: str, key: str, fetched: str, values: dict[str, Any]) -> dict:
    return {
        "feed_id": feed_id,
        "record_key": key,
        "call_id": key,
        "fetched_at": fetched,
        "run_id": f"{feed_id}-{fetched}",
        "status": "dispatched",
        "status_basis": "derived_from_timestamps",
        "source_url": "https://example.invalid/",
        "config_version": 1,
        "is_officer_initiated": False,
        "raw": values,
    }


def write_snapshot(
    store: Any,
    feed_id: str,
    board: str,
    fetched: str,
    rows: list[dict[str, Any]],
    key_field: str,
) -> None:
    store.write_records([_record(feed_id, r[key_field], fetched, r) for r in rows])
    store.mark_disappeared(feed_id, fetched, board)


def lifecycle_rows(store: Any, feed_id: str) -> list[tuple]:
    return [
        tuple(r.values())
        for r in store.query(
            "SELECT record_key, first_seen, last_seen, disappeared_at, status, "
            f"status_basis FROM {CALLS_FROM} WHERE feed_id = ? ORDER BY record_key",
            (feed_id,),
        )
    ]


def test_runs_written_out_of_order_give_the_same_life_cycle(tmp_path: Path) -> None:
    """Several writers (or a re-imported history) commit runs in any order."""
    cfg = get_config(CLEARWATER)
    snaps = clearwater_snapshots()
    # a call that leaves and comes back: closed in between, open again at the end
    stays = sorted(
        set.intersection(
            *({c["Master_Incident_Number"] for c in cs} for _, cs in snaps[-4:])
        )
    )[0]
    snaps[-3] = (
        snaps[-3][0],
        [c for c in snaps[-3][1] if c["Master_Incident_Number"] != stays],
    )
    results = []
    for seed in (None, 1, 2):
        store = open_store(tmp_path / f"order-{seed}.sqlite")
        store.register_feeds([cfg])
        order = list(snaps)
        if seed is not None:
            random.Random(seed).shuffle(order)
        for fetched, rows in order:
            write_snapshot(
                store,
                CLEARWATER,
                "active_calls",
                fetched,
                rows,
                "Master_Incident_Number",
            )
        results.append(lifecycle_rows(store, CLEARWATER))
        store.close()
    assert results[0] == results[1] == results[2]
    rows = {r[0]: r for r in results[0]}
    last = snaps[-1][0]
    assert rows[stays][2:5] == (last, None, "dispatched")
    expected = expected_lifecycle(
        [(t, [c["Master_Incident_Number"] for c in cs]) for t, cs in snaps]
    )
    for key, exp in expected.items():
        assert rows[key][1:4] == (
            exp["first_seen"],
            exp["last_seen"],
            exp["disappeared_at"],
        ), key


def test_a_call_that_comes_back_reopens(tmp_path: Path) -> None:
    store = open_store(tmp_path / "back.sqlite")
    store.register_feeds([get_config(CLEARWATER)])
    t = ["2025-12-13T00:00:00Z", "2025-12-13T00:05:00Z", "2025-12-13T00:10:00Z"]
    a, b = {"id": "A"}, {"id": "B"}
    write_snapshot(store, CLEARWATER, "active_calls", t[0], [a, b], "id")
    write_snapshot(store, CLEARWATER, "active_calls", t[1], [b], "id")
    assert lifecycle_rows(store, CLEARWATER)[0][3:] == (t[1], "closed", "feed_presence")
    write_snapshot(store, CLEARWATER, "active_calls", t[2], [a, b], "id")
    assert lifecycle_rows(store, CLEARWATER)[0][1:] == (
        t[0],
        t[2],
        None,
        "dispatched",
        "derived_from_timestamps",
    )
    # "not modified": what was on the board is still on it
    assert store.touch_listing(CLEARWATER, "2025-12-13T00:15:00Z", "active_calls") == 2
    assert {r[2] for r in lifecycle_rows(store, CLEARWATER)} == {"2025-12-13T00:15:00Z"}
    store.close()


def test_spans_past_a_time_read_the_open_and_gone_calls_not_the_history(
    replayed: Path,
) -> None:
    """``presence`` has no index on ``last_seen`` (schema 4 on): the spans a
    listing's close asks for (those reaching past its time) are found from the
    calls seen since, through the partial indexes of open and gone calls, each
    then one seek into presence's primary key: the board's work, not the feed's
    history (SQLite's plan shows it). And the answer is the same as a scan of
    every span, at every listing of Clearwater's replay."""
    from cfs_spiders.store.lifecycle import SPANS_PAST, spans_past_params

    con = sqlite3.connect(replayed)
    try:
        indexes = {
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert "presence_last_seen" not in indexes
        (feed,) = con.execute(
            "SELECT feed_key FROM feeds WHERE feed_id = ?", (CLEARWATER,)
        ).fetchone()
        listings = [
            r[0]
            for r in con.execute(
                "SELECT fetched_at FROM listings WHERE feed_key = ? ORDER BY 1", (feed,)
            )
        ]
        assert len(listings) == 52
        for op, first in ((">", "<="), (">=", "<="), (">", "<")):
            sql = SPANS_PAST.format(
                cols="record_key, first_seen", ph="?", op=op, first=first
            )
            plan = " | ".join(
                r[3]
                for r in con.execute(
                    f"EXPLAIN QUERY PLAN {sql}", spans_past_params(feed, "t")
                )
            )
            # presence (schema 5: keyed by call_key) as by_call reads it, h
            assert "SEARCH h USING PRIMARY KEY (call_key=?" in plan, plan
            assert "SEARCH calls USING INDEX calls_open (feed_key=? AND last_seen" in (
                plan
            ), plan
            # (a covering index now: the call key is the rowid it holds)
            assert (
                "SEARCH calls USING COVERING INDEX calls_gone (feed_key=? AND "
                "disappeared_at" in (plan)
            ), plan
            assert "SCAN" not in plan, plan
            for t in listings:
                got = set(con.execute(sql, spans_past_params(feed, t)).fetchall())
                scan = set(
                    con.execute(
                        f"SELECT record_key, first_seen FROM {PRESENCE_FROM} WHERE "
                        f"feed_key = ? AND last_seen {op} ? AND first_seen {first} ?",
                        (feed, t, t),
                    ).fetchall()
                )
                assert got == scan, (op, t)
        # the replay's later listings do have spans reaching past earlier ones
        assert (
            con.execute(
                SPANS_PAST.format(cols="COUNT(*)", ph="?", op=">", first="<="),
                spans_past_params(feed, listings[10]),
            ).fetchone()[0]
            > 0
        )
    finally:
        con.close()
