"""calls.csv written by columns (Arrow batches, ``exports/frame_csv.py``) is the
row writer's file byte for byte: on the store of every bundled capture, and on
synthetic stores of hostile cells (formula starts, quotes, commas, line breaks,
control characters, unicode, floats Python writes with an exponent), in batches
small enough that every boundary case lands somewhere. Values a column's type
does not admit (text in a REAL column, a float in an INTEGER one) make the
batch path refuse, and ``export_calls`` falls back to the rows: the same bytes.
Every value below that is not read from a bundled capture is synthetic.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_spiders.exports import calls_csv, frame_csv, packed_csv
from cfs_spiders.exports.files import spreadsheet_path
from cfs_spiders.store.base import CALLS_FROM  # noqa: F401
from cfs_spiders.store.sqlite import BatchReadError, Store

NAMES = ("calls.csv", "calls_spreadsheet.csv")


def both_ways(store: Store, tmp: Path, *, batch_rows: int = 8192) -> dict:
    """Export with the row writer and the batch writer; the four files."""
    ref, new = tmp / "rows", tmp / "batches"
    calls_csv.export_calls_rows(store, ref)
    # ranges of a few batches: keys read on two connections, handed on in order
    done = calls_csv.export_calls_batches(
        store, new, batch_rows=batch_rows, range_rows=batch_rows * 3, ranges_from=0
    )
    assert done is not None, "the store has no Arrow reader"
    return {n: ((ref / n).read_bytes(), (new / n).read_bytes()) for n in NAMES}


def assert_export_calls_writes_the_rows_bytes(store: Store, tmp: Path) -> None:
    """``export_calls`` (whichever way it reads) writes the row writer's files."""
    calls_csv.export_calls_rows(store, tmp / "rows")
    calls_csv.export_calls(store, tmp / "auto")
    for name in NAMES:
        ref = (tmp / "rows" / name).read_bytes()
        assert (tmp / "auto" / name).read_bytes() == ref


def assert_identical(files: dict) -> None:
    for name, (ref, new) in files.items():
        if ref != new:
            at = next(
                (i for i, (a, b) in enumerate(zip(ref, new, strict=False)) if a != b),
                min(len(ref), len(new)),
            )
            line = ref[:at].count(b"\n") + 1
            raise AssertionError(
                f"{name} differs at byte {at} (line {line}):\n"
                f"rows:    {ref[max(0, at - 80) : at + 80]!r}\n"
                f"batches: {new[max(0, at - 80) : at + 80]!r}"
            )


def test_every_bundled_capture_exports_the_same_bytes(replayed, tmp_path):
    store = Store(replayed["db"])
    try:
        n = store.query(f"SELECT COUNT(*) AS n FROM {CALLS_FROM}")[0]["n"]
        feeds = store.query(f"SELECT COUNT(DISTINCT feed_id) AS n FROM {CALLS_FROM}")[
            0
        ]["n"]
        assert n > 1000 and feeds > 10  # the captures did reach the store
        # small batches: feeds begin and end inside batches, and a column
        # empty in one batch is filled in the next
        for rows in (97, 8192):
            files = both_ways(store, tmp_path / str(rows), batch_rows=rows)
            assert_identical(files)
            assert files["calls.csv"][0].count(b"\n") >= n + 1
    finally:
        store.close()


# ------------------------------------------------------------ synthetic stores

HOSTILE_TEXT = [
    None,
    "",
    "plain",
    '=HYPERLINK("http://x")',
    "+1",
    "-82.8",
    "-",
    "@SUM(A1)",
    "\tTAB START",
    "\rCR START",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\ronly",
    "crlf\r\nend",
    "nul\x00inside",
    "esc\x1b[31m",
    "del\x7f",
    "unicode é 東京 🚒 \u202eRTL",
    "\ufeffBOM",
    " spaced ",
    "'quoted",
    "=",
    "1e5",
    "+.5",
    ",",
    '"',
    "\n",
]
FLOATS = [
    None,
    0.0,
    -0.0,
    29.561601999999997,
    -97.123456,
    1e-05,
    -3.2e-07,
    0.0001,
    1e16,
    1.2345678901234568e17,
    5e-324,
    30.0,
    float("inf"),
]
INTS = [None, 0, 1, -7, 2**53 + 1, 10**15]
TEXT_COLUMNS = [
    "call_id",
    "address",
    "address_raw",
    "call_type_raw",
    "units_raw",
    "area_box",
    "source_url",
    "disappeared_at",
]


def _source_id(conn: Any, values: dict, mark: str) -> None:
    """The row's ``source_url`` as the store keeps it: once in ``sources``,
    named by ``calls.source_id``."""
    url = values.pop("source_url", None)
    if url is None:
        return
    conn.execute(
        f"INSERT INTO sources (source_url) VALUES ({mark}) "
        "ON CONFLICT (source_url) DO NOTHING",
        (url,),
    )
    values["source_id"] = conn.execute(
        f"SELECT source_id FROM sources WHERE source_url = {mark}", (url,)
    ).fetchone()[0]


