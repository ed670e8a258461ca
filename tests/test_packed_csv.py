"""calls.csv read as packed cells (``exports/packed_csv.py``: runs of text
columns read from SQLite as one ``concat_ws(char(31), ...)`` cell each, split
back by numpy) is the row writer's file byte for byte, and its spreadsheet copy
too: on the store of every bundled capture, and on synthetic stores whose
hostile cells sit in every position of a packed run (first, middle, last, a run
of one column), NULL beside '' in every packed column, a value holding the
separator itself (``Unpackable``: read again unpacked, the same bytes), in
batches small enough that every boundary case lands somewhere, on one
connection and in key ranges on two. Every value below that is not read from a
bundled capture is synthetic.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_spiders.exports import calls_csv, frame_csv, packed_csv
from cfs_spiders.exports.files import safe_cell
from cfs_spiders.exports.key_ranges import StoreChanged
from cfs_spiders.store.sqlite import Store

sys.path.insert(0, str(Path(__file__).parent))
from test_export_identity import (  # noqa: E402
    HOSTILE_TEXT,
    NAMES,
    assert_identical,
    cycled,
    hostile_store,
    insert_calls,
    pg_url,  # noqa: F401 - the fixture
)

COLUMNS = list(calls_csv.CALLS_COLUMNS)


def packed_parts(store: Store) -> list[packed_csv.Part]:
    types = store.column_types(calls_csv.CALLS_SOURCE)
    return packed_csv.pack(calls_csv.query_cells(types, types))[1]


def _stored(col: str) -> str:
    """A column of calls.csv as the calls table names it."""
    return calls_csv._RENAMED.get(col, col)


@pytest.fixture()
def unpacked(monkeypatch) -> list[int]:
    """The number of batches ``packed_csv.unpack`` split: proof that the
    packed path wrote a file (not the fallback)."""
    seen: list[int] = []
    real = packed_csv.unpack

    def counting(batch: pa.RecordBatch, parts: Any) -> Any:
        seen.append(batch.num_rows)
        return real(batch, parts)

    monkeypatch.setattr(packed_csv, "unpack", counting)
    return seen


def rows_files(store: Store, out: Path) -> dict[str, bytes]:
    calls_csv.export_calls_rows(store, out)
    return {n: (out / n).read_bytes() for n in NAMES}


def packed_files(store: Store, out: Path, **options: Any) -> dict[str, bytes]:
    done = calls_csv.export_calls_batches(store, out, packed=True, **options)
    assert done is not None, "the store has no Arrow reader"
    return {n: (out / n).read_bytes() for n in NAMES}


def check_every_way(
    store: Store, tmp: Path, seen: list[int], sizes: tuple[int, ...] = (1, 7, 8192)
) -> dict[str, bytes]:
    """The row writer's files against the packed writer's: one connection and
    ranges on two, at each batch size. The row writer's files returned."""
    ref = rows_files(store, tmp / "rows")
    for rows in sizes:
        for name, options in (
            ("one", {"workers": 1}),
            ("ranged", {"ranges_from": 0, "range_rows": rows * 3}),
        ):
            before = len(seen)
            new = packed_files(store, tmp / f"{name}{rows}", batch_rows=rows, **options)
            assert_identical({n: (ref[n], new[n]) for n in NAMES})
            assert len(seen) > before or ref["calls.csv"].count(b"\n") == 1
    return ref


def test_every_bundled_capture_packed_is_the_row_writers_bytes(
    replayed, tmp_path, unpacked
):
    store = Store(replayed["db"])
    try:
        n = store.query(f"SELECT COUNT(*) AS n FROM {calls_csv.CALLS_SOURCE}")[0]["n"]
        assert n > 1000
        ref = check_every_way(store, tmp_path, unpacked, sizes=(97, 8192))
        assert sum(unpacked) == 4 * n  # every call of each export unpacked
        assert ref["calls.csv"] != ref["calls_spreadsheet.csv"]
        unpacked.clear()
        # export_calls as the crawl calls it: packed by default
        calls_csv.export_calls(store, tmp_path / "auto")
        assert unpacked
        for name in NAMES:
            assert (tmp_path / "auto" / name).read_bytes() == ref[name]
    finally:
        store.close()


