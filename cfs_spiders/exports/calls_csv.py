"""``output/calls.csv``: one row per call, in ``CALLS_COLUMNS`` order, with its
spreadsheet-safe copy: read from the store as Arrow batches and written by
columns (``frame_csv.py``), or, as the reference and the fallback, as tuples
through the row writer of ``files.py``; the same bytes either way."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from ..config import vocab
from ..config.paths import output_dir
from ..store.base import CALLS_FROM, CALLS_ORDER
from ..store.sqlite import BatchReadError, Store
from .files import write_csv
from .frame_csv import (
    Prepared,
    UnsupportedColumn,
    as_frame,
    prepare,
    read_ahead,
    write_csv_batches,
)
from .key_ranges import StoreChanged, calls_estimate, ranged_batches
from .packed_csv import Unpackable, pack, write_packed

log = logging.getLogger(__name__)

CALLS_COLUMNS: tuple[str, ...] = (
    "feed_id",
    "call_id",
    "record_key",
    "received_at_utc",
    "received_at_local",
    "received_at_raw",
    "dispatched_at_utc",
    "enroute_at_utc",
    "onscene_at_utc",
    "closed_at_utc",
    "updated_at_utc",
    "time_zone",
    "tz_basis",
    "time_flags",
    "address",
    "address_raw",
    "cross_street_raw",
    "address_form",
    "address_granularity",
    "latitude",
    "longitude",
    "coord_granularity",
    "call_type_code_raw",
    "call_type_raw",
    "call_type_initial_raw",
    "call_type_category",
    "category_basis",
    "category_confidence",
    "crosswalk_version",
    "apco_code",
    "priority_raw",
    "status_raw",
    "status",
    "status_basis",
    "disposition_raw",
    "disposition_category",
    "source_raw",
    "call_source",
    "call_source_basis",
    "is_officer_initiated",
    "agency_raw",
    *(f"area_{a}" for a in vocab.AREA_TYPES),
    "units_raw",
    "unit_count",
    "first_seen_utc",
    "last_seen_utc",
    "disappeared_at_utc",
    "config_version",
    "source_url",
    "last_run_id",
)
_RENAMED = {
    "first_seen_utc": "first_seen",
    "last_seen_utc": "last_seen",
    "disappeared_at_utc": "disappeared_at",
}


# what calls.csv reads: ``calls`` with its ``source_url`` from ``sources`` and
# its feed and run ids from ``feeds`` and ``runs`` (the one place to join other
# tables in)
CALLS_SOURCE = CALLS_FROM
_NUMERIC = {"REAL": "0.0", "INTEGER": "0"}
_NULL_FLAG = "__null"
# the polars type a typed column must arrive as (anything else: read by rows)
_EXPECTED = {"REAL": pl.Float64, "INTEGER": pl.Int64}


def calls_query(
    present: Iterable[str],
    types: Mapping[str, str] | None = None,
    *,
    where: str = "",
) -> str:
    """The SELECT of ``calls.csv``'s columns, in order, from a store whose
    ``calls`` table has the columns ``present`` (one it lacks reads blank). The
    officer-initiated flag is written ``true``/``false``, as every boolean of
    the project's CSVs.

    ``types`` (each column's declared type, ``Store.column_types``) asks for the
    typed form the Arrow reader needs, where every output column has one type
    whatever its values: a text column reads ``''`` for NULL (written the same:
    an empty cell), and a ``REAL`` or ``INTEGER`` column reads 0 for NULL with
    a ``<column>__null`` flag beside it (``typed_frame`` puts the NULLs back).
    ``where``: a condition on the calls read (a range of keys)."""
    cells = [expr for _, expr, _ in query_cells(present, types)]
    # the table's columns, not the typed cells named like them: the primary
    # key's index gives the order (an expression would be sorted)
    return select_calls(cells, where)


def select_calls(cells: Iterable[str], where: str = "") -> str:
    """``SELECT cells FROM CALLS_SOURCE [WHERE where]`` in ``calls.csv``'s order."""
    cond = f" WHERE {where}" if where else ""
    return f"SELECT {', '.join(cells)} FROM {CALLS_SOURCE}{cond} ORDER BY {CALLS_ORDER}"


def query_cells(
    present: Iterable[str], types: Mapping[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """``calls_query``'s cells: for each column of ``calls.csv``, its name, its
    SELECT expression (with its null flag beside it, for a numeric column of
    the typed form) and its kind: ``REAL`` or ``INTEGER`` (a number of the
    typed form), ``text`` (a text of the typed form: ``''`` for NULL) or ``""``
    (the plain form)."""
    have = set(present)
    typed = types is not None
    cells = []
    for col in CALLS_COLUMNS:
        name = _RENAMED.get(col, col)
        kind = _kind(col, types or {})
        if name not in have:
            expr = f"'' AS {col}" if typed else f"NULL AS {col}"
            kind = "text" if typed else ""
        elif col == "is_officer_initiated":
            blank = " ELSE ''" if typed else ""
            expr = (
                f"CASE {name} WHEN 1 THEN 'true' WHEN 0 THEN 'false'{blank} END"
                f" AS {col}"
            )
            kind = "text" if typed else ""
        elif typed and kind:
            expr = (
                f"IFNULL({name}, {_NUMERIC[kind]}) AS {col}, "
                f"{name} IS NULL AS {col}{_NULL_FLAG}"
            )
        elif typed:
            expr, kind = f"IFNULL({name}, '') AS {col}", "text"
        else:
            expr = name if name == col else f"{name} AS {col}"
        cells.append((col, expr, kind))
    return cells


def _kind(col: str, types: Mapping[str, str]) -> str:
    """``REAL`` or ``INTEGER`` for a numeric column of ``calls.csv``, ``""``
    for one read as text (the officer-initiated flag is written as a word)."""
    if col == "is_officer_initiated":
        return ""
    kind = types.get(_RENAMED.get(col, col), "")
    return kind if kind in _NUMERIC else ""


def typed_frame(batch: Any, types: Mapping[str, str] | None) -> Prepared:
    """A batch of the typed query as ``calls.csv``'s columns: the NULLs of the
    numeric columns put back from their flags, its text columns scanned for
    the spreadsheet copy (``frame_csv.prepare``). Raises ``UnsupportedColumn``
    when a column did not arrive with its declared type (say, text in a
    ``REAL`` column) or a text is not UTF-8, so that the export falls back to
    the row writer.

    Not caught: a BLOB that is valid UTF-8, in a TEXT column, after the first
    batch (the driver reads it as text; the row writer would write Python's
    ``b'...'``). cfs never stores a BLOB in ``calls``; a SQL check of every
    value's type would cost more than the rest of the read.

    ``types`` ``None``: a batch of the plain query (PostgreSQL, where a column
    has one type), as it is (``frame_csv`` checks types)."""
    if isinstance(batch, pa.RecordBatch):
        batch.validate()  # the layout; each text column's UTF-8: ``prepare``
        prepared = prepare(batch)
    else:
        prepared = Prepared(as_frame(batch), None)
    if types is None:  # the plain query (PostgreSQL): ``frame_csv`` checks types
        return prepared
    frame = prepared.frame
    flags = [c for c in frame.columns if c.endswith(_NULL_FLAG)]
    restore = []
    for col, dtype in frame.schema.items():
        if col in flags:
            continue
        expected = _EXPECTED.get(_kind(col, types), pl.String)
        if dtype != expected:
            raise UnsupportedColumn(f"calls column {col!r} read as {dtype}")
        flag = f"{col}{_NULL_FLAG}"
        if flag in flags:
            restore.append(
                pl.when(pl.col(flag) == 1).then(None).otherwise(pl.col(col)).alias(col)
            )
    if flags:
        frame = frame.with_columns(restore).drop(flags)
    return Prepared(frame, prepared.care)


def export_calls_rows(store: Store, output: Path | None = None) -> tuple[Path, int]:
    """``calls.csv`` written a row at a time: tuples from the store through
    ``files.write_csv``. The reference the batch writer must equal byte for
    byte, and its fallback (a store without the Arrow reader, PostgreSQL, a
    value of an unexpected type)."""
    path = (output or output_dir()) / "calls.csv"
    rows = store.iter_rows(calls_query(store.columns(CALLS_SOURCE)))
    return path, write_csv(path, CALLS_COLUMNS, rows, plain=True)


def export_calls_batches(
    store: Store,
    output: Path | None = None,
    *,
    batch_rows: int = 8192,
    range_rows: int = 16384,
    workers: int = 2,
    ranges_from: int = 200_000,
    packed: bool = True,
) -> tuple[Path, int] | None:
    """``calls.csv`` read as Arrow batches of ``batch_rows`` calls and written
    by columns (``frame_csv``), the next batches read on other threads while
    one is written (SQLite with some ``ranges_from`` calls or more: ``workers``
    ranges of ``range_rows`` calls at once, ``key_ranges``; measured: at a
    million calls 9.9 s instead of 15.8 s on a loaded machine, for 12% more CPU;
    at 100,000 the one stream is cheaper and as fast); ``None`` when the store
    has no Arrow reader. Raises
    ``UnsupportedColumn`` or ``BatchReadError`` (the previous files kept) when
    a value is not of its column's type, ``StoreChanged`` when another process
    committed while the ranges were read.

    ``packed`` (SQLite): most text columns read as a few packed cells
    (``packed_csv``); raises ``Unpackable`` when a value holds the packing's
    separator (the caller reads again with ``packed=False``)."""
    path = (output or output_dir()) / "calls.csv"
    batches = None
    parts = None
    if store.dialect == "sqlite":
        types = store.column_types(CALLS_SOURCE)
        cells = query_cells(types, types)
        if packed:
            exprs, parts = pack(cells)
        else:
            exprs = [expr for _, expr, _ in cells]
        sql = select_calls(exprs)
        if workers > 1 and calls_estimate(store) >= ranges_from:
            batches = ranged_batches(
                store,
                lambda where: select_calls(exprs, where),
                range_rows=range_rows,
                batch_rows=batch_rows,
                workers=workers,
            )
    else:  # PostgreSQL's columns have one type each: the plain query
        types, sql = None, calls_query(store.columns(CALLS_SOURCE))
    if batches is None:
        batches = store.iter_batches(sql, rows=batch_rows)
        if batches is None:
            return None
        batches = read_ahead(batches)  # the thread reads (in C)
    try:
        if parts is not None:  # this thread unpacks and writes
            return path, write_packed(path, CALLS_COLUMNS, parts, batches)
        # this thread converts and writes
        frames = (typed_frame(b, types) for b in batches)
        return path, write_csv_batches(path, CALLS_COLUMNS, frames)
    finally:  # a failure part way: the reading threads stopped before a retry
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _batches_again(
    store: Store, output: Path | None, options: dict[str, Any]
) -> tuple[Path, int] | None:
    """``export_calls_batches``, read again on one connection when the store
    changed while its ranges were read, and unpacked when a packed cell could
    not be split or the packed query failed (either, or both in turn: one
    connection, unpacked, raises neither ``StoreChanged`` nor ``Unpackable``)."""
    while True:
        try:
            return export_calls_batches(store, output, **options)
        except StoreChanged as exc:
            log.info("calls.csv: %s; read again on one connection", exc)
            options = {**options, "workers": 1}
        except (Unpackable, BatchReadError) as exc:
            # the packed query failed (say, a driver's SQLite without
            # concat_ws, 3.44): unpacked, before the rows
            if not options.get("packed", True):
                raise
            log.info("calls.csv: %s; read again unpacked", exc)
            options = {**options, "packed": False}


def export_calls(
    store: Store, output: Path | None = None, **options: Any
) -> tuple[Path, int]:
    """``calls.csv`` (and ``calls_spreadsheet.csv``): one row per call, in
    ``CALLS_COLUMNS`` order. Written by columns where the store can be read as
    Arrow batches (``export_calls_batches``; read again on one connection when
    the store changed while its ranges were read); otherwise, or when a value
    is not of its column's type, written again from the start by rows. Either
    way the same bytes, and the previous files stay until the new ones are
    complete. ``options``: ``export_calls_batches``' (tests)."""
    try:
        done = _batches_again(store, output, options)
    except (UnsupportedColumn, BatchReadError) as exc:
        log.info("calls.csv: %s; written by rows instead", exc)
        done = None
    finally:
        store.close_readers()  # their processes are not needed until next time
    return done if done is not None else export_calls_rows(store, output)
