"""The store's Arrow batches are read in processes of their own
(``store/arrow_reader.py``, ``store/arrow_child.py``): the ADBC driver's copy of
SQLite never shares a process with Python's ``sqlite3`` on the same store. Why,
shown on the driver itself: in one process it resets the WAL index that the
other copy has mapped. The calls here are synthetic.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cfs_spiders.exports import calls_csv
from cfs_spiders.store.base import CALLS_FROM  # noqa: F401
from cfs_spiders.store.sqlite import BatchReadError, Store

sys.path.insert(0, str(Path(__file__).parent))
from test_export_identity import (  # noqa: E402
    NAMES,
    assert_export_calls_writes_the_rows_bytes,
    cycled,
    hostile_store,
)

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("adbc_driver_sqlite")


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def data_version(store: Store) -> int:
    return store.conn.execute("PRAGMA data_version").fetchone()[0]


def test_the_driver_in_the_same_process_resets_the_other_copys_wal_index(tmp_path):
    """The reason for the child processes, measured on this machine's driver:
    a read-only connection of the driver in a process where ``sqlite3`` holds
    the store takes itself for the WAL index's only user and rebuilds it, which
    ``sqlite3`` sees as a commit nobody made. (A subprocess: it can crash.)"""
    out = run_python(
        f"""
        import sqlite3
        import adbc_driver_sqlite.dbapi as adbc
        path = {str(tmp_path / "wal.sqlite")!r}
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        before = conn.execute("PRAGMA data_version").fetchone()[0]
        reader = adbc.connect("file:" + path + "?mode=ro")
        cur = reader.cursor()
        cur.execute("SELECT x FROM t")
        cur.fetchall()
        cur.close()
        reader.close()
        print(conn.execute("PRAGMA data_version").fetchone()[0] != before)
        """
    )
    assert out.strip() == "True"


def test_a_read_leaves_the_stores_own_connection_undisturbed(tmp_path):
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(300))
    try:
        before = data_version(store)
        for _ in range(3):
            batches = store.iter_batches(
                f"SELECT record_key FROM {CALLS_FROM}", rows=64
            )
            assert sum(b.num_rows for b in batches) == 300
        assert data_version(store) == before  # no WAL index rebuilt under it
    finally:
        store.close()


def test_the_exporting_process_never_loads_the_driver(tmp_path):
    out = run_python(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, "tests")
        from test_export_identity import cycled, hostile_store
        from cfs_spiders.exports import calls_csv
        store = hostile_store(Path({str(tmp_path)!r}) / "cfs.sqlite", cycled(500))
        done = calls_csv.export_calls_batches(
            store, Path({str(tmp_path / "out")!r}), batch_rows=64, ranges_from=0
        )
        store.close()
        maps = Path("/proc/self/maps").read_text()
        print(done is not None, "adbc_driver_sqlite" in sys.modules,
              "adbc_driver_sqlite" in maps)
        """
    )
    assert out.split() == ["True", "False", "False"]
    store = Store(tmp_path / "cfs.sqlite")
    try:
        calls_csv.export_calls_rows(store, tmp_path / "rows")
    finally:
        store.close()
    for name in NAMES:
        ref = (tmp_path / "rows" / name).read_bytes()
        assert ref.startswith(b"feed_id,") and len(ref) > 50_000
        assert (tmp_path / "out" / name).read_bytes() == ref


def test_a_driver_error_names_the_store_and_the_child_serves_the_next_query(
    tmp_path,
):
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(10))
    try:
        # the first batch types the column as an integer, the second holds text
        mixed = "SELECT 1 AS x UNION ALL SELECT 'text' ORDER BY 1"
        with pytest.raises(BatchReadError) as err:
            list(store.iter_batches(mixed, rows=1))
        assert str(tmp_path / "cfs.sqlite") in str(err.value)
        (child,) = store._readers._idle
        pid = child.proc.pid
        batches = store.iter_batches(f"SELECT COUNT(*) FROM {CALLS_FROM}", rows=8)
        assert [b.column(0)[0].as_py() for b in batches] == [10]
        assert [c.proc.pid for c in store._readers._idle] == [pid]  # the same
    finally:
        store.close()
    assert child.proc.returncode == 0  # ended by close, not killed


def test_a_read_left_part_way_ends_its_child(tmp_path):
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(200))
    try:
        batches = store.iter_batches(f"SELECT record_key FROM {CALLS_FROM}", rows=10)
        assert next(batches).num_rows == 10
        batches.close()  # its answer is still in the pipe: not reusable
        assert store._readers._idle == []
        again = store.iter_batches(f"SELECT record_key FROM {CALLS_FROM}", rows=10)
        assert sum(b.num_rows for b in again) == 200
    finally:
        store.close()


def test_a_read_left_part_way_with_its_pipe_full_ends_at_once(tmp_path):
    """A query left after its first batch while the child has filled the pipe
    with the rest (synthetic: 200,000 rows of 200 characters, ~40 MB, far more
    than the 1 MiB pipe): the child is killed, not waited for (it would never
    read the end of its input while blocked writing; closing took the 10 s
    timeout before), and the next query reads in full."""
    import time

    store = hostile_store(tmp_path / "cfs.sqlite", cycled(50))
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 200000) SELECT printf('%0200d', i) AS t FROM n"
    )
    try:
        batches = store.iter_batches(sql, rows=1000)
        assert next(batches).num_rows == 1000
        time.sleep(0.5)  # the child writes on until the pipe is full
        started = time.monotonic()
        batches.close()
        assert time.monotonic() - started < 5, "closing waited for a blocked child"
        assert store._readers._idle == []
        again = store.iter_batches(f"SELECT record_key FROM {CALLS_FROM}", rows=10)
        assert sum(b.num_rows for b in again) == 50
    finally:
        store.close()


def test_a_reading_process_that_died_is_a_batch_read_error(tmp_path):
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(200))
    try:
        assert sum(b.num_rows for b in store.iter_batches("SELECT 1", rows=1)) == 1
        (child,) = store._readers._idle
        child.proc.kill()
        child.proc.wait()
        with pytest.raises(BatchReadError, match="reading process ended|Broken"):
            list(store.iter_batches(f"SELECT record_key FROM {CALLS_FROM}", rows=10))
        assert store._readers._idle == []  # the dead one is not handed out again
        # export_calls: a failed batch read is written by rows, the same bytes
        assert_export_calls_writes_the_rows_bytes(store, tmp_path)
        assert store._readers._idle == []  # export_calls ends its readers
    finally:
        store.close()


def test_a_child_that_cannot_open_the_store_says_why(tmp_path):
    from cfs_spiders.store.arrow_reader import ArrowReaders

    readers = ArrowReaders(tmp_path / "absent.sqlite")  # read only: not created
    try:
        with pytest.raises(BatchReadError) as err:
            list(readers.batches("SELECT 1", 1))
        message = str(err.value)
        assert "absent.sqlite" in message and "reading process ended" in message
        # the child's last line of stderr: the driver's exception and its words
        assert "adbc_driver_manager" in message and "mode=ro" in message
        assert not (tmp_path / "absent.sqlite").exists()
    finally:
        readers.close()


def test_no_interpreter_to_start_a_reader_writes_the_same_file_by_rows(
    tmp_path, monkeypatch
):
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(100))
    try:
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
        with pytest.raises(BatchReadError, match="no reading process"):
            calls_csv.export_calls_batches(store, tmp_path / "b")
        assert_export_calls_writes_the_rows_bytes(store, tmp_path)
    finally:
        store.close()
