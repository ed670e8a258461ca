"""A store written by the previous schema is refused with a clear message, and
``cfs migrate`` converts it in place into what this version writes itself.

The old store (``tests/fixtures/store_v1``) was written by cfs schema 1 from the
bundled Clearwater and Portland captures, plus one synthetic "not modified" poll.
"""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pytest

from cfs_spiders.config.loader import get_config
from cfs_spiders.store.connect import open_store
from cfs_spiders.store.sqlite import StoreVersionError
from tests.conftest import FIXTURES, run_cfs

CLEARWATER = "fl_clearwater_police_active_calls"
PORTLAND = "or_portland_boec_911_incidents"
TOUCHED = "2025-12-13T23:59:00Z"  # the synthetic "not modified" poll


OLD_COLUMNS: list[str] = []


def old_store(path: Path) -> Path:
    sql = gzip.decompress((FIXTURES / "store_v1" / "cfs_v1.sql.gz").read_bytes())
    conn = sqlite3.connect(path)
    conn.executescript(sql.decode("utf-8"))
    OLD_COLUMNS[:] = [
        d[0] for d in conn.execute("SELECT * FROM calls LIMIT 0").description
    ]
    conn.close()
    return path


def dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def tables(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        calls = conn.execute(
            "SELECT * FROM calls ORDER BY feed_id, record_key"
        ).fetchall()
        names = [d[0] for d in conn.execute("SELECT * FROM calls").description]
        return {
            "columns": names,
            "calls": [
                tuple(v for n, v in zip(names, r, strict=True) if "run_id" not in n)
                for r in calls
            ],
            "observations": conn.execute(
                "SELECT feed_id, record_key, fetched_at, last_seen, values_hash, "
                "raw_json FROM observations ORDER BY 1, 2, 3"
            ).fetchall(),
            "presence": conn.execute(
                "SELECT * FROM presence ORDER BY 1, 2, 3"
            ).fetchall(),
            "listings": conn.execute("SELECT * FROM listings ORDER BY 1, 2").fetchall(),
        }
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same captures and the same "not modified" poll, written by this cfs."""
    tmp = tmp_path_factory.mktemp("fresh")
    db = tmp / "cfs.sqlite"
    run_cfs(
        "--db",
        str(db),
        "--output",
        str(tmp / "out"),
        "crawl",
        CLEARWATER,
        PORTLAND,
        "--replay",
        "--no-jsonl",
    )
    store = open_store(db)
    assert store.touch_listing(CLEARWATER, TOUCHED, "active_calls") == 7
    store.close()
    return db


def test_an_old_store_is_refused_naming_cfs_migrate(tmp_path: Path) -> None:
    db = old_store(tmp_path / "old.sqlite")
    before = dump(db)
    with pytest.raises(StoreVersionError, match=r"cfs migrate --db .*old\.sqlite"):
        open_store(db)
    proc = run_cfs("--db", str(db), "export", check=False)
    assert proc.returncode == 1
    assert "written by an earlier cfs" in proc.stderr
    assert f"cfs migrate --db {db}" in proc.stderr
    proc = run_cfs("--db", str(db), "crawl", CLEARWATER, "--replay", check=False)
    assert proc.returncode == 1 and "cfs migrate" in proc.stderr
    assert dump(db) == before  # nothing was written to it


def test_migrate_gives_what_this_version_writes(tmp_path: Path, fresh: Path) -> None:
    db = old_store(tmp_path / "old.sqlite")
    old = sqlite3.connect(db)
    sightings = old.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    old.close()
    assert sightings == 319 + 200
    proc = run_cfs("--db", str(db), "migrate")
    assert "schema 1 -> 2" in proc.stderr
    assert f"{sightings} observations (one per sighting)" in proc.stderr
    got, want = tables(db), tables(fresh)
    assert set(got["columns"]) == set(want["columns"])
    # elements added to the record since the old store was written come empty
    # (their values arrive with each call's next sighting): compare the others
    old_names = set(OLD_COLUMNS)
    keep = [c for c in want["columns"] if c in old_names or c == "values_hash"]
    want["calls"] = [
        tuple(
            v
            for c, v in zip(
                [c for c in want["columns"] if "run_id" not in c], row, strict=True
            )
            if c in keep
        )
        for row in want["calls"]
    ]
    want["columns"] = keep
    # the same columns in another order (values_hash added at the end): compare
    # by name
    names = [c for c in got["columns"] if "run_id" not in c]
    reordered = [
        tuple(row[names.index(c)] for c in want["columns"] if "run_id" not in c)
        for row in got["calls"]
    ]
    assert reordered == want["calls"]
    for table in ("observations", "presence", "listings"):
        assert got[table] == want[table], table
    # the "not modified" poll: the board's calls stayed on it, no version added
    touched = [p for p in got["presence"] if p[0] == CLEARWATER and p[3] == TOUCHED]
    assert len(touched) == 7
    # migrated once: opening it works, and migrating again does nothing
    open_store(db).close()
    again = run_cfs("--db", str(db), "migrate")
    assert "already schema 2" in again.stderr
    # and the store goes on as a store of this version
    store = open_store(db)
    store.register_feeds([get_config(CLEARWATER)])
    assert store.touch_listing(CLEARWATER, "2025-12-14T00:04:00Z", "active_calls") == 7
    store.close()


@pytest.mark.postgres
def test_migrate_on_postgresql(tmp_path: Path, fresh: Path) -> None:
    """The old store's tables and rows copied into PostgreSQL (the schema-1 DDL,
    REAL widened as that version did), then migrated: the same tables as the
    SQLite migration gives."""
    import re

    import psycopg

    from tests.test_postgres import _require_server

    server = _require_server()
    name = "cfs_t_migrate_" + tmp_path.name[-8:].lower().replace("-", "_")
    base, _, _ = server.rpartition("/")
    url = f"{base}/{name}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        db = old_store(tmp_path / "old.sqlite")
        lite = sqlite3.connect(db)
        ddl = [
            r[0]
            for r in lite.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY "
                "type = 'index', rowid"
            )
        ]
        with psycopg.connect(url, autocommit=True) as pg:
            for stmt in ddl:
                pg.execute(re.sub(r"\bREAL\b", "DOUBLE PRECISION", stmt))
            for table in (
                "feeds",
                "runs",
                "calls",
                "observations",
                "listings",
                "feed_state",
            ):
                cur = lite.execute(f"SELECT * FROM {table}")
                cols = [d[0] for d in cur.description]
                marks = ", ".join(["%s"] * len(cols))
                with pg.cursor() as pc:
                    pc.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                        cur.fetchall(),
                    )
        lite.close()
        with pytest.raises(StoreVersionError, match="cfs migrate"):
            open_store(url)
        from cfs_spiders.store.migrate import migrate

        report = migrate(url)
        assert (report.from_version, report.sightings) == (1, 519)
        store = open_store(url)
        try:
            for table, key in (
                ("observations", "feed_id, record_key, fetched_at"),
                ("presence", "feed_id, record_key, first_seen"),
            ):
                cols = (
                    "feed_id, record_key, fetched_at, last_seen, values_hash, raw_json"
                    if table == "observations"
                    else "*"
                )
                got = [
                    tuple(r.values())
                    for r in store.query(f"SELECT {cols} FROM {table} ORDER BY {key}")
                ]
                assert got == [tuple(r) for r in tables(fresh)[table]], table
            hashes = store.query(
                "SELECT record_key, values_hash FROM calls ORDER BY feed_id, record_key"
            )
            conn = sqlite3.connect(fresh)
            want = conn.execute(
                "SELECT record_key, values_hash FROM calls ORDER BY feed_id, record_key"
            ).fetchall()
            conn.close()
            assert [tuple(r.values()) for r in hashes] == want
        finally:
            store.close()
    finally:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
