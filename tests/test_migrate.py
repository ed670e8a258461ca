"""A store written by an earlier schema is refused with a clear message, and
``cfs migrate`` converts it in place into what this version writes itself.

The old stores (``tests/fixtures/store_v1``, ``store_v2``, ``store_v3``,
``store_v4``) were written by cfs schema 1, 2, 3 and 4 from the bundled
Clearwater and Portland captures, plus one synthetic "not modified" poll.
"""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pytest

from cfs_spiders.config.loader import get_config
from cfs_spiders.store.base import (
    CALLS_FROM,
    CALLS_ORDER,
    LISTINGS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_FROM,
    SCHEMA_VERSION,
)
from cfs_spiders.store.connect import open_store
from cfs_spiders.store.raw import install_sql_function
from cfs_spiders.store.sqlite import StoreVersionError
from tests.conftest import FIXTURES, run_cfs

CLEARWATER = "fl_clearwater_police_active_calls"
PORTLAND = "or_portland_boec_911_incidents"
TOUCHED = "2025-12-13T23:59:00Z"  # the synthetic "not modified" poll


OLD_COLUMNS: list[str] = []
NUMBERING = ("source_id", "feed_key", "run_key", "call_key")


def old_store(path: Path, version: int = 1) -> Path:
    dump_gz = FIXTURES / f"store_v{version}" / f"cfs_v{version}.sql.gz"
    sql = gzip.decompress(dump_gz.read_bytes())
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
    """What a store of this schema holds, as its readers see it: calls with their
    source URL (not the store's own source ids), versions with the change hash
    in hex and the raw record as text."""
    conn = sqlite3.connect(db)
    install_sql_function(conn)
    try:
        cur = conn.execute(f"SELECT * FROM {CALLS_FROM} ORDER BY {CALLS_ORDER}")
        names = [d[0] for d in cur.description]
        # the store's own numbering (source ids, feed and run keys) left out
        keep = [i for i, n in enumerate(names) if n not in NUMBERING]
        calls = [tuple(r[i] for i in keep) for r in cur.fetchall()]
        names = [names[i] for i in keep]
        return {
            "columns": names,
            "calls": [
                tuple(
                    bytes(v).hex() if n == "values_hash" else v
                    for n, v in zip(names, r, strict=True)
                    if "run_id" not in n
                )
                for r in calls
            ],
            "observations": conn.execute(
                "SELECT feed_id, record_key, fetched_at, last_seen, "
                "lower(hex(values_hash)), cfs_raw(raw_dict, raw_deflate) FROM "
                f"{OBSERVATIONS_FROM} ORDER BY 1, 2, 3"
            ).fetchall(),
            "presence": conn.execute(
                "SELECT feed_id, record_key, first_seen, last_seen FROM "
                f"{PRESENCE_FROM} ORDER BY 1, 2, 3"
            ).fetchall(),
            "listings": conn.execute(
                f"SELECT feed_id, fetched_at FROM {LISTINGS_FROM} ORDER BY 1, 2"
            ).fetchall(),
        }
    finally:
        conn.close()