def test_every_packed_cell_is_text_with_its_separators(tmp_path):
    """concat_ws skips a NULL argument: each packed column must read ''
    (never NULL) for its separators to count the columns. Synthetic rows:
    every packed column NULL, every one '', and each alternately."""
    store = hostile_store(tmp_path / "cfs.sqlite", [{} for _ in range(3)])
    parts = [p for p in packed_parts(store) if p.kind == "packed"]
    stored = [_stored(c) for p in parts for c in p.columns]
    settable = [c for c in stored if c in store.columns("calls")]
    settable = [c for c in settable if c not in ("first_seen", "last_seen")]
    conn = sqlite3.connect(store.path)
    conn.execute(f"UPDATE calls SET {', '.join(f'{c} = NULL' for c in settable)}")
    conn.execute(
        f"UPDATE calls SET {', '.join(f'{c} = {chr(39) * 2}' for c in settable)} "
        "WHERE record_key = 'K000001'"
    )
    alternate = ", ".join(
        f"{c} = {'NULL' if i % 2 else chr(39) + 'x' + chr(39)}"
        for i, c in enumerate(settable)
    )
    conn.execute(f"UPDATE calls SET {alternate} WHERE record_key = 'K000002'")
    conn.commit()
    conn.close()
    try:
        types = store.column_types(calls_csv.CALLS_SOURCE)
        exprs, parts = packed_csv.pack(calls_csv.query_cells(types, types))
        sql = calls_csv.select_calls(exprs)
        # (read by the ADBC driver's SQLite: Python's may lack concat_ws)
        got = pa.Table.from_batches(list(store.iter_batches(sql))).to_pylist()
        assert len(got) == 3
        for part in parts:
            if part.kind != "packed":
                continue
            for row in got:
                cell = row[part.name]
                assert isinstance(cell, str), (part, row)
                assert cell.count("\x1f") == len(part.columns) - 1, (part, cell)
        lines = rows_files(store, tmp_path / "rows")["calls.csv"].splitlines()
        assert all(line.count(b",") == len(COLUMNS) - 1 for line in lines)
    finally:
        store.close()


# ------------------------------------------------------------ synthetic stores

# synthetic hostile values for the packed columns: formula starts, numbers
# that are not formulas, quotes, commas, line breaks, control characters,
# non-ASCII text (a NEL and a line separator: not controls for safe_cell)
PACKED_HOSTILE = [
    *HOSTILE_TEXT,
    "=1+1",
    "+",
    "-82.8",
    "@",
    "-x,y",
    '=a"b',
    "\x0bvt",
    "\x0cff",
    "nel\x85 ls\u2028 ps\u2029",
    "\u00a0nbsp",
    "é,東京",
    "tab\tin",
    "\r\n",
    "a\n=b",
    " =not first",
    "true",
]
# packed columns as stored, first, middle and last of their runs, and the
# officer flag inside one (written true/false)
PACKED_STORED = [
    "call_id",
    "received_at_utc",
    "received_at_raw",
    "time_flags",
    "address_form",
    "address_granularity",
    "coord_granularity",
    "call_type_code_raw",
    "call_type_category",
    "status",
    "status_basis",
    "disposition_category",
    "area_beat",
    "area_municipality",
    "first_seen",
    "last_seen",
    "disappeared_at",
]


def packed_rows(n: int) -> list[dict]:
    """Synthetic rows: the hostile values cycled through the packed columns
    (NULL among them), the free-text columns and numbers of ``cycled``."""
    base = cycled(n)
    rows = []
    for i, row in enumerate(base):
        values = dict(row)
        for k, col in enumerate(PACKED_STORED):
            value = PACKED_HOSTILE[(i * (k + 2) + k) % len(PACKED_HOSTILE)]
            if col in ("first_seen", "last_seen") and value is None:
                value = ""  # NOT NULL columns
            values[col] = value
        values["is_officer_initiated"] = (None, 0, 1, 2)[i % 4]
        rows.append(values)
    return rows


