"""Incremental polling against a local server, `cfs crawl --due`, locks, `cfs watch`.

The server (127.0.0.1, a free port) plays two feeds from real captures:

- a Socrata dataset (SF's real-time calls, 300 rows of the recorded CSV served as
  SODA JSON) that honours ``$limit``/``$offset``/``$order`` and the ``$where`` the
  spider sends, in pages of 120 (three pages);
- Clearwater's active-calls JSON, with an ``ETag`` and ``304 Not Modified``.

It counts requests and records served, so the tests can say that a second,
unchanged poll fetches no record twice and stores nothing new.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
import yaml

from cfs_spiders.config.loader import PROJECT_ROOT, get_config
from cfs_spiders.schedule.due import backoff, due_at, due_feeds, still_due
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    FEED_STATE_FROM,
    OBSERVATIONS_FROM,
    RUNS_FROM,
)
from cfs_spiders.store.connect import open_store

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
SF = "ca_san_francisco_police_dispatched_realtime"
CLEARWATER = "fl_clearwater_police_active_calls"
PORTLAND = "or_portland_boec_911_incidents"
PAGE = 120
SF_CSV = (
    FIXTURES
    / SF
    / "Law_Enforcement_Dispatched_Calls_for_Service__Real-Time.first300.csv"
)


def _iso_floating(text: str) -> str:
    """Portal CSV time (``2026/01/15 07:18:10 AM``) -> SODA floating timestamp."""
    return datetime.strptime(text, "%Y/%m/%d %I:%M:%S %p").strftime(
        "%Y-%m-%dT%H:%M:%S.000"
    )


def soda_rows() -> list[dict[str, Any]]:
    """The recorded rows as the SODA API serves them (ISO floating times, GeoJSON
    points, empty values left out)."""
    out = []
    with SF_CSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {}
            for key, value in row.items():
                if not value or " " in key:
                    continue
                if key.endswith(("_datetime", "_at", "_as_of")):
                    value = _iso_floating(value)
                elif key == "intersection_point":
                    lon, lat = re.findall(r"[-\d.]+", value)
                    value = {"type": "Point", "coordinates": [float(lon), float(lat)]}
                rec[key] = value
            out.append(rec)
    return out


class FeedServer:
    def __init__(self) -> None:
        self.soda = soda_rows()
        snaps = json.loads(
            (FIXTURES / CLEARWATER / "archive_2025-12-13.json").read_text(
                encoding="utf-8"
            )
        )["snapshots"]
        self.board = snaps[-1]["calls"]
        # (path, query, request headers, status, records served)
        self.requests: list[tuple[str, dict[str, str], dict[str, str], int, int]] = []
        self.delay = 0.0
        self.in_flight = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ counting
    def served(self, path: str) -> tuple[int, int]:
        """(requests answered, records served) for a path."""
        with self.lock:
            hits = [r for r in self.requests if r[0] == path]
        return len(hits), sum(r[4] for r in hits)

    def last(self, path: str) -> tuple[str, dict[str, str], dict[str, str], int, int]:
        with self.lock:
            return [r for r in self.requests if r[0] == path][-1]

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        path: str,
        status: int,
        body: bytes = b"",
        records: int = 0,
        etag: str | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if etag:
            h.send_header("ETag", etag)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        query = {k: v[0] for k, v in parse_qs(urlparse(h.path).query).items()}
        with self.lock:
            self.requests.append((path, query, dict(h.headers), status, records))

    # ------------------------------------------------------------ answering
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/robots.txt":
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if url.path == "/resource/gnap-fj3t.json":
            rows = self.select(query)
            body = json.dumps(rows).encode()
            self._send(h, url.path, 200, body, len(rows))
        elif url.path == "/activecalls":
            self.in_flight.set()
            if self.delay:
                time.sleep(self.delay)
            body = json.dumps(self.board).encode()
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if h.headers.get("If-None-Match") == etag:
                self._send(h, url.path, 304, etag=etag)
            else:
                self._send(h, url.path, 200, body, len(self.board), etag)
        elif url.path == "/broken":
            self._send(h, url.path, 500, b'{"error": true}')
        else:
            self._send(h, url.path, 404, b"{}")

    def select(self, q: dict[str, str]) -> list[dict[str, Any]]:
        """A small SODA: ``$where`` (``field > 'value'``), ``$order``, paging."""
        rows = list(self.soda)
        where = q.get("$where")
        if where:
            m = re.fullmatch(r"\(?(\w+) > '([^']+)'\)?", where)
            assert m, f"unexpected $where {where!r}"
            field, value = m.groups()
            rows = [r for r in rows if r.get(field, "") > value]
        order = [f.strip().split()[0] for f in q.get("$order", ":id").split(",")]
        rows.sort(key=lambda r: tuple(str(r.get(f, "")) for f in order))
        offset, limit = int(q.get("$offset", 0)), int(q.get("$limit", 1000))
        return rows[offset : offset + limit]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


def write_configs(
    folder: Path, server: FeedServer, *, interval: float, broken: bool = False
) -> Path:
    """The two feeds' real configs, pointed at the local server."""
    folder.mkdir(parents=True, exist_ok=True)
    sf = yaml.safe_load(get_config(SF).path.read_text(encoding="utf-8"))
    sf["urls"] = [f"{server.base}/resource/gnap-fj3t.json"]
    sf["request"].update(page_size=PAGE, overlap_minutes=0)
    sf["update_interval_minutes"] = interval
    cw = yaml.safe_load(get_config(CLEARWATER).path.read_text(encoding="utf-8"))
    cw["urls"] = [f"{server.base}/activecalls"]
    cw["update_interval_minutes"] = interval
    feeds = {SF: sf, CLEARWATER: cw}
    if broken:
        pdx = yaml.safe_load(get_config(PORTLAND).path.read_text(encoding="utf-8"))
        # another "host", so it does not wait for the others' turn
        pdx["urls"] = [f"http://localhost:{server.port}/broken"]
        pdx["update_interval_minutes"] = interval
        feeds = {CLEARWATER: cw, PORTLAND: pdx}
    for feed_id, data in feeds.items():
        (folder / f"{feed_id}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder


def cfs_env(configs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFS_")}
    env.update(CFS_CONFIG_DIR=str(configs), CFS_RETRY_TIMES="0")
    return env


FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def cfs(tmp: Path, configs: Path, *args: str) -> subprocess.CompletedProcess:
    db = tmp / "cfs.sqlite"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfs_spiders.cli",
            "--db",
            str(db),
            "--output",
            str(tmp / "out"),
            *args,
        ],
        cwd=tmp,
        env=cfs_env(configs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc


def utc_mark(floating: str) -> str:
    """A SODA floating time in San Francisco as the stored mark (ISO UTC, ms)."""
    local = datetime.fromisoformat(floating).replace(
        tzinfo=ZoneInfo("America/Los_Angeles")
    )
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def one(db: Path, sql: str, *params: Any) -> Any:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchone()[0]
    finally:
        con.close()


def test_second_poll_fetches_and_stores_nothing_new(
    server: FeedServer, tmp_path: Path
) -> None:
    configs = write_configs(tmp_path / "configs", server, interval=0.001)
    db = tmp_path / "cfs.sqlite"
    total = len(server.soda)
    assert total == 300

    # 1. first poll: whole dataset in three pages, whole board; each record once
    proc = cfs(tmp_path, configs, "crawl", "--due", "--no-jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert server.served("/resource/gnap-fj3t.json") == (3, total)
    board = len(server.board)
    assert server.served("/activecalls") == (1, board)
    assert one(db, f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ?", SF) == total
    assert (
        one(db, f"SELECT COUNT(*) FROM {OBSERVATIONS_FROM} WHERE feed_id = ?", SF)
        == total
    )
    assert (
        one(db, f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ?", CLEARWATER)
        == board
    )
    mark = max(r["call_last_updated_at"] for r in server.soda)  # local floating time
    assert one(
        db, f"SELECT high_water FROM {FEED_STATE_FROM} WHERE feed_id = ?", SF
    ) == utc_mark(mark)
    assert one(db, f"SELECT etag FROM {FEED_STATE_FROM} WHERE feed_id = ?", CLEARWATER)
    seen_before = one(
        db, f"SELECT MAX(last_seen) FROM {CALLS_FROM} WHERE feed_id = ?", CLEARWATER
    )

    # 2. unchanged second poll: $where above the mark finds nothing, the board is
    #    "not modified"; no record is served twice, nothing new is stored
    time.sleep(1.1)  # a later fetch time (the store keeps seconds)
    proc = cfs(tmp_path, configs, "crawl", "--due", "--no-jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert server.served("/resource/gnap-fj3t.json") == (4, total)
    query = server.last("/resource/gnap-fj3t.json")[1]
    assert query["$where"] == f"call_last_updated_at > '{mark}'"
    assert (query["$offset"], query["$limit"]) == ("0", str(PAGE))
    assert server.served("/activecalls") == (2, board)
    _, _, headers, status, _ = server.last("/activecalls")
    assert status == 304 and headers.get("If-None-Match")
    assert one(db, f"SELECT COUNT(*) FROM {CALLS_FROM}") == total + board
    assert one(db, f"SELECT COUNT(*) FROM {OBSERVATIONS_FROM}") == total + board
    runs = (
        sqlite3.connect(db)
        .execute(
            f"SELECT feed_id, status, records FROM {RUNS_FROM} ORDER BY started_at"
        )
        .fetchall()
    )
    assert len(runs) == 4 and all(r[1] == "ok" for r in runs), runs
    # not modified: the board's calls are still on it, seen at the second poll
    assert (
        one(
            db, f"SELECT MAX(last_seen) FROM {CALLS_FROM} WHERE feed_id = ?", CLEARWATER
        )
        > seen_before
    )
    assert (
        one(
            db,
            f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ? AND disappeared_at "
            "IS NOT NULL",
            CLEARWATER,
        )
        == 0
    )

    # 3. the dataset changes: 5 rows updated in place, 2 new; only those 7 come
    later = (datetime.fromisoformat(mark) + timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%S.000"
    )
    for row in server.soda[:5]:
        row["call_last_updated_at"] = later
        row["disposition"] = "CHANGED"
    for n, row in enumerate([dict(server.soda[10]), dict(server.soda[11])]):
        row["cad_number"] = f"99999999{n}"
        row["call_last_updated_at"] = later
        server.soda.append(row)
    time.sleep(1.1)
    proc = cfs(tmp_path, configs, "crawl", "--due", "--no-jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert server.served("/resource/gnap-fj3t.json") == (5, total + 7)
    assert (
        one(db, f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ?", SF) == total + 2
    )
    assert (
        one(db, f"SELECT COUNT(*) FROM {OBSERVATIONS_FROM} WHERE feed_id = ?", SF)
        == total + 7
    )
    assert (
        one(
            db,
            f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ? AND "
            "disposition_raw = 'CHANGED'",
            SF,
        )
        == 5
    )
    # an incremental fetch is part of the listing: nothing is read as gone
    assert (
        one(
            db,
            f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ? AND disappeared_at "
            "IS NOT NULL",
            SF,
        )
        == 0
    )
    assert one(
        db, f"SELECT high_water FROM {FEED_STATE_FROM} WHERE feed_id = ?", SF
    ) == utc_mark(later)


def test_where_clauses(tmp_path: Path) -> None:
    """Socrata: floating local time above mark - overlap; ArcGIS: TIMESTAMP (UTC)."""
    from scrapy.utils.test import get_crawler

    from cfs_spiders.ingest.spiderloader import spider_class

    sf = spider_class(get_config(SF))
    crawler = get_crawler(sf, {"CFS_INCREMENTAL": True})
    spider = sf.from_crawler(crawler)
    recent = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # a full listing now
    spider.state = {"high_water": "2026-01-17T08:57:29.250Z", "last_listing": recent}
    assert spider.where() == "call_last_updated_at > '2026-01-17T00:27:29.250'"
    url = spider.page_url(spider.config.urls[0], 0)
    assert "%24order=call_last_updated_at%2C+cad_number" in url
    nash = spider_class(get_config("tn_nashville_police_calls"))
    spider = nash.from_crawler(get_crawler(nash, {"CFS_INCREMENTAL": True}))
    spider.state = {"high_water": "2024-03-10T10:00:00.000Z"}
    assert (
        spider.where() == "(1=1) AND (Call_Received > TIMESTAMP '2024-03-10 09:00:00')"
    )


def test_due_backoff_and_locks(tmp_path: Path) -> None:
    cfg = get_config(CLEARWATER)  # every 5 minutes
    t0 = datetime.fromisoformat("2025-12-13T12:00:00+00:00")
    assert due_at(cfg, None) is None  # never run: due now
    ok = {"last_success_at": "2025-12-13T12:00:00Z", "consecutive_failures": 0}
    assert due_at(cfg, ok) == t0 + timedelta(minutes=5)
    failing = {
        **ok,
        "consecutive_failures": 3,
        "last_attempt_at": "2025-12-13T13:00:00Z",
    }
    assert due_at(cfg, failing) == t0 + timedelta(hours=1, minutes=20)
    assert backoff(cfg, 30) == timedelta(hours=6)  # capped

    store = open_store(tmp_path / "due.sqlite")
    store.register_feeds([cfg])
    assert [c.feed_id for c in due_feeds([cfg], store, t0)] == [CLEARWATER]
    assert store.acquire_lock(
        CLEARWATER, "a", "2025-12-13T12:30:00Z", "2025-12-13T12:00:00Z"
    )
    assert not store.acquire_lock(
        CLEARWATER, "b", "2025-12-13T12:30:00Z", "2025-12-13T12:10:00Z"
    )
    assert due_feeds([cfg], store, t0) == []  # locked: a run is in progress
    # an expired lock (its holder died) can be taken over
    assert store.acquire_lock(
        CLEARWATER, "b", "2025-12-13T13:00:00Z", "2025-12-13T12:31:00Z"
    )
    assert not store.release_lock(CLEARWATER, "a")
    assert store.release_lock(CLEARWATER, "b")
    # due when looked at, but run by someone else before the lock was taken
    assert still_due(cfg, store, t0)
    store.set_state(CLEARWATER, last_success_at="2025-12-13T11:59:00Z")
    assert not still_due(cfg, store, t0)
    store.close()


def test_due_skips_locked_and_recent_feeds(server: FeedServer, tmp_path: Path) -> None:
    configs = write_configs(tmp_path / "configs", server, interval=60)
    db = tmp_path / "cfs.sqlite"
    store = open_store(db)
    store.register_feeds([get_config(CLEARWATER)])
    assert store.acquire_lock(
        CLEARWATER, "someone-else", "2999-01-01T00:00:00Z", "2025-01-01T00:00:00Z"
    )
    store.close()
    proc = cfs(tmp_path, configs, "crawl", "--due", "--no-jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert server.served("/activecalls") == (0, 0)  # locked by another run
    assert server.served("/resource/gnap-fj3t.json")[0] == 3
    # hourly feed just crawled: not due again; the cron line is a no-op
    proc = cfs(tmp_path, configs, "crawl", "--due", "--no-jsonl", *FAST)
    assert proc.returncode == 0 and "no feed is due" in proc.stderr
    assert server.served("/resource/gnap-fj3t.json")[0] == 3
    assert (
        one(db, f"SELECT lock_owner FROM {FEED_STATE_FROM} WHERE feed_id = ?", SF)
        is None
    )


def test_watch_polls_backs_off_and_stops_cleanly(
    server: FeedServer, tmp_path: Path
) -> None:
    configs = write_configs(tmp_path / "configs", server, interval=0.01, broken=True)
    db = tmp_path / "cfs.sqlite"
    server.delay = 0.5
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cfs_spiders.cli",
            "--db",
            str(db),
            "--output",
            str(tmp_path / "out"),
            "watch",
            "--no-jsonl",
            *FAST,
        ],
        cwd=tmp_path,
        env=cfs_env(configs),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while server.served("/activecalls")[0] < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        # SIGTERM while a board request is in flight: that run must still finish
        server.in_flight.clear()
        assert server.in_flight.wait(10)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    polls = server.served("/activecalls")[0]
    attempts = server.served("/broken")[0]
    con = sqlite3.connect(db)
    runs = dict(
        con.execute(f"SELECT feed_id, COUNT(*) FROM {RUNS_FROM} GROUP BY feed_id")
    )
    statuses = dict(
        con.execute(
            f"SELECT feed_id, GROUP_CONCAT(DISTINCT status) FROM {RUNS_FROM} GROUP BY feed_id"
        )
    )
    state = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT feed_id, consecutive_failures, lock_owner FROM {FEED_STATE_FROM}"
        )
    }
    con.close()
    # every request answered became a recorded run, the one in flight included
    assert runs[CLEARWATER] == polls >= 5, err[-2000:]
    assert statuses[CLEARWATER] == "ok"
    assert "SIGTERM: finishing 1 run(s) in flight" in err or "SIGTERM" in err
    assert err.count(f"watch: {CLEARWATER}: ok") == polls
    assert "(not modified)" in err
    # the broken feed: every attempt failed and was recorded; backed off, so it
    # was tried less often than the healthy one
    assert runs[PORTLAND] == attempts == state[PORTLAND][0] >= 2
    assert statuses[PORTLAND] == "failed"
    assert attempts < polls
    assert state[CLEARWATER][1] is None and state[PORTLAND][1] is None  # released


def test_due_pass_finishes_the_run_in_flight_on_sigterm(
    server: FeedServer, tmp_path: Path
) -> None:
    """systemd stops the cron pass with SIGTERM: the run in flight still lands."""
    configs = write_configs(tmp_path / "configs", server, interval=5)
    db = tmp_path / "cfs.sqlite"
    server.delay = 1.0
    with (tmp_path / "stderr.log").open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cfs_spiders.cli",
                "--db",
                str(db),
                "--output",
                str(tmp_path / "out"),
                "crawl",
                "--due",
                CLEARWATER,
                "--no-jsonl",
                *FAST,
            ],
            cwd=tmp_path,
            env=cfs_env(configs),
            stderr=err,
        )
        try:
            assert server.in_flight.wait(30)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    log = (tmp_path / "stderr.log").read_text()
    assert proc.returncode == 0, log[-3000:]
    assert "SIGTERM: finishing the 1 run(s) in flight" in log
    assert (
        one(db, f"SELECT status FROM {RUNS_FROM} WHERE feed_id = ?", CLEARWATER) == "ok"
    )
    assert one(
        db, f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ?", CLEARWATER
    ) == len(server.board)
    assert (
        one(
            db,
            f"SELECT lock_owner FROM {FEED_STATE_FROM} WHERE feed_id = ?",
            CLEARWATER,
        )
        is None
    )