def refused(db: Path, before: list[str], why: str) -> None:
    """The old store is refused (the message says why, ``why``, and names
    ``cfs migrate``), by the store and by the CLI, and left as it was."""
    with pytest.raises(StoreVersionError, match=why):
        open_store(db)
    proc = run_cfs("--db", str(db), "export", check=False)
    assert proc.returncode == 1 and f"cfs migrate --db {db}" in proc.stderr
    assert dump(db) == before  # nothing was written to it


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
    assert f"schema 1 -> {SCHEMA_VERSION}" in proc.stderr
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
    assert f"already schema {SCHEMA_VERSION}" in again.stderr
    # and the store goes on as a store of this version
    store = open_store(db)
    store.register_feeds([get_config(CLEARWATER)])
    assert store.touch_listing(CLEARWATER, "2025-12-14T00:04:00Z", "active_calls") == 7
    store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_migrate_on_postgresql(tmp_path: Path, fresh: Path, version: int) -> None:
    """The old store's tables and rows copied into PostgreSQL (its own DDL, REAL
    widened as that version did), then migrated: the same versions, raw records,
    spans and hashes as this version writes."""
    import re

    import psycopg

    from tests.test_postgres import _require_server

    server = _require_server()
    name = f"cfs_t_migrate{version}_" + tmp_path.name[-8:].lower().replace("-", "_")
    base, _, _ = server.rpartition("/")
    url = f"{base}/{name}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        db = old_store(tmp_path / "old.sqlite", version)
        lite = sqlite3.connect(db)
        # tables before the ones that reference them (a dump lists them by name)
        order = ["feeds", "runs", "sources", "raw_dicts", "calls", "observations"]
        ddl = [
            r[1]
            for r in sorted(
                lite.execute(
                    "SELECT name, sql, type FROM sqlite_master WHERE sql IS NOT NULL"
                ),
                key=lambda r: (
                    ("table", "index", "view").index(r[2]),
                    order.index(r[0]) if r[0] in order else len(order),
                    r[0],
                ),
            )
        ]
        with psycopg.connect(url, autocommit=True) as pg:
            for stmt in ddl:
                stmt = re.sub(r"\bREAL\b", "DOUBLE PRECISION", stmt)
                stmt = re.sub(r"\bBLOB\b", "BYTEA", stmt)
                stmt = stmt.replace(") VIRTUAL", ") STORED")  # PostgreSQL < 18
                pg.execute(stmt.replace(" WITHOUT ROWID", ""))
            for table in (
                "feeds",
                "runs",
                "sources",
                "raw_dicts",
                "calls",
                "observations",
                "presence",
                "listings",
                "feed_state",
                "imports",
                "store_meta",
            ):
                exists = lite.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = ?", (table,)
                ).fetchone()
                if not exists:
                    continue
                # table_info: the stored columns (not calls.last_run_id)
                cols = [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
                cur = lite.execute(f"SELECT {', '.join(cols)} FROM {table}")
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
        assert report.from_version == version
        if version == 1:
            assert report.sightings == 519
        store = open_store(url)
        try:
            want = tables(fresh)
            got = [
                (
                    v.feed_id,
                    v.record_key,
                    v.fetched_at,
                    v.last_seen,
                    v.values_hash,
                    v.raw_json,
                )
                for v in store.raw_versions()
            ]
            assert got == [tuple(r) for r in want["observations"]]
            presence = store.query(
                "SELECT feed_id, record_key, first_seen, last_seen FROM "
                f"{PRESENCE_FROM} ORDER BY feed_id, record_key, first_seen"
            )
            assert [tuple(r.values()) for r in presence] == want["presence"]
            calls = store.query(
                f"SELECT record_key, values_hash, source_url, last_run_id = run_id "
                f"AS same FROM {CALLS_FROM} ORDER BY feed_id, record_key"
            )
            conn = sqlite3.connect(fresh)
            expected = conn.execute(
                f"SELECT record_key, values_hash, source_url, 1 FROM {CALLS_FROM} "
                "ORDER BY feed_id, record_key"
            ).fetchall()
            conn.close()
            assert [
                (
                    r["record_key"],
                    bytes(r["values_hash"]),
                    r["source_url"],
                    int(r["same"]),
                )
                for r in calls
            ] == expected
        finally:
            store.close()
    finally:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_v2_store_is_refused_then_migrated_reading_the_same(
    tmp_path: Path, fresh: Path
) -> None:
    """A schema-2 store (the raw record as JSON text, the URL in every call) is
    refused naming ``cfs migrate``; migrated, its readers see the same calls
    (every column, with the same source URLs) and the same raw records, byte for
    byte, as the schema-2 store held, and what this version writes itself."""
    db = old_store(tmp_path / "v2.sqlite", 2)
    before = dump(db)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    v2_calls = [dict(r) for r in conn.execute("SELECT * FROM calls ORDER BY 1, 3")]
    v2_raw = conn.execute(
        "SELECT feed_id, record_key, fetched_at, last_seen, values_hash, raw_json "
        "FROM observations ORDER BY 1, 2, 3"
    ).fetchall()
    conn.close()
    assert len(v2_raw) == 328 and len(v2_calls) == 322
    refused(db, before, r"schema 2: the raw record as JSON")

    proc = run_cfs("--db", str(db), "migrate")
    assert f"schema 2 -> {SCHEMA_VERSION}: 328 versions" in proc.stderr
    got = tables(db)
    assert [tuple(r) for r in got["observations"]] == [tuple(r) for r in v2_raw]
    # every call as the schema-2 store had it (hash now kept as bytes, hex here)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    v3_calls = [
        dict(r)
        for r in conn.execute(
            f"SELECT * FROM {CALLS_FROM} ORDER BY feed_id, record_key"
        )
    ]
    conn.close()
    for old, new in zip(v2_calls, v3_calls, strict=True):
        for name in NUMBERING:
            new.pop(name)
        new["values_hash"] = bytes(new["values_hash"]).hex()
        assert new == old
    # and what this version writes from the same captures
    want = tables(fresh)
    for table in ("observations", "presence", "listings"):
        assert got[table] == want[table], table
    assert sorted(got["columns"]) == sorted(want["columns"])
    strip = [c for c in want["columns"] if "run_id" not in c]
    names = [c for c in got["columns"] if "run_id" not in c]
    assert [tuple(row[names.index(c)] for c in strip) for row in got["calls"]] == want[
        "calls"
    ]
    # the store goes on as a store of this version
    store = open_store(db)
    store.register_feeds([get_config(CLEARWATER)])
    assert store.touch_listing(CLEARWATER, "2025-12-14T00:04:00Z", "active_calls") == 7
    # each call's current raw record through the store's reader (call_raw)
    for call in v2_calls:
        feed, key = call["feed_id"], call["record_key"]
        current = [
            r[5] for r in v2_raw if r[:2] == (feed, key) and r[3] == call["last_seen"]
        ]
        assert [store.raw_text(feed, key)] == current
    store.close()


