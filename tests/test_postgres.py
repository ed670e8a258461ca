"""PostgreSQL as the store: same schema and semantics as SQLite, many writers.

Needs a server: ``CFS_TEST_DATABASE_URL`` (``.ci/run`` starts one). Each test works
in a database of its own, created here and dropped after. Without the variable the
tests skip, unless ``CFS_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_lifecycle import (
    CLEARWATER,
    PORTLAND,
    SIGHTINGS_SQL,
    VERSIONS_SQL,
    _record,
    clearwater_changes,
    clearwater_snapshots,
    expected_lifecycle,
    per_call,
    portland_snapshots,
)

from cfs_spiders.config.loader import get_config
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    FEED_STATE_FROM,
    LISTINGS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_FROM,
    RUNS_FROM,
)
from cfs_spiders.store.connect import open_store

pytestmark = pytest.mark.postgres
SERVER_URL = os.environ.get("CFS_TEST_DATABASE_URL")


def _require_server() -> str:
    if not SERVER_URL:
        if os.environ.get("CFS_REQUIRE_SERVICES") == "1":
            pytest.fail("CFS_REQUIRE_SERVICES=1 but CFS_TEST_DATABASE_URL is not set")
        pytest.skip("CFS_TEST_DATABASE_URL not set (no PostgreSQL server)")
    return SERVER_URL


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh, empty database on the test server."""
    import psycopg

    server = _require_server()
    name = f"cfs_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CFS_")}


def ids(store: Any, sql: str) -> list[dict]:
    return [
        {k: v for k, v in r.items() if not k.endswith("_key")} for r in store.query(sql)
    ]


def table(store: Any, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in store.query(sql)]


def test_same_semantics_as_sqlite(pg_url: str, tmp_path: Path) -> None:
    """The same snapshots written into both stores, in the same scrambled order
    (a call that leaves and comes back included): every table is equal, floats
    keep their digits and booleans read back as 0/1 on both."""
    cfg = get_config(CLEARWATER)
    snaps = clearwater_snapshots()
    stays = sorted(
        set.intersection(
            *({c["Master_Incident_Number"] for c in cs} for _, cs in snaps[-4:])
        )
    )[0]
    snaps[-3] = (
        snaps[-3][0],
        [c for c in snaps[-3][1] if c["Master_Incident_Number"] != stays],
    )
    order = list(snaps)
    random.Random(3).shuffle(order)
    stores = [open_store(pg_url), open_store(tmp_path / "cfs.sqlite")]
    try:
        for store in stores:
            store.register_feeds([cfg])
            for fetched, rows in order:
                records = [
                    {
                        **_record(CLEARWATER, r["Master_Incident_Number"], fetched, r),
                        "latitude": 27.9659063,
                        "longitude": -82.8001026,
                        "is_officer_initiated": True,
                        "unit_count": 2,
                    }
                    for r in rows
                ]
                store.write_records(records)
                store.mark_disappeared(CLEARWATER, fetched, "active_calls")
            store.record_run(
                {
                    "run_id": "r1",
                    "feed_id": CLEARWATER,
                    "status": "ok",
                    "finished_at": "2025-12-14T00:00:00Z",
                    "complete": 1,
                }
            )
        pg, lite = stores
        assert pg.dialect == "postgresql" and lite.dialect == "sqlite"
        for source, key in (
            (CALLS_FROM, "record_key"),
            (OBSERVATIONS_FROM, "record_key, fetched_at"),
            (PRESENCE_FROM, "record_key, first_seen"),
            (LISTINGS_FROM, "fetched_at"),
            ("feeds", "feed_id"),
            (RUNS_FROM, "run_id"),
            (FEED_STATE_FROM, "feed_id"),
        ):
            sql = f"SELECT * FROM {source} ORDER BY feed_id, {key}"
            # the integer keys are each engine's numbering: the ids compared
            assert ids(pg, sql) == ids(lite, sql), source
        assert len(table(pg, f"SELECT * FROM {CALLS_FROM}")) == 161
        assert table(
            pg, f"SELECT DISTINCT latitude, is_officer_initiated FROM {CALLS_FROM}"
        ) == [(27.9659063, 1)]
        back = pg.query(
            f"SELECT disappeared_at, status FROM {CALLS_FROM} WHERE record_key = ?",
            (stays,),
        )
        assert back == [{"disappeared_at": None, "status": "dispatched"}]
    finally:
        for store in stores:
            store.close()


