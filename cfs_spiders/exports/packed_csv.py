"""``calls.csv`` from cells SQLite packs: most text columns of a row read as
one cell, and written as the row writer writes them.

Why: the ADBC driver costs about 60 ns a cell it hands over (a few calls into
SQLite, each under the connection's mutex, and an append to an Arrow buffer),
and polars' CSV writer about as much a cell again; ``calls.csv`` has 66 cells
a row. Here each run of text columns between the numbers and the free-text
columns is read as one ``concat_ws(char(31), ...)`` cell (``pack``), and the
writer formats about 15 columns instead of 66. Measured on a loaded 2-core
machine (load 4 to 8), ``cfs export`` of 1,000,000 bench calls alternating
with the code before, 8 runs each: 15.1 s CPU instead of 18.2, 16.5 s wall
instead of 18.2 (means; the wall's noise is about as large); the reading
processes' CPU about 4.8 s instead of 6.9 (300,000 calls timed, scaled); the
main thread's about the same.

The bytes stay the row writer's (``files.write_csv``; ``tests/
test_export_identity.py``): every cell goes to polars' writer already as it is
written (``quote_style="never"``):

- a packed cell's separators (``\\x1f``) become commas, a few vectorized
  passes over the batch's bytes; a row holding a comma, a double quote, a line
  feed or a carriage return in one of its packed cells is split and quoted in
  Python (``_line``), the rule of ``files._cr_line``;
- a text column of its own (``LOOSE``: free text, often with commas) is quoted
  by polars expressions, the same rule;
- numbers as ``frame_csv`` writes them;
- the spreadsheet copy: a packed row with a control character, or a cell that
  starts like a formula, is written by ``safe_cell`` cell by cell; a column of
  its own as ``frame_csv`` does.

A packed cell whose separators do not count its columns (a value holding
``\\x1f`` itself) raises ``Unpackable``: the caller reads the batches again
unpacked (and so when the driver refuses the packed query: ``concat_ws`` is
SQLite 3.44's; Python's ``sqlite3`` may be older, so only the driver reads it).

Not caught: a BLOB that is valid UTF-8 in a packed TEXT column (``concat_ws``
reads it as its text; the row writer would write Python's ``b'...'``). The
unpacked reader misses it too after the first batch; cfs never stores a BLOB
in ``calls``. A BLOB that is not UTF-8 is caught (``UnsupportedColumn``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from .files import atomic_open, safe_cell, spreadsheet_path
from .frame_csv import (
    _FORMULA_FIRST,
    _OFFSETS,
    UnsupportedColumn,
    _float_text,
    _header,
    _safe_text,
    _scan_text,
    _validate,
)

SEP = 0x1F
# free text, often with a comma or a quote: a cell of its own (polars quotes
# it), not packed (a packed row that needs quoting is written in Python)
LOOSE = frozenset(
    {
        "address",
        "address_raw",
        "cross_street_raw",
        "call_type_raw",
        "call_type_initial_raw",
        "disposition_raw",
        "units_raw",
        "source_url",
    }
)
_NULL_FLAG = "__null"
_QUOTED = r'[,"\n\r]'
_QUOTE_BYTES = np.frombuffer(b',"\n\r', dtype=np.uint8)


class Unpackable(UnsupportedColumn):
    """A packed cell that cannot be split into its columns."""


class Part(NamedTuple):
    """One cell of the packed query: ``columns`` packed (more than one, or a
    text column), or one column of its own; ``kind`` as ``query_cells``."""

    name: str
    columns: tuple[str, ...]
    kind: str


def _bare(expr: str, col: str) -> str:
    return expr.removesuffix(f" AS {col}")


def pack(cells: Sequence[tuple[str, str, str]]) -> tuple[list[str], list[Part]]:
    """The SELECT expressions and parts for ``calls_query``'s typed cells
    (``query_cells``): each run of text columns not ``LOOSE`` packed."""
    exprs: list[str] = []
    parts: list[Part] = []
    run: list[tuple[str, str]] = []

    def close() -> None:
        if run:
            name = f"packed_{len(parts)}"
            inner = ", ".join(_bare(e, c) for c, e in run)
            exprs.append(f"concat_ws(char(31), {inner}) AS {name}")
            parts.append(Part(name, tuple(c for c, _ in run), "packed"))
            run.clear()

    for col, expr, kind in cells:
        if kind == "text" and col not in LOOSE:
            run.append((col, expr))
            continue
        close()
        exprs.append(expr)
        parts.append(Part(col, (col,), kind))
    close()
    return exprs, parts


def _cell(text: str) -> str:
    """A text cell as ``files.write_csv`` writes it (``files._cr_line``)."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return f'"{text}"'
    return text