def test_a_v3_store_is_refused_then_migrated_as_this_version_writes(
    tmp_path: Path, fresh: Path
) -> None:
    """A schema-3 store (feed and run ids as text in every row), written by cfs
    70c2a77, is refused naming ``cfs migrate``; migrated, its readers see the
    same calls (every column, run ids included), versions, raw records, runs
    and imports as schema 3 held, and what this version writes itself from the
    same captures."""
    db = old_store(tmp_path / "v3.sqlite", 3)
    before = dump(db)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    install_sql_function(conn)
    v3_calls = [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM calls LEFT JOIN sources USING (source_id) "
            "ORDER BY feed_id, record_key"
        )
    ]
    v3_raw = [
        tuple(r)
        for r in conn.execute(
            "SELECT feed_id, record_key, fetched_at, last_seen, run_id, "
            "lower(hex(values_hash)), cfs_raw(raw_dict, raw_deflate) FROM "
            "observations ORDER BY 1, 2, 3"
        )
    ]
    v3_runs = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY run_id")]
    v3_state = [dict(r) for r in conn.execute("SELECT * FROM feed_state ORDER BY 1")]
    conn.close()
    assert len(v3_raw) == 328 and len(v3_calls) == 322 and len(v3_runs) == 54
    refused(db, before, r"schema 3: the feed and run ids")

    proc = run_cfs("--db", str(db), "migrate")
    assert f"schema 3 -> {SCHEMA_VERSION}: 322 calls and 328 versions" in proc.stderr
    store = open_store(db)
    try:
        # every call as the schema-3 store had it, its ids read through the keys
        calls = store.query(f"SELECT * FROM {CALLS_FROM} ORDER BY {CALLS_ORDER}")
        assert all(isinstance(c["feed_key"], int) for c in calls)
        for old, new in zip(v3_calls, calls, strict=True):
            for name in NUMBERING:
                old.pop(name, None)
                new.pop(name)
            assert new == old
        got_raw = [
            (v.feed_id, v.record_key, v.fetched_at, v.last_seen, v.run_id)
            + (v.values_hash, v.raw_json)
            for v in store.raw_versions()
        ]
        assert got_raw == v3_raw
        runs = store.query(
            "SELECT f.feed_id, r.* FROM runs r JOIN feeds f USING (feed_key) "
            "ORDER BY run_id"
        )
        for run in runs:
            run.pop("feed_key")
            run.pop("run_key")
        assert runs == v3_runs
        states = [dict(store.feed_states()[s["feed_id"]]) for s in v3_state]
        for state in states:
            state.pop("feed_key")
        assert states == v3_state
        # each call's current raw record through the store's reader (call_raw)
        for call in v3_calls[:40]:
            feed, key = call["feed_id"], call["record_key"]
            current = [
                r[6]
                for r in v3_raw
                if r[:2] == (feed, key) and r[3] == call["last_seen"]
            ]
            assert [store.raw_text(feed, key)] == current
    finally:
        store.close()
    # and what this version writes from the same captures
    got, want = tables(db), tables(fresh)
    for table in ("observations", "presence", "listings"):
        assert got[table] == want[table], table
    assert got["columns"] == want["columns"]
    assert got["calls"] == want["calls"]
    # the store goes on as a store of this version
    store = open_store(db)
    store.register_feeds([get_config(CLEARWATER)])
    assert store.touch_listing(CLEARWATER, "2025-12-14T00:04:00Z", "active_calls") == 7
    store.close()