def with_runs(store: Store, run_ids: list[str | None]) -> None:
    """Each synthetic call ``K{i}`` given a run whose id is ``run_ids[i]``
    (``last_run_id``: a packed run of one column)."""
    conn = sqlite3.connect(store.path)
    feed = conn.execute("SELECT feed_key FROM feeds LIMIT 1").fetchone()[0]
    for i, run_id in enumerate(run_ids):
        if run_id is None:
            continue
        conn.execute(
            "INSERT OR IGNORE INTO runs (run_id, feed_key) VALUES (?, ?)",
            (run_id, feed),
        )
        conn.execute(
            "UPDATE calls SET run_key = (SELECT run_key FROM runs WHERE run_id = ?) "
            "WHERE record_key = ?",
            (run_id, f"K{i:06d}"),
        )
    conn.commit()
    conn.close()


def test_synthetic_hostile_packed_cells_are_the_row_writers_bytes(tmp_path, unpacked):
    rows = [{} for _ in range(40)] + packed_rows(1500)
    store = hostile_store(tmp_path / "cfs.sqlite", rows)
    runs = [None if i % 5 == 0 else v for i, v in enumerate(PACKED_HOSTILE * 60)]
    with_runs(store, [r if r != "" else None for r in runs[: len(rows)]])
    try:
        ref = check_every_way(store, tmp_path, unpacked)
        faithful, safe = ref["calls.csv"], ref["calls_spreadsheet.csv"]
        assert b"'=1+1" in safe and b",=1+1," not in safe
        assert b",=1+1," in faithful
        assert b'"cr\ronly"' in faithful and b'"-x,y"' in faithful
        back = list(csv.reader(io.StringIO(safe.decode("utf-8"), newline="")))
        assert len(back) == len(rows) + 1
        assert all(len(r) == len(COLUMNS) for r in back)
    finally:
        store.close()


FORMULAS = ["=1+1", "+x", "-", "@a", "-82.8", "\tx", "\rx", "a,b", "=a,b"]


def test_synthetic_formula_start_in_each_packed_position(tmp_path):
    """One hostile cell in one packed column of a row, the rest plain, for
    each packed column and value: the spreadsheet copy changes that cell (as
    ``safe_cell`` does), and only it."""
    cases = [(c, v) for c in PACKED_STORED for v in FORMULAS]
    rows = []
    for col, value in cases:
        row = {c: "plain" for c in PACKED_STORED}
        row[col] = value
        rows.append(row)
    store = hostile_store(tmp_path / "cfs.sqlite", rows)
    try:
        ref = rows_files(store, tmp_path / "rows")
        new = packed_files(store, tmp_path / "packed", workers=1, batch_rows=16)
        assert_identical({n: (ref[n], new[n]) for n in NAMES})
        read = {
            n: list(csv.reader(io.StringIO(new[n].decode(), newline="")))[1:]
            for n in NAMES
        }
        renamed = {v: k for k, v in calls_csv._RENAMED.items()}
        for (col, value), plain, safe in zip(cases, *read.values(), strict=True):
            at = COLUMNS.index(renamed.get(col, col))
            assert plain[at] == value
            assert safe[at] == safe_cell(value)
            assert [c for i, c in enumerate(safe) if i != at] == [
                c for i, c in enumerate(plain) if i != at
            ]
    finally:
        store.close()


def spy_batches(monkeypatch: Any, fail_first: bool = False) -> list[dict]:
    """The options of each ``export_calls_batches`` call ``export_calls``
    makes (the first raising ``StoreChanged``, if ``fail_first``)."""
    calls: list[dict] = []
    real = calls_csv.export_calls_batches

    def spy(*args: Any, **options: Any) -> Any:
        calls.append(options)
        if fail_first and len(calls) == 1:
            raise StoreChanged("synthetic: a commit while the ranges were read")
        return real(*args, **options)

    monkeypatch.setattr(calls_csv, "export_calls_batches", spy)
    return calls


