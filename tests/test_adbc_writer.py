"""The writer process through SQLite's ADBC driver (``store/adbc_store.py``,
``store/adbc_conn.py``): the same store as through ``sqlite3``, on every bundled
capture; and the connection's own rules on synthetic values (named as such)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("adbc_driver_sqlite")

from tests.test_store_arrow import crawl_alike, registered  # noqa: E402


def test_every_capture_stores_the_same_through_adbc(tmp_path: Path) -> None:
    """Every bundled capture crawled with every batch from the writer process,
    once writing through ``sqlite3`` (``CFS_WRITER_ADBC=0``) and once through
    ADBC: the same stores, outputs and reports (``crawl_alike``), and each
    run's report names the driver that wrote its batches."""
    got = crawl_alike(tmp_path, {f"adbc{m}": {"CFS_WRITER_ADBC": m} for m in "01"})
    old, new = got["adbc0"], got["adbc1"]
    written = [r for r in new if r["records"]]
    assert written and all(r["store_writer"]["process"] for r in written)
    assert {d for r in written for d in r["store_writer"]["process_drivers"]} == {
        "adbc"
    }
    assert {
        d for r in old if r["records"] for d in r["store_writer"]["process_drivers"]
    } == {"sqlite3"}
    # the Arrow batches were bound from their columns (most runs' batches)
    assert sum(r["store_writer"]["arrow_batches"] for r in written) > 100


def test_a_batch_twice_through_the_adbc_writer_changes_nothing(tmp_path: Path) -> None:
    """A batch of calls, then the same batch again (every call held already:
    the Arrow rows split into new and known): nothing new the second time, and
    the keys bound from Arrow stored as integers."""
    from cfs_spiders.store import process as store_process

    db, records, columns, texts, exact = registered(tmp_path, 60)
    proc = store_process.StoreProcess(db)
    try:
        first = proc.submit(records, texts, exact, columns=[columns])
        nc, nv, _, path, driver = first.result(timeout=60)
        assert (path, driver) == ("arrow", "adbc") and nc > 0 and nv == nc
        again = proc.submit(records, texts, exact, columns=[columns])
        assert again.result(timeout=60)[:2] == (0, 0)
    finally:
        proc.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM calls").fetchone() == (nc,)
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (nc,)
        # the keys bound from Arrow are the integers the sqlite3 path binds
        assert conn.execute(
            "SELECT DISTINCT typeof(feed_key), typeof(call_key), typeof(run_key), "
            "typeof(values_hash) FROM calls"
        ).fetchall() == [("integer", "integer", "integer", "blob")]
    finally:
        conn.close()


# --------------------------------------------------- the connection, synthetic
@pytest.fixture
def conn(tmp_path: Path):
    from cfs_spiders.store.adbc_conn import Connection

    c = Connection(str(tmp_path / "synthetic.sqlite"))
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, r REAL, b BLOB)")
    yield c
    c.close()


def test_a_column_of_mixed_types_is_bound_as_sqlite3_binds_it(conn) -> None:
    """Synthetic rows: an int and a float in one TEXT column stay '1' and '2.5'
    (one Arrow column would make both doubles, '1.0'); bools as integers."""
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [(1, 1, 1, b"x"), (2, 2.5, None, None), (3, True, 2.5, b"")],
    )
    got = cur.execute("SELECT k, v, typeof(v), r, b FROM t ORDER BY k").fetchall()
    ref = sqlite3.connect(":memory:")
    ref.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, r REAL, b BLOB)")
    ref.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [(1, 1, 1, b"x"), (2, 2.5, None, None), (3, True, 2.5, b"")],
    )
    assert (
        got == ref.execute("SELECT k, v, typeof(v), r, b FROM t ORDER BY k").fetchall()
    )


def test_errors_are_sqlite3_errors_and_leave_nothing_bound(conn) -> None:
    """Synthetic: a duplicate key raises ``sqlite3.IntegrityError``; the next
    statement on the same cursor, without parameters, runs (the driver kept
    the failed one's)."""
    cur = conn.cursor()
    cur.execute("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed"):
        cur.execute("INSERT INTO t (k, v) VALUES (?, ?)", (1, "b"))
    assert cur.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with pytest.raises(sqlite3.Error, match="no such table"):
        cur.execute("SELECT * FROM synthetic_missing")
    cur.execute("BEGIN IMMEDIATE")
    cur.execute("INSERT INTO t (k, v) VALUES (2, 'c')")
    cur.execute("ROLLBACK")
    assert cur.execute("SELECT k, v FROM t").fetchall() == [(1, "a")]