def test_a_v4_store_is_refused_then_migrated_as_this_version_writes(
    tmp_path: Path, fresh: Path
) -> None:
    """A schema-4 store (versions and spans keyed by feed and record key),
    written by cfs 9c05df5, is refused naming ``cfs migrate``; migrated, every
    call keeps its columns and its order (the call key is the rowid it had),
    its readers see the same versions, raw records and spans as schema 4 held,
    and what this version writes itself from the same captures; the history
    tables hold each call's key, not its feed and record key."""
    db = old_store(tmp_path / "v4.sqlite", 4)
    before = dump(db)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    install_sql_function(conn)
    v4_calls = [dict(r) for r in conn.execute("SELECT rowid AS call_key, * FROM calls")]
    v4_raw = [
        tuple(r)
        for r in conn.execute(
            "SELECT feed_key, record_key, fetched_at, last_seen, run_key, "
            "values_hash, cfs_raw(raw_dict, raw_deflate) FROM observations "
            "ORDER BY 1, 2, 3"
        )
    ]
    v4_spans = [
        tuple(r) for r in conn.execute("SELECT * FROM presence ORDER BY 1, 2, 3")
    ]
    conn.close()
    assert (len(v4_calls), len(v4_raw), len(v4_spans)) == (322, 328, 322)
    refused(db, before, r"schema 4: the history tables")

    proc = run_cfs("--db", str(db), "migrate")
    assert f"schema 4 -> {SCHEMA_VERSION}: 322 calls and 328 versions" in proc.stderr
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    install_sql_function(conn)
    try:
        calls = [dict(r) for r in conn.execute("SELECT * FROM calls ORDER BY 1")]
        assert calls == v4_calls
        got_raw = [
            tuple(r)
            for r in conn.execute(
                "SELECT feed_key, record_key, fetched_at, last_seen, run_key, "
                f"values_hash, cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM} "
                "ORDER BY 1, 2, 3"
            )
        ]
        assert got_raw == v4_raw
        spans = [
            tuple(r)
            for r in conn.execute(
                "SELECT feed_key, record_key, first_seen, last_seen FROM "
                f"{PRESENCE_FROM} ORDER BY 1, 2, 3"
            )
        ]
        assert spans == v4_spans
        for table in ("observations", "presence"):
            cols = [d[0] for d in conn.execute(f"SELECT * FROM {table}").description]
            assert cols[0] == "call_key" and "record_key" not in cols, cols
    finally:
        conn.close()
    store = open_store(db)
    try:
        for call in v4_calls[:40]:
            feed = store.query(
                "SELECT feed_id FROM feeds WHERE feed_key = ?", (call["feed_key"],)
            )[0]["feed_id"]
            current = [
                r[6]
                for r in v4_raw
                if r[:2] == (call["feed_key"], call["record_key"])
                and r[3] == call["last_seen"]
            ]
            assert [store.raw_text(feed, call["record_key"])] == current
        # and what this version writes itself from the same captures
        got, want = tables(db), tables(fresh)
        for table in ("observations", "presence", "listings"):
            assert got[table] == want[table], table
        # the store goes on as a store of this version
        store.register_feeds([get_config(CLEARWATER)])
        assert (
            store.touch_listing(CLEARWATER, "2025-12-14T00:04:00Z", "active_calls") == 7
        )
    finally:
        store.close()
