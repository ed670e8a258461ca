"""The writer process's SQLite connection, through SQLite's ADBC driver: a batch's
Arrow columns are bound in C, row after row, with no Python object per value
(``Cursor.execute_arrow``), where Python's ``sqlite3`` binds each value from
Python (about half of a backfill's calls ``INSERT``, BENCHMARKS.md).

The driver carries its own copy of SQLite, which must never have the store open
in a process where Python's ``sqlite3`` has it open (the two copies break each
other's POSIX locks): the writer process opens it through this module only
(``process._serve``), every read and write of its store goes through it.

``Connection`` and ``Cursor`` give the store the part of ``sqlite3``'s interface
it uses (``cursor``, ``execute``, ``executemany``, ``fetchone``, ``fetchall``,
``fetchmany``, ``description``), so that the store's SQL is the same on both:

- parameters as a tuple or a list of rows, each column bound by its Python
  type; a column of rows of more than one type (SQLite is dynamically typed,
  an Arrow column is not) is bound one row at a time, each value by its own;
- the driver's errors raised as ``sqlite3``'s of the same name (a batch the
  store refuses reads the same whichever connection wrote it);
- a statement that failed leaves nothing bound for the next (the driver keeps
  a failed statement's parameters: the cursor is made again).
"""

from __future__ import annotations

import contextlib
import sqlite3
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import adbc_driver_manager
import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa

_NONE = type(None)


def _as_sqlite3(exc: Exception) -> Exception:
    """The driver's error as ``sqlite3``'s error of the same name (its text
    without the driver's status prefix, ``INTEGRITY: ``)."""
    kind = getattr(sqlite3, type(exc).__name__, sqlite3.DatabaseError)
    if not (isinstance(kind, type) and issubclass(kind, sqlite3.Error)):
        kind = sqlite3.DatabaseError
    text = str(exc)
    head, sep, rest = text.partition(": ")
    if sep and head.isupper():
        text = rest
    return kind(text)


def _columns(rows: Sequence[Sequence[Any]]) -> list[pa.Array] | None:
    """``rows`` as one Arrow array per column, or None when a column holds
    values of more than one Python type (bound row by row instead: an int and a
    float in one column must stay an INTEGER and a REAL, as ``sqlite3`` binds
    them)."""
    out = []
    for col in zip(*rows, strict=True):
        kinds = set(map(type, col))
        kinds.discard(_NONE)
        if len(kinds) > 1:
            return None
        try:
            out.append(pa.array(col))
        except (pa.ArrowException, OverflowError):
            return None
    return out


class Cursor:
    """A ``sqlite3.Cursor``-like cursor over an ADBC cursor."""

    __slots__ = ("_conn", "_cur", "__weakref__")

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._cur = conn.cursor()

    def _failed(self, exc: Exception) -> Exception:
        """A fresh driver cursor (the failed statement's parameters stay bound
        to the old one) and the error to raise."""
        with contextlib.suppress(adbc_driver_manager.Error):
            self._cur.close()
        self._cur = self._conn.cursor()
        return _as_sqlite3(exc)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            self._cur.execute(sql, tuple(params) if params else None)
        except adbc_driver_manager.Error as exc:
            raise self._failed(exc) from exc
        return self

    def execute_arrow(self, sql: str, table: Any) -> None:
        """Run ``sql`` once for each row of ``table`` (an Arrow table or record
        batch; its columns bound in order), in C."""
        if not len(table):
            return
        try:
            self._cur.executemany(sql, table)
        except adbc_driver_manager.Error as exc:
            raise self._failed(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return
        arrays = _columns(rows)
        if arrays is None:  # one row at a time, each value by its own type
            for row in rows:
                self.execute(sql, row)
            return
        names = [str(i) for i in range(len(arrays))]
        self.execute_arrow(sql, pa.RecordBatch.from_arrays(arrays, names=names))

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cur.fetchall()

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        return self._cur.fetchmany(size)

    @property
    def description(self) -> Any:
        return self._cur.description

    def close(self) -> None:
        self._cur.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # closing at collection
            self._cur.close()


class Connection:
    """A ``sqlite3.Connection``-like connection (autocommit: the store begins
    and ends its transactions itself) through SQLite's ADBC driver."""

    def __init__(self, path: str) -> None:
        self._conn = adbc.connect(path, autocommit=True)
        # the cursors not yet collected (each closes its statement when it
        # is): the driver will not close a connection with a statement open
        self._cursors: weakref.WeakSet[Cursor] = weakref.WeakSet()

    def cursor(self) -> Cursor:
        cur = Cursor(self._conn)
        self._cursors.add(cur)
        return cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.cursor().execute(sql, params)

    def close(self) -> None:
        for cur in list(self._cursors):
            with contextlib.suppress(adbc_driver_manager.Error):
                cur.close()
        self._cursors.clear()
        self._conn.close()