def _feed_key(conn: Any, feed_id: str, mark: str) -> int:
    """The feed's key (its ``feeds`` row made if it has none)."""
    conn.execute(
        f"INSERT INTO feeds (feed_id) VALUES ({mark}) ON CONFLICT (feed_id) DO NOTHING",
        (feed_id,),
    )
    return conn.execute(
        f"SELECT feed_key FROM feeds WHERE feed_id = {mark}", (feed_id,)
    ).fetchone()[0]


def insert_calls(conn: Any, rows: list[dict], mark: str) -> None:
    """The synthetic rows as calls of ``zz_synthetic`` (keys K000000...), on a
    SQLite or psycopg connection (``mark``: its parameter marker)."""
    for i, row in enumerate(rows):
        values = {
            "feed_key": _feed_key(conn, "zz_synthetic", mark),
            "record_key": f"K{i:06d}",
            "first_seen": "2025-12-13T17:00:00Z",
            "last_seen": "2025-12-13T17:05:00Z",
            "values_hash": b"h",
            **row,
        }
        _source_id(conn, values, mark)
        cols = ", ".join(values)
        marks = ", ".join([mark] * len(values))
        conn.execute(
            f"INSERT INTO calls ({cols}) VALUES ({marks})", list(values.values())
        )


def hostile_store(path: Path, rows: list[dict]) -> Store:
    """A store whose calls are the given synthetic rows (straight into the
    table: the export reads what is stored, whatever wrote it)."""
    store = Store(path)
    conn = sqlite3.connect(path)
    try:
        insert_calls(conn, rows, "?")
        conn.commit()
    finally:
        conn.close()
    return store


def cycled(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        row = {
            c: HOSTILE_TEXT[(i * (k + 3)) % len(HOSTILE_TEXT)]
            for k, c in enumerate(TEXT_COLUMNS)
        }
        row["latitude"] = FLOATS[i % len(FLOATS)]
        row["longitude"] = FLOATS[(i * 5 + 1) % len(FLOATS)]
        row["unit_count"] = INTS[i % len(INTS)]
        row["config_version"] = INTS[(i + 2) % len(INTS)]
        row["is_officer_initiated"] = (None, 0, 1)[i % 3]
        rows.append(row)
    return rows


def test_hostile_cells_export_the_same_bytes(tmp_path):
    # the first 300 rows leave every column but the keys NULL: the batch
    # reader must not take a column's type from an empty first batch
    rows = [{} for _ in range(300)] + cycled(2000)
    store = hostile_store(tmp_path / "cfs.sqlite", rows)
    try:
        for batch_rows in (7, 64, 8192):
            files = both_ways(store, tmp_path / str(batch_rows), batch_rows=batch_rows)
            assert_identical(files)
        faithful, safe = files["calls.csv"][1], files["calls_spreadsheet.csv"][1]
        assert faithful != safe  # the spreadsheet copy did change cells
        assert b"'=HYPERLINK" in safe and b"\n=HYPERLINK" not in safe
        assert b',"a,b",' in faithful and b"1e-05" in faithful
        # a bare carriage return inside a cell is quoted (csv.writer leaves it
        # bare, and pandas then splits the row): both files read back whole
        assert b'"cr\ronly"' in faithful
        for name in ("calls.csv", "calls_spreadsheet.csv"):
            back = pd.read_csv(
                tmp_path / "8192" / "batches" / name, dtype=str, keep_default_na=False
            )
            assert len(back) == len(rows), name
            assert set(back["feed_id"]) == {"zz_synthetic"}, name
    finally:
        store.close()


cell_text = st.one_of(
    st.none(),
    st.sampled_from(HOSTILE_TEXT),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "address": cell_text,
                "call_type_raw": cell_text,
                "units_raw": cell_text,
                "latitude": st.one_of(st.none(), st.floats(allow_nan=False)),
                "unit_count": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
            }
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 16),
)
def test_generated_cells_export_the_same_bytes(rows, batch_rows):
    with tempfile.TemporaryDirectory() as tmp:
        store = hostile_store(Path(tmp) / "cfs.sqlite", rows)
        try:
            assert_identical(both_ways(store, Path(tmp), batch_rows=batch_rows))
        finally:
            store.close()