def _not_the_rows(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("written by rows, not read again unpacked")


def test_synthetic_separator_in_a_value_reads_again_unpacked(tmp_path, monkeypatch):
    """A value holding \\x1f (the packing's separator) in a packed column, in
    the first batch and in a later one: the packed writer refuses
    (``Unpackable``), ``export_calls`` reads the batches again unpacked (not
    the rows) and writes the row writer's bytes; in a free-text column (not
    packed) the separator is a control character like another."""
    for where in (0, 150):
        rows = packed_rows(200)
        rows[where]["call_type_category"] = "unit\x1fsep"
        rows[where + 1]["address"] = "free\x1ftext"
        store = hostile_store(tmp_path / f"s{where}.sqlite", rows)
        try:
            ref = rows_files(store, tmp_path / f"rows{where}")
            with pytest.raises(packed_csv.Unpackable):
                calls_csv.export_calls_batches(
                    store, tmp_path / f"refused{where}", batch_rows=100, workers=1
                )
            assert not (tmp_path / f"refused{where}" / "calls.csv").exists()
            calls = spy_batches(monkeypatch)
            monkeypatch.setattr(calls_csv, "export_calls_rows", _not_the_rows)
            calls_csv.export_calls(store, tmp_path / f"auto{where}", batch_rows=100)
            monkeypatch.undo()
            assert [c.get("packed", True) for c in calls] == [True, False]
            for name in NAMES:
                assert (tmp_path / f"auto{where}" / name).read_bytes() == ref[name]
        finally:
            store.close()


def test_synthetic_store_changed_then_unpackable_reads_again_both_ways(
    tmp_path, monkeypatch
):
    """The two retries in turn: a commit while the ranges were read (read
    again on one connection), then a separator in a value (read again
    unpacked): the row writer's bytes, and no exception out of export_calls."""
    rows = packed_rows(300)
    rows[250]["time_flags"] = "\x1f"
    store = hostile_store(tmp_path / "cfs.sqlite", rows)
    try:
        ref = rows_files(store, tmp_path / "rows")
        calls = spy_batches(monkeypatch, fail_first=True)
        calls_csv.export_calls(store, tmp_path / "auto", batch_rows=64)
        assert [(c.get("workers", 2), c.get("packed", True)) for c in calls] == [
            (2, True),
            (1, True),
            (1, False),
        ]
        for name in NAMES:
            assert (tmp_path / "auto" / name).read_bytes() == ref[name]
    finally:
        store.close()


def test_a_failing_packed_query_reads_again_unpacked(tmp_path, monkeypatch):
    """The packed query refused by the driver (as by a SQLite without
    concat_ws, before 3.44): ``export_calls`` reads the batches unpacked, not
    the rows, and writes the row writer's bytes. Synthetic rows."""
    store = hostile_store(tmp_path / "cfs.sqlite", packed_rows(120))
    real = packed_csv.pack

    def old_sqlite(cells: Any) -> Any:
        exprs, parts = real(cells)
        return [e.replace("concat_ws(", "no_such_concat_ws(") for e in exprs], parts

    try:
        ref = rows_files(store, tmp_path / "rows")
        monkeypatch.setattr(calls_csv, "pack", old_sqlite)
        calls = spy_batches(monkeypatch)
        monkeypatch.setattr(calls_csv, "export_calls_rows", _not_the_rows)
        calls_csv.export_calls(store, tmp_path / "auto", batch_rows=50)
        assert [c.get("packed", True) for c in calls] == [True, False]
        for name in NAMES:
            assert (tmp_path / "auto" / name).read_bytes() == ref[name]
    finally:
        store.close()


def test_synthetic_blob_in_a_packed_column_falls_back_to_the_rows(tmp_path):
    """A BLOB that is not UTF-8 in a packed TEXT column: concat_ws makes it
    text, the writer finds it invalid and ``export_calls`` writes the rows.
    (A BLOB that is valid UTF-8 is read as its text: cfs never stores one in
    ``calls``; see ``packed_csv``.)"""
    rows = packed_rows(200)
    rows[120]["area_beat"] = b"\xff\x00blob"
    store = hostile_store(tmp_path / "cfs.sqlite", rows)
    try:
        with pytest.raises(frame_csv.UnsupportedColumn):
            packed_files(store, tmp_path / "b", batch_rows=100)
        assert not (tmp_path / "b" / "calls.csv").exists()
        ref = rows_files(store, tmp_path / "rows")
        calls_csv.export_calls(store, tmp_path / "auto")
        for name in NAMES:
            assert (tmp_path / "auto" / name).read_bytes() == ref[name]
    finally:
        store.close()


def test_synthetic_empty_store_empty_batches_and_missing_columns(tmp_path, unpacked):
    empty = hostile_store(tmp_path / "empty.sqlite", [])
    try:
        ref = check_every_way(empty, tmp_path / "empty", unpacked, sizes=(8,))
        assert ref["calls.csv"].count(b"\n") == 1  # the header alone
    finally:
        empty.close()
    # an empty batch between two: skipped, the same bytes
    store = hostile_store(tmp_path / "cfs.sqlite", packed_rows(50))
    try:
        types = store.column_types(calls_csv.CALLS_SOURCE)
        exprs, parts = packed_csv.pack(calls_csv.query_cells(types, types))
        batches = list(store.iter_batches(calls_csv.select_calls(exprs), rows=20))
        empty_batch = pa.RecordBatch.from_pylist([], schema=batches[0].schema)
        out = tmp_path / "gaps" / "calls.csv"
        count = packed_csv.write_packed(
            out, COLUMNS, parts, [empty_batch, batches[0], empty_batch, *batches[1:]]
        )
        assert count == 50
        ref = rows_files(store, tmp_path / "rows")
        assert out.read_bytes() == ref["calls.csv"]
        assert out.with_name(NAMES[1]).read_bytes() == ref[NAMES[1]]
    finally:
        store.close()
    # an older store without some packed columns (read as '' within a run)
    path = tmp_path / "older.sqlite"
    hostile_store(path, packed_rows(300)).close()
    conn = sqlite3.connect(path)
    for col in ("area_box", "time_flags", "tz_basis", "disposition_category"):
        conn.execute(f"ALTER TABLE calls DROP COLUMN {col}")
    conn.close()
    older = Store(path)
    try:
        check_every_way(older, tmp_path / "older", unpacked, sizes=(64,))
    finally:
        older.close()


packed_text = st.one_of(
    st.none(),
    st.sampled_from(PACKED_HOSTILE),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs",), blacklist_characters="\x1f"
        ),
        max_size=10,
    ),
)