def _line(packed: str, safe: bool) -> str:
    cells = packed.split("\x1f")
    if safe:
        cells = [safe_cell(c) for c in cells]
    return ",".join(_cell(c) for c in cells)


def _rows_at(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.unique(np.searchsorted(offsets, positions, side="right") - 1)


def _packed(array: pa.Array, part: Part) -> tuple[pl.Series, pl.Series | None]:
    """A packed column as the faithful file's cells and the spreadsheet copy's
    (``None``: the same)."""
    width = _OFFSETS.get(array.type)
    if width is None or array.offset != 0 or array.null_count:
        raise Unpackable(f"{part.name}: {array.type} read")
    n = len(array)
    _, offsets, data = array.buffers()
    offs = np.frombuffer(offsets, dtype=width, count=n + 1)
    first, last = int(offs[0]), int(offs[-1])
    whole = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, np.uint8)
    body = whole[first:last]
    rel = offs - first
    seps = body == SEP
    if int(np.count_nonzero(seps)) != n * (len(part.columns) - 1):
        raise Unpackable(f"{part.name}: a value holds the separator")
    fixed = whole.copy()
    np.putmask(fixed[first:last], seps, ord(","))
    out = pa.Array.from_buffers(array.type, n, [None, offsets, pa.py_buffer(fixed)])
    faithful = pl.Series(part.name, out)
    if body.size == 0:
        return faithful, None
    top = int(body.max())
    if top >= 0x80:  # not ASCII: its UTF-8 checked
        _validate(array, part.name)
    control = body < 0x20
    quoted = (body == ord(",")) | (body == ord('"'))
    odd = int(np.count_nonzero(control)) > n * (len(part.columns) - 1)
    if odd:  # a control character besides the separators
        quoted |= control & ~seps
    dirty = np.flatnonzero(quoted)
    care = []
    if odd or top >= 0x7F:
        care.append(np.flatnonzero((control & ~seps) | (body == 0x7F)))
    starts = np.flatnonzero(seps[:-1]) + 1
    if n:
        starts = np.concatenate([rel[:-1][rel[:-1] < body.size], starts])
    care.append(starts[_FORMULA_FIRST[body[starts]]])
    texts = None
    if dirty.size:
        rows = _rows_at(rel, dirty)
        texts = array.take(pa.array(rows)).to_pylist()
        lines = [_line(t, False) for t in texts]
        faithful = faithful.scatter(rows, pl.Series(lines, dtype=pl.String))
    rows = _rows_at(rel, np.concatenate(care))
    if not rows.size:
        return faithful, None
    texts = array.take(pa.array(rows)).to_pylist()
    lines = [_line(t, True) for t in texts]
    if lines == [_line(t, False) for t in texts]:
        return faithful, None
    # a copy: ``scatter`` changes the series it is called on
    return faithful, faithful.clone().scatter(rows, pl.Series(lines, dtype=pl.String))


