"""A scrapyd cluster writing to one PostgreSQL.

Two real scrapyd nodes (the venv's scrapyd, each on a free loopback port with its
own config, eggs and logs under the test's folder) get the project with
``cfs deploy`` (an egg holding the package and the feed configs); ``cfs schedule
--replay`` sends recorded snapshots as jobs through their HTTP API; the jobs run
from the egg (not from this checkout), in replay mode (``CFS_REPLAY_DIR`` in the
nodes' environment), concurrently and in no particular order, and the test finds
exactly the expected calls in PostgreSQL. The live path of ``cfs schedule`` (due
feeds, run locks, the least-loaded node) is checked against a fake scrapyd.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.request import urlopen

import pytest
from test_lifecycle import (
    CLEARWATER,
    PORTLAND,
    SIGHTINGS_SQL,
    VERSIONS_SQL,
    clearwater_changes,
    clearwater_snapshots,
    expected_lifecycle,
    per_call,
    portland_snapshots,
)
from test_postgres import env, pg_url  # noqa: F401  (the fixture)

from cfs_spiders.config.loader import PROJECT_ROOT, get_config
from cfs_spiders.schedule.scrapyd import (
    ScrapydError,
    _auth,
    _scrapyd,
    schedule_scrapyd,
)
from cfs_spiders.store.base import CALLS_FROM, RUNS_FROM
from cfs_spiders.store.connect import open_store


def wait_for_jobs(
    nodes: Iterable[str],
    jobids: set[str],
    *,
    project: str = "cfs",
    timeout: float = 300.0,
    poll: float = 0.5,
) -> dict[str, Any]:
    """Wait until every job has finished on its node; returns the finished entries
    (only the tests wait for scrapyd jobs)."""
    deadline = time.monotonic() + timeout
    done: dict[str, Any] = {}
    while True:
        for node in nodes:
            base, auth = _auth(node)
            answer = _scrapyd(base, f"listjobs.json?project={project}", auth=auth)
            for job in answer.get("finished", []):
                if job["id"] in jobids:
                    done[job["id"]] = job
        if set(done) >= jobids:
            return done
        if time.monotonic() > deadline:
            raise ScrapydError(
                f"jobs not finished after {timeout} s: {sorted(jobids - set(done))}"
            )
        time.sleep(poll)


SCRAPYD = Path(sys.executable).parent / "scrapyd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(folder: Path, environ: dict[str, str]) -> tuple[subprocess.Popen, str]:
    folder.mkdir(parents=True)
    port = free_port()
    (folder / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {folder / 'eggs'}\n"
        f"logs_dir = {folder / 'logs'}\n"
        f"dbs_dir = {folder / 'dbs'}\n"
        "items_dir =\n"
        "max_proc = 2\n"
        "poll_interval = 0.2\n"
        "jobs_to_keep = 100\n",
        encoding="utf-8",
    )
    with (folder / "scrapyd.out").open("w") as out:
        proc = subprocess.Popen(
            [str(SCRAPYD)],
            cwd=folder,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "scrapyd exited"
        try:
            with urlopen(f"{url}/daemonstatus.json", timeout=2) as resp:
                if json.loads(resp.read())["status"] == "ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"scrapyd at {url} did not start")


@pytest.fixture()
def nodes(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[str], Path]]:  # noqa: F811
    """Two scrapyd nodes, replaying recordings, writing to the test database."""
    environ = env()
    # the jobs must import the deployed egg: a PYTHONPATH naming this checkout (as
    # when the project is run without installing it) would shadow it
    environ["PYTHONPATH"] = os.pathsep.join(
        p
        for p in environ.get("PYTHONPATH", "").split(os.pathsep)
        if p and Path(p).resolve() != PROJECT_ROOT.resolve()
    )
    environ.update(
        CFS_DATABASE_URL=pg_url,
        CFS_REPLAY_DIR=str(PROJECT_ROOT / "tests" / "fixtures"),
        CFS_OUTPUT_DIR=str(tmp_path / "out"),
        CFS_EGG_DIR=str(tmp_path / "eggcache"),
    )
    started = [start_node(tmp_path / f"node{i}", environ) for i in range(2)]
    try:
        for proc, url in started:
            wait_up(url, proc)
        yield [url for _, url in started], tmp_path
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def cfs(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cfs_spiders.cli", "--db", db, *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.scrapyd
@pytest.mark.postgres
def test_deploy_schedule_replay_into_postgres(
    nodes: tuple[list[str], Path],
    pg_url: str,  # noqa: F811 (the fixture imported above)
) -> None:
    urls, tmp = nodes
    # 1. deploy: scrapyd lists the egg's spiders (one per configured feed)
    proc = cfs("deploy", *urls, "--version", "r1", db=pg_url, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    feeds = len(
        [
            p
            for p in (PROJECT_ROOT / "city_configs").glob("*.yaml")
            if "platform: none" not in p.read_text(encoding="utf-8")
        ]
    )
    assert proc.stderr.count(f"version r1, {feeds} spiders") == 2, proc.stderr

    # a run lock that a job will release when its run is recorded
    store = open_store(pg_url)
    store.register_feeds([get_config(PORTLAND)])
    assert store.acquire_lock(
        PORTLAND, "scrapyd:test", "2999-01-01T00:00:00Z", "2025-01-01T00:00:00Z"
    )
    store.close()

    # 2. schedule: Clearwater's last four snapshots and Portland's two
    proc = cfs(
        "schedule",
        "--scrapyd",
        *urls,
        "--replay",
        "--snapshots=-4,-3,-2,-1",
        CLEARWATER,
        PORTLAND,
        db=pg_url,
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = re.findall(r"(\S+) snapshot (\d+) -> (\S+) job (\w+)", proc.stderr)
    assert sorted((f, int(k)) for f, k, _, _ in jobs) == [
        (CLEARWATER, 48),
        (CLEARWATER, 49),
        (CLEARWATER, 50),
        (CLEARWATER, 51),
        (PORTLAND, 0),
        (PORTLAND, 1),
    ]
    assert {node for _, _, node, _ in jobs} == set(urls)  # spread over both
    extra = _scrapyd(
        urls[0],
        "schedule.json",
        [
            ("project", "cfs"),
            ("spider", PORTLAND),
            ("snapshot", "1"),
            ("lock_owner", "scrapyd:test"),
        ],
    )["jobid"]
    done = wait_for_jobs(urls, {j for *_, j in jobs} | {extra}, timeout=120)
    assert len(done) == 7

    # 3. exactly the expected calls, whatever order the jobs committed in
    store = open_store(pg_url)
    try:
        runs = store.query(f"SELECT feed_id, status, mode FROM {RUNS_FROM}")
        assert len(runs) == 7 and {(r["status"], r["mode"]) for r in runs} == {
            ("ok", "replay")
        }, runs
        snaps = clearwater_snapshots()[-4:]
        for feed, snap_list in (
            (
                CLEARWATER,
                [(t, [c["Master_Incident_Number"] for c in cs]) for t, cs in snaps],
            ),
            (PORTLAND, portland_snapshots()),
        ):
            expected = expected_lifecycle(snap_list)
            rows = {
                r["record_key"]: r
                for r in store.query(
                    "SELECT record_key, first_seen, last_seen, disappeared_at, status "
                    f"FROM {CALLS_FROM} WHERE feed_id = ?",
                    (feed,),
                )
            }
            assert set(rows) == set(expected), feed
            for key, exp in expected.items():
                row = rows[key]
                assert (row["first_seen"], row["last_seen"], row["disappeared_at"]) == (
                    exp["first_seen"],
                    exp["last_seen"],
                    exp["disappeared_at"],
                ), key
                closed = feed == CLEARWATER and exp["disappeared_at"] is not None
                assert (row["status"] == "closed") == closed, key
            # every sighting kept as presence on listings; a version per change
            assert per_call(store, SIGHTINGS_SQL, feed) == {
                k: e["sightings"] for k, e in expected.items()
            }
            versions = per_call(store, VERSIONS_SQL, feed)
            if feed == CLEARWATER:
                assert versions == clearwater_changes(snaps)
            else:
                assert set(versions) == set(expected)
        assert store.feed_state(PORTLAND)["lock_owner"] is None  # released by the job
    finally:
        store.close()
    # the jobs ran the deployed egg (extracted once), not this checkout
    assert list((tmp / "eggcache").glob("cfs-egg-*/city_configs/*.yaml"))


class FakeScrapyd:
    """Answers daemonstatus.json and schedule.json; remembers what was scheduled."""

    def __init__(self, load: int) -> None:
        self.load = load
        self.scheduled: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self.reply(
                    {"status": "ok", "pending": fake.load, "running": 0, "finished": 0}
                )

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                form = parse_qs(self.rfile.read(length).decode())
                fake.scheduled.append(form)
                self.reply({"status": "ok", "jobid": f"job{len(fake.scheduled)}"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_schedule_sends_due_feeds_with_locks(tmp_path: Path) -> None:
    busy, idle = FakeScrapyd(load=5), FakeScrapyd(load=0)
    dead = f"http://127.0.0.1:{free_port()}"
    db = tmp_path / "cfs.sqlite"
    configs = [get_config(CLEARWATER), get_config(PORTLAND)]
    try:
        store = open_store(db)
        store.register_feeds(configs)
        store.acquire_lock(
            PORTLAND, "cron", "2999-01-01T00:00:00Z", "2025-01-01T00:00:00Z"
        )  # running elsewhere
        store.close()
        jobs = schedule_scrapyd(
            [dead, busy.url, idle.url], configs, database_url=str(db)
        )
        assert [(j.feed_id, j.node) for j in jobs] == [(CLEARWATER, idle.url)]
        form = idle.scheduled[0]
        assert form["spider"] == [CLEARWATER] and form["project"] == ["cfs"]
        assert form["setting"] == ["CFS_INCREMENTAL=True"]
        store = open_store(db)
        assert store.feed_state(CLEARWATER)["lock_owner"] == form["lock_owner"][0]
        store.close()
        # scheduled and locked: the next cron minute sends nothing
        assert schedule_scrapyd([idle.url], configs, database_url=str(db)) == []
        assert busy.scheduled == [] and len(idle.scheduled) == 1
    finally:
        busy.close()
        idle.close()


def test_scrapyd_available() -> None:
    """The scrapyd the cluster tests start is the venv's own."""
    if not SCRAPYD.exists():
        if os.environ.get("CFS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"no scrapyd at {SCRAPYD}")
        pytest.skip("scrapyd not installed")