GENERATED = (
    "call_id",
    "time_flags",
    "call_type_category",
    "status",
    "area_beat",
    "address",
)
generated_rows = st.lists(
    st.fixed_dictionaries(dict.fromkeys((*GENERATED, "disappeared_at"), packed_text)),
    min_size=1,
    max_size=30,
)
SLOW_FIXTURE = [HealthCheck.function_scoped_fixture]


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_FIXTURE)
@given(generated_rows, st.integers(1, 12))
def test_synthetic_generated_packed_cells_are_the_row_writers_bytes(rows, batch_rows):
    with tempfile.TemporaryDirectory() as tmp:
        store = hostile_store(Path(tmp) / "cfs.sqlite", rows)
        try:
            ref = rows_files(store, Path(tmp) / "rows")
            new = packed_files(
                store, Path(tmp) / "packed", batch_rows=batch_rows, ranges_from=0
            )
            assert_identical({n: (ref[n], new[n]) for n in NAMES})
        finally:
            store.close()


@pytest.mark.postgres
def test_postgres_is_never_packed(pg_url, tmp_path, monkeypatch):  # noqa: F811
    """Packing is SQLite's (concat_ws, char(31)): PostgreSQL's export reads
    the plain query, whatever ``packed`` says."""
    import psycopg

    from cfs_spiders.store.connect import open_store

    pytest.importorskip("adbc_driver_postgresql")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("PostgreSQL read as packed cells")

    monkeypatch.setattr(calls_csv, "pack", refuse)
    monkeypatch.setattr(calls_csv, "write_packed", refuse)
    store = open_store(pg_url)
    rows = [
        {c: v for c, v in r.items() if not (isinstance(v, str) and "\x00" in v)}
        for r in packed_rows(200)
    ]
    rows = [
        {c: v for c, v in r.items() if not (isinstance(v, int) and abs(v) > 2**31 - 1)}
        for r in rows
    ]
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("INSERT INTO feeds (feed_id) VALUES ('zz_synthetic')")
        insert_calls(con, rows, "%s")
    try:
        ref = rows_files(store, tmp_path / "rows")
        new = packed_files(store, tmp_path / "packed")
        assert_identical({n: (ref[n], new[n]) for n in NAMES})
    finally:
        store.close()