def _any_quoted(array: pa.Array) -> bool:
    """Whether some cell of a text column (a layout of ``_OFFSETS``) holds a
    byte ``_cell`` quotes for: one pass over its bytes, where asking polars
    for each cell costs a regular expression a cell."""
    _, offsets, data = array.buffers()
    if data is None:
        return False
    offs = np.frombuffer(offsets, dtype=_OFFSETS[array.type], count=len(array) + 1)
    body = np.frombuffer(data, dtype=np.uint8)[int(offs[0]) : int(offs[-1])]
    if not body.size or int(body.min()) > ord(","):  # none of them
        return False
    low = body[body <= ord(",")]  # a few bytes, spaces most of them
    return bool(np.isin(low, _QUOTE_BYTES).any())


def _quoted(series: pl.Series) -> pl.Series:
    """A text column's cells as written: quoted where ``_cell`` quotes."""
    col = pl.col(series.name)
    quoted = pl.lit('"') + col.str.replace_all('"', '""', literal=True) + '"'
    return (
        series.to_frame()
        .select(
            pl.when(col.str.contains(_QUOTED))
            .then(quoted)
            .otherwise(col)
            .alias(series.name)
        )
        .to_series()
    )


def unpack(
    batch: pa.RecordBatch, parts: Sequence[Part]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A batch of the packed query as the faithful file's cells and the
    spreadsheet copy's, every one as written (the same frame when no cell
    differs). Raises ``UnsupportedColumn`` for a column not of its type."""
    faithful: list[pl.Series] = []
    safe: list[pl.Series] = []
    differs = False
    names = batch.schema.names
    for part in parts:
        array = batch.column(names.index(part.name))
        if part.kind == "packed":
            cells, careful = _packed(array, part)
            faithful.append(cells)
            safe.append(careful if careful is not None else cells)
            differs |= careful is not None
        elif part.kind == "text":
            scanned = _scan_text(array, part.name)
            if scanned is None:
                raise UnsupportedColumn(f"{part.name}: {array.type} read")
            quotes = _any_quoted(array)
            array, care = scanned
            series = pl.Series(part.name, array)
            cells = _quoted(series) if quotes else series
            faithful.append(cells)
            # a copy: ``_safe_text`` changes the series it is given (``cells``
            # may be that series)
            changed = _safe_text(series.clone()) if care else None
            safe.append(_quoted(changed) if changed is not None else cells)
            differs |= changed is not None
        else:
            cells = _number(batch, names, part)
            faithful.append(cells)
            safe.append(cells)
    plain = pl.DataFrame(faithful)
    return plain, (pl.DataFrame(safe) if differs else plain)


_POLARS = {"REAL": pl.Float64, "INTEGER": pl.Int64}


def _number(batch: pa.RecordBatch, names: list[str], part: Part) -> pl.Series:
    series = pl.Series(part.name, batch.column(names.index(part.name)))
    if series.dtype != _POLARS[part.kind]:
        raise UnsupportedColumn(f"calls column {part.name!r} read as {series.dtype}")
    nulls = pl.Series(batch.column(names.index(part.name + _NULL_FLAG))) == 1
    if nulls.any():
        series = series.scatter(nulls.arg_true(), None)
    return _float_text(series) if part.kind == "REAL" else series


def _write(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, quote_style="never")
    return buffer.getvalue()


def write_packed(
    path: Path,
    columns: Sequence[str],
    parts: Sequence[Part],
    batches: Iterable[pa.RecordBatch],
) -> int:
    """``frame_csv.write_csv_batches`` for the batches of the packed query:
    the two files, atomically; the number of data rows."""
    if [c for p in parts for c in p.columns] != list(columns):
        raise UnsupportedColumn("the packed query's columns are not the file's")
    count = 0
    with ExitStack() as stack:
        faithful = stack.enter_context(atomic_open(path, "wb"))
        safe: IO[bytes] = stack.enter_context(atomic_open(spreadsheet_path(path), "wb"))
        faithful.write(_header(columns, lambda c: "" if c is None else c))
        safe.write(_header(columns, safe_cell))
        for batch in batches:
            if batch.num_rows == 0:
                continue
            plain, careful = unpack(batch, parts)
            text = _write(plain)
            faithful.write(text)
            safe.write(text if careful is plain else _write(careful))
            count += batch.num_rows
    return count
