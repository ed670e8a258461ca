"""The live path against loopback servers: what a remote server sends can't rewrite
history, and scheduled polls keep the full life cycle (issue 15).

- Clearwater's real five-minute snapshots (``archive_2025-12-13.json``) are served
  one per ``cfs crawl --due`` poll, every reply carrying ``X-Cfs-Captured-At: 2099``
  and ``X-Cfs-Listing: partial`` (headers only a replay may honour), then an empty
  listing: the calls that left each listing (counted from the capture) close, the
  empty listing closes the rest, and every poll exits 0.
- San Francisco's real rows (SODA) plus one synthetic row dated 2099 (cad_number
  ``SYNTHETIC-FUTURE``): the high-water mark stays at the real maximum, the run
  report flags the row, and a future mark already stored cannot stop polling.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import yaml
from faultserver import FaultServer, Reply, run_cfs
from test_incremental import SF, FeedServer, utc_mark, write_configs

from cfs_spiders.config.loader import PROJECT_ROOT, get_config
from cfs_spiders.store.base import CALLS_FROM, FEED_STATE_FROM, RUNS_FROM  # noqa: F401

CLEARWATER = "fl_clearwater_police_active_calls"
ARCHIVE = PROJECT_ROOT / "tests" / "fixtures" / CLEARWATER / "archive_2025-12-13.json"
HOSTILE_HEADERS = {
    "X-Cfs-Captured-At": "2099-01-01T00:00:00Z",
    "X-Cfs-Listing": "partial",
}


def snapshots() -> list[list[dict[str, Any]]]:
    data = json.loads(ARCHIVE.read_text(encoding="utf-8"))
    return [s["calls"] for s in data["snapshots"]]


def ids(calls: list[dict[str, Any]]) -> set[str]:
    return {c["Master_Incident_Number"] for c in calls}


def rows(db: Path, sql: str, *params: Any) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def clearwater_config(folder: Path, url: str, **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load(get_config(CLEARWATER).path.read_text(encoding="utf-8"))
    cfg.update(urls=[url], update_interval_minutes=0.001, **extra)
    (folder / f"{CLEARWATER}.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return folder


def test_due_polls_close_exactly_the_calls_that_left(tmp_path: Path) -> None:
    snaps = snapshots()[:6]
    listings: list[list[dict[str, Any]]] = [*snaps, []]  # then a quiet board
    current = {"i": 0}

    def answer(_query: dict[str, str]) -> Reply:
        body = json.dumps(listings[current["i"]])
        return Reply(body=body, headers=dict(HOSTILE_HEADERS))

    db, out = tmp_path / "cfs.sqlite", tmp_path / "out"
    with FaultServer() as srv:
        srv.route("/activecalls", answer)
        configs = clearwater_config(tmp_path / "configs", srv.url("/activecalls"))
        expected_closed = []
        for i, listing in enumerate(listings):
            current["i"] = i
            if i:
                time.sleep(1.1)  # a later fetch time (the store keeps seconds)
                expected_closed.append(len(ids(listings[i - 1]) - ids(listing)))
            proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
            assert proc.returncode == 0, proc.stderr[-3000:]
    runs = rows(
        db,
        f"SELECT status, closed_calls, fetched_at, records FROM {RUNS_FROM} "
        "WHERE feed_id = ? ORDER BY started_at",
        CLEARWATER,
    )
    assert len(runs) == len(listings)
    assert all(r[0] == "ok" for r in runs), runs
    # the fetch time is the poll's own, never the 2099 a live server sent
    assert all(r[2] < "2030" for r in runs), runs
    assert [r[1] for r in runs[1:]] == expected_closed
    assert runs[-1][3] == 0 and runs[-1][1] == len(ids(listings[-2])) > 0
    seen = set().union(*(ids(s) for s in snaps))
    calls = rows(
        db,
        f"SELECT record_key, first_seen, disappeared_at, status FROM {CALLS_FROM} "
        "WHERE feed_id = ?",
        CLEARWATER,
    )
    assert len(calls) == len(seen)
    assert all(c[1] < "2030" for c in calls)
    # after the empty listing every call is gone and closed, with a time on feed
    assert all(c[2] is not None and c[3] == "closed" for c in calls), calls[:3]


def test_empty_board_faulted_only_after_its_quiet_period(tmp_path: Path) -> None:
    snap = snapshots()[0]
    replies = [Reply(body=json.dumps(snap)), Reply(body="[]")]
    db, out = tmp_path / "cfs.sqlite", tmp_path / "out"
    with FaultServer() as srv:
        srv.route("/activecalls", *replies)
        configs = clearwater_config(
            tmp_path / "configs",
            srv.url("/activecalls"),
            thresholds={"quiet_period_minutes": 0.25},
        )
        statuses = []
        # busy, empty (quiet), empty past the quiet period (15 s after the busy one)
        for pause in (1.1, 16, 0):
            proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
            statuses.append(proc.returncode)
            time.sleep(pause)
    runs = rows(
        db,
        f"SELECT status, closed_calls, report_json FROM {RUNS_FROM} ORDER BY started_at",
    )
    assert [r[0] for r in runs] == ["ok", "ok", "degraded"], runs
    assert runs[1][1] == len(ids(snap))  # the quiet listing closed its calls
    reasons = json.loads(runs[2][2])["degraded_reasons"]
    assert any("quiet_period_minutes" in r for r in reasons), reasons
    assert statuses[:2] == [0, 0]


def test_future_row_never_freezes_the_high_water_mark(tmp_path: Path) -> None:
    server = FeedServer()
    try:
        real_mark = max(r["call_last_updated_at"] for r in server.soda)
        synthetic = dict(server.soda[0])
        synthetic["cad_number"] = "SYNTHETIC-FUTURE"
        synthetic["call_last_updated_at"] = "2099-01-01T00:00:00.000"
        server.soda.append(synthetic)
        configs = write_configs(tmp_path / "configs", server, interval=0.001)
        (configs / f"{CLEARWATER}.yaml").unlink()
        db, out = tmp_path / "cfs.sqlite", tmp_path / "out"
        proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
        assert proc.returncode == 0, proc.stderr[-3000:]
        [(mark,)] = rows(
            db, f"SELECT high_water FROM {FEED_STATE_FROM} WHERE feed_id=?", SF
        )
        assert mark == utc_mark(real_mark)
        report = json.loads(rows(db, f"SELECT report_json FROM {RUNS_FROM}")[0][0])
        assert report["future_rows"] == 1
        assert "2099" in report["future_examples"][0]
        time.sleep(1.1)
        proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
        assert proc.returncode == 0, proc.stderr[-3000:]
        where = server.last("/resource/gnap-fj3t.json")[1]["$where"]
        assert "2099" not in where and real_mark in where

        # a mark stored before marks were bounded: ignored, then replaced
        con = sqlite3.connect(db)
        con.execute("UPDATE feed_state SET high_water = '2099-01-01T08:00:00.000Z'")
        con.commit()
        con.close()
        served_before = server.served("/resource/gnap-fj3t.json")[1]
        time.sleep(1.1)
        proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "$where" not in server.last("/resource/gnap-fj3t.json")[1]
        served = server.served("/resource/gnap-fj3t.json")[1] - served_before
        assert served == len(server.soda)  # the whole listing, not nothing
        [(mark,)] = rows(
            db, f"SELECT high_water FROM {FEED_STATE_FROM} WHERE feed_id=?", SF
        )
        assert mark == utc_mark(real_mark)
    finally:
        server.close()


def test_incremental_feed_still_sees_calls_leave(tmp_path: Path) -> None:
    """SF's real-time window (recent_window, incremental under --due): polls stay
    incremental between full listings, and the periodic full listing sets
    ``disappeared_at`` for the rows that rolled off (here: the first 20 recorded
    rows withdrawn from the served listing)."""
    server = FeedServer()
    try:
        configs = write_configs(tmp_path / "configs", server, interval=0.001)
        (configs / f"{CLEARWATER}.yaml").unlink()
        db, out = tmp_path / "cfs.sqlite", tmp_path / "out"
        path = "/resource/gnap-fj3t.json"
        proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "$where" not in server.last(path)[1]
        gone = {r["cad_number"] for r in server.soda[:20]}
        server.soda = server.soda[20:]
        time.sleep(1.1)
        # 2. within the default cadence (60 min): incremental, nothing read as gone
        proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "$where" in server.last(path)[1]
        left = f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE disappeared_at IS NOT NULL"
        assert rows(db, left) == [(0,)]
        # 3. the cadence passed (set short here): a full listing, the 20 left
        cfg_path = configs / f"{SF}.yaml"
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        cfg["request"]["full_listing_every_minutes"] = 0.01
        cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        time.sleep(1.1)
        proc = run_cfs(configs, db, out, "crawl", "--due", "--no-jsonl")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "$where" not in server.last(path)[1]
        left_rows = rows(
            db,
            f"SELECT record_key, call_id, first_seen, disappeared_at FROM {CALLS_FROM} "
            "WHERE disappeared_at IS NOT NULL",
        )
        assert {r[1] for r in left_rows} == gone
        assert all(r[3] > r[2] for r in left_rows)  # a time on the feed
    finally:
        server.close()


def test_check_live_reports_a_renamed_field(tmp_path: Path) -> None:
    """`cfs check --live`: one small page per feed; the real Clearwater listing
    passes, the same listing with ``Address`` renamed ``Location`` (a synthetic
    rename of real rows) is drift: exit 3, the field named missing and new."""
    calls = snapshots()[-1]
    renamed = [
        {("Location" if k == "Address" else k): v for k, v in c.items()} for c in calls
    ]
    server = FeedServer()  # SF's real rows as SODA, to see the page size asked
    try:
        with FaultServer() as srv:
            srv.route("/activecalls", Reply(body=json.dumps(calls)))
            srv.route(
                "/moved",
                Reply(body=json.dumps(calls)),
                Reply(body=json.dumps(renamed)),
            )
            configs = clearwater_config(tmp_path / "configs", srv.url("/activecalls"))
            cfg = yaml.safe_load(get_config(CLEARWATER).path.read_text("utf-8"))
            cfg["urls"] = [srv.url("/moved")]
            moved = "fl_clearwater_police_active_calls_moved"
            (configs / f"{moved}.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
            sf = yaml.safe_load(get_config(SF).path.read_text("utf-8"))
            sf["urls"] = [f"{server.base}/resource/gnap-fj3t.json"]
            (configs / f"{SF}.yaml").write_text(yaml.safe_dump(sf), "utf-8")
            db, out = tmp_path / "cfs.sqlite", tmp_path / "out"
            first = run_cfs(configs, db, out, "check", "--live")
            assert first.returncode == 0, first.stdout + first.stderr[-2000:]
            assert "0 drifted" in first.stdout
            again = run_cfs(configs, db, out, "check", "--live", moved, CLEARWATER)
    finally:
        server.close()
    query = server.last("/resource/gnap-fj3t.json")[1]
    assert query["$limit"] == "5" and server.served("/resource/gnap-fj3t.json")[0] == 1
    assert again.returncode == 3, again.stdout + again.stderr[-2000:]
    report = again.stdout
    moved_part = report.split(f"{moved}: ")[1].split(f"{CLEARWATER}: ")[0]
    assert moved_part.startswith("DRIFT")
    assert "mapped fields missing: Address" in moved_part
    assert "new fields: Location" in moved_part
    assert f"{CLEARWATER}: ok" in report
    assert "1 drifted" in report
    assert not db.exists()  # nothing stored