@pytest.mark.parametrize(
    "odd",
    [
        {"latitude": "not a number"},  # text kept by a REAL column
        {"unit_count": 2.5},  # a float kept by an INTEGER column
        {"address": b"\xff\x00blob"},  # a blob in a TEXT column
    ],
    ids=["text-in-real", "float-in-integer", "blob-in-text"],
)
@pytest.mark.parametrize("where", [0, 150], ids=["first-batch", "later-batch"])
def test_a_value_of_another_type_falls_back_to_the_rows(tmp_path, odd, where):
    rows = cycled(200)
    rows[where] = {**rows[where], **odd}
    store = hostile_store(tmp_path / "cfs.sqlite", rows)
    try:
        with pytest.raises((frame_csv.UnsupportedColumn, BatchReadError)):
            calls_csv.export_calls_batches(store, tmp_path / "b", batch_rows=100)
        assert not (tmp_path / "b" / "calls.csv").exists()  # nothing half written
        assert not list((tmp_path / "b").glob(".*.tmp"))
        assert_export_calls_writes_the_rows_bytes(store, tmp_path)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("module", "step", "packed"),
    [(frame_csv, "encode", False), (packed_csv, "unpack", True)],
    ids=["unpacked", "packed"],
)
def test_a_failed_batch_export_keeps_the_previous_files(
    tmp_path, monkeypatch, module, step, packed
):
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(500))
    out = tmp_path / "out"
    try:
        calls_csv.export_calls(store, out)
        before = {n: (out / n).read_bytes() for n in NAMES}
        real = getattr(module, step)
        calls = []

        def failing(*args):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("synthetic: disk full")
            return real(*args)

        monkeypatch.setattr(module, step, failing)
        with pytest.raises(OSError, match="disk full"):
            calls_csv.export_calls_batches(store, out, batch_rows=50, packed=packed)
        assert len(calls) == 3
        assert {n: (out / n).read_bytes() for n in NAMES} == before
        assert not list(out.glob(".*.tmp"))
        assert spreadsheet_path(out / "calls.csv").name == "calls_spreadsheet.csv"
    finally:
        store.close()


# ------------------------------------------------------------------ read_ahead


def test_read_ahead_keeps_order_raises_in_place_and_stops_its_thread():
    assert list(frame_csv.read_ahead(iter(range(100)), depth=2)) == list(range(100))

    def failing():
        yield 1
        yield 2
        raise ValueError("synthetic read failure")

    got = []
    with pytest.raises(ValueError, match="synthetic read failure"):
        for item in frame_csv.read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    ahead = frame_csv.read_ahead(endless(), depth=2)
    assert next(ahead) == 0
    ahead.close()  # the consumer stops early
    assert closed.is_set()
    assert not any(t.name == "cfs-read-ahead" for t in threading.enumerate())


def test_an_empty_store_and_a_store_without_some_columns(tmp_path):
    empty = hostile_store(tmp_path / "empty.sqlite", [])
    try:
        files = both_ways(empty, tmp_path / "empty")
        assert_identical(files)
        assert files["calls.csv"][1].count(b"\n") == 1  # the header alone
    finally:
        empty.close()
    path = tmp_path / "older.sqlite"
    hostile_store(path, cycled(300)).close()
    conn = sqlite3.connect(path)
    # (source_url is kept in sources: the join needs calls.source_id)
    for col in ("area_box", "unit_count"):  # read blank
        conn.execute(f"ALTER TABLE calls DROP COLUMN {col}")
    conn.close()
    older = Store(path)
    try:
        assert "unit_count" not in older.columns("calls")
        assert_identical(both_ways(older, tmp_path / "older", batch_rows=64))
    finally:
        older.close()


def test_the_typed_query_reads_in_key_order_without_sorting(tmp_path):
    """The typed cells are named like the columns; ordering by those names
    would sort every call in a temporary B-tree instead of walking the key."""
    store = hostile_store(tmp_path / "cfs.sqlite", cycled(50))
    try:
        types = store.column_types(calls_csv.CALLS_SOURCE)
        assert types["latitude"] == "REAL" and types["unit_count"] == "INTEGER"
        for sql in (calls_csv.calls_query(types, types), calls_csv.calls_query(types)):
            plan = " ".join(
                r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}")
            )
            assert "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


# ----------------------------------------------------------------- PostgreSQL


@pytest.fixture()
def pg_url():
    """A fresh database on the test server (``CFS_TEST_DATABASE_URL``)."""
    import os
    import uuid

    server = os.environ.get("CFS_TEST_DATABASE_URL")
    if not server:
        if os.environ.get("CFS_REQUIRE_SERVICES") == "1":
            pytest.fail("CFS_REQUIRE_SERVICES=1 but CFS_TEST_DATABASE_URL is not set")
        pytest.skip("CFS_TEST_DATABASE_URL not set (no PostgreSQL server)")
    psycopg = pytest.importorskip("psycopg")
    name = f"cfs_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgres_exports_the_same_bytes(pg_url, tmp_path):
    """PostgreSQL's rows read by its ADBC driver (a binary COPY) and written by
    columns: the row writer's bytes (text cannot hold NUL there, and its
    INTEGER is 4 bytes)."""
    import psycopg

    from cfs_spiders.store.connect import open_store

    pytest.importorskip("adbc_driver_postgresql")
    store = open_store(pg_url)
    rows = [{} for _ in range(30)]
    for row in cycled(600):
        rows.append(
            {
                k: v.replace("\x00", "") if isinstance(v, str) else v
                for k, v in row.items()
                if not (isinstance(v, int) and abs(v) > 2**31 - 1)
            }
        )
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("INSERT INTO feeds (feed_id) VALUES ('zz_synthetic')")
        insert_calls(con, rows, "%s")
    try:
        files = both_ways(store, tmp_path)
        assert_identical(files)
        text = files["calls.csv"][1].decode("utf-8")
        assert text.count("\nzz_synthetic,") == len(rows)
        assert "1e-05" in text
    finally:
        store.close()