def writer(
    db: str, tmp: Path, feed_id: str, snapshots: list[int]
) -> tuple[subprocess.Popen, Path]:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cfs_spiders.config.loader import get_config\n"
        "from cfs_spiders.ingest.replay import DEFAULT_REPLAY_DIR\n"
        "from cfs_spiders.schedule.orchestrator import crawl\n"
        "snaps = [int(s) for s in sys.argv[2].split(',')]\n"
        "r = crawl([get_config(sys.argv[1])], replay_dir=DEFAULT_REPLAY_DIR,\n"
        "          snapshots=snaps, database_url=sys.argv[3], output=Path(sys.argv[4]),\n"
        "          jsonl=False, progress=False)\n"
        "sys.exit(0 if r.ok and len(r.reports) == len(snaps) else 3)\n"
    )
    out = tmp / f"w{uuid.uuid4().hex[:6]}"
    out.mkdir()
    log = out / "stderr.log"
    with log.open("w") as err:  # a file: a full pipe would stall the writer
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                feed_id,
                ",".join(map(str, snapshots)),
                db,
                str(out),
            ],
            cwd=out,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return proc, log


def test_concurrent_writers_lose_and_duplicate_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    """Three processes replay overlapping sets of Clearwater's snapshots, in
    different orders, into one database at once (and two Portland's two, in both
    orders): every call's life cycle exactly as if one process had written them
    in order; no observation, listing or run lost or doubled."""
    n = 52
    shuffled = list(range(n))
    random.Random(7).shuffle(shuffled)
    plans = [
        (CLEARWATER, list(range(0, 28))),  # ascending
        (CLEARWATER, list(range(n - 1, 23, -1))),  # descending
        (CLEARWATER, shuffled[::2]),  # half of them, any order
        (PORTLAND, [1, 0]),
        (PORTLAND, [0, 1]),
    ]
    procs = [writer(pg_url, tmp_path, feed, snaps) for feed, snaps in plans]
    for proc, log in procs:
        proc.wait(timeout=180)
        assert proc.returncode == 0, log.read_text()[-3000:]

    store = open_store(pg_url)
    try:
        for feed, snaps in (
            (
                CLEARWATER,
                [
                    (t, [c["Master_Incident_Number"] for c in cs])
                    for t, cs in clearwater_snapshots()
                ],
            ),
            (PORTLAND, portland_snapshots()),
        ):
            expected = expected_lifecycle(snaps)
            rows = {
                r["record_key"]: r
                for r in store.query(
                    "SELECT record_key, first_seen, last_seen, disappeared_at, status, "
                    f"status_basis FROM {CALLS_FROM} WHERE feed_id = ?",
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
            # every sighting kept (as presence on listings), no version lost or
            # doubled
            assert per_call(store, SIGHTINGS_SQL, feed) == {
                k: e["sightings"] for k, e in expected.items()
            }
            versions = per_call(store, VERSIONS_SQL, feed)
            if feed == CLEARWATER:
                assert versions == clearwater_changes(clearwater_snapshots())
            else:
                assert set(versions) == set(expected)
        counts = {
            r["feed_id"]: (r["calls"], r["closed"], r["gone"])
            for r in store.query(
                "SELECT feed_id, COUNT(*) AS calls, SUM(CASE WHEN status = 'closed' THEN 1 "
                f"ELSE 0 END) AS closed, COUNT(disappeared_at) AS gone FROM {CALLS_FROM} "
                "GROUP BY feed_id"
            )
        }
        assert counts[CLEARWATER] == (161, 154, 154)
        assert counts[PORTLAND][:2] == (161, 0) and counts[PORTLAND][2] == 61
        assert store.query(f"SELECT COUNT(*) AS n FROM {OBSERVATIONS_FROM}")[0][
            "n"
        ] == 167 + sum(versions.values())
        runs = store.query(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT run_id) AS d, "
            "SUM(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) AS ok "
            f"FROM {RUNS_FROM}"
        )[0]
        assert runs["n"] == runs["d"] == runs["ok"] == sum(len(s) for _, s in plans)
        listings = store.query(
            f"SELECT feed_id, COUNT(*) AS n FROM {LISTINGS_FROM} "
            "GROUP BY feed_id ORDER BY feed_id"
        )
        assert [(r["feed_id"], r["n"]) for r in listings] == [
            (CLEARWATER, 52),
            (PORTLAND, 2),
        ]
    finally:
        store.close()


LOCKER = """
import sys
from cfs_spiders.store.connect import open_store
s = open_store(sys.argv[1])
sys.stdin.readline()  # all start together
ok = s.acquire_lock("fl_clearwater_police_active_calls", sys.argv[2],
                    "2999-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
print("got" if ok else "no", flush=True)
"""


def test_one_lock_among_many_processes(pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url)
    store.register_feeds([get_config(CLEARWATER)])
    store.close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOCKER, pg_url, f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for i in range(6)
    ]
    for p in procs:  # all at once
        p.stdin.write("go\n")
        p.stdin.flush()
    answers = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(answers) == ["got"] + ["no"] * 5
    store = open_store(pg_url)
    winner = store.feed_state(CLEARWATER)["lock_owner"]
    assert answers[int(winner[1:])] == "got"
    store.close()


def test_sql_placeholders() -> None:
    from cfs_spiders.store.postgres import to_psycopg

    assert to_psycopg("SELECT a FROM t WHERE b = ? AND c LIKE '%?%' AND d = ?") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?%%' AND d = %s"
    )


def test_batches_are_copied_and_store_what_rows_store(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of calls and versions goes through ``COPY`` to a staging table and
    one ``INSERT ... SELECT``; the tables are the same as written row by row.
    Clearwater's real snapshots, scrambled, with one batch holding a call twice
    (its rows go one after another, as an upsert may not touch a row twice)."""
    import psycopg

    from cfs_spiders.store import postgres

    cfg = get_config(CLEARWATER)
    snaps = clearwater_snapshots()
    order = list(snaps)
    random.Random(5).shuffle(order)
    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def spy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    base, _, name = pg_url.rpartition("/")
    tables = {}
    for mode, minimum in (("copy", 1), ("rows", 10**9)):
        monkeypatch.setattr(postgres, "COPY_MIN_ROWS", minimum)
        url = f"{base}/{name}_{mode}"
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}_{mode}"')
        store = open_store(url)
        try:
            store.register_feeds([cfg])
            before = len(copies)
            for i, (fetched, rows) in enumerate(order):
                records = [
                    _record(CLEARWATER, r["Master_Incident_Number"], fetched, r)
                    for r in rows
                ]
                if i == 3:  # the first call again, later in the same batch
                    records.append({**records[0], "last_run_id": "again"})
                store.write_records(records)
                store.mark_disappeared(CLEARWATER, fetched, "active_calls")
            used = len(copies) - before
            tables[mode] = {
                t: table(store, f"SELECT * FROM {t} ORDER BY {key}")
                for t, key in (
                    ("calls", "1, 2"),
                    ("observations", "1, 2, 3"),
                    ("presence", "1, 2, 3"),
                    ("listings", "1, 2"),
                )
            }
        finally:
            store.close()
            with psycopg.connect(pg_url, autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}_{mode}" WITH (FORCE)')
        if mode == "copy":
            assert used >= len(order)  # every batch's calls at least
            assert any("cfs_stage_calls" in c for c in copies)
            assert any("cfs_stage_observations" in c for c in copies)
        else:
            assert used == 0
    assert len(tables["copy"]["calls"]) == 161
    assert tables["copy"] == tables["rows"]
