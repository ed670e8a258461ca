"""CSV written by columns: a batch of rows (an Arrow record batch or a polars
frame) becomes the bytes ``files.write_csv`` writes for the same rows, in the
faithful file and the spreadsheet-safe copy, without a Python object per cell.

Why: ``calls.csv`` is a million rows of some 60 columns. Written a row at a time
through ``csv.writer`` (twice, with a look at every cell for the spreadsheet
copy) it cost five times reading the store. Here each column is formatted by
polars' Rust engine, and the only cells Python touches are the few the
spreadsheet copy changes: ``safe_cell`` itself writes those, so its rules stay in
one place (``files.py``).

The bytes are the row writer's exactly (``tests/test_export_identity.py``):

- ``csv.writer``'s minimal quoting with ``\\n`` line ends (Python 3.11): a cell
  is quoted when it holds a comma, a double quote or a line feed (a lone
  carriage return is not), its quotes doubled;
- a null is an empty cell (and so is an empty text);
- an integer as ``str(int)``, a float as ``repr(float)``: polars' shortest
  round-trip digits are Python's, but below 1e-4 Python writes an exponent
  (``1e-05``), and those few values are formatted by Python;
- a text cell of the spreadsheet copy that starts like a formula or holds a
  control character is ``safe_cell``'s; a batch without one writes the same
  bytes to both files.

A column of another type (binary, boolean, ...) raises ``UnsupportedColumn``:
the caller writes those rows with the row writer.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import polars as pl

from .files import atomic_open, safe_cell, spreadsheet_path

# a cell that is quoted: ``csv.writer``'s (its delimiter, quote character, line
# terminator) and, as ``files.write_csv`` does, one holding a carriage return
_NEEDS_QUOTES = r'[,"\n\r]'
# a text cell ``safe_cell`` changes: a formula start or a control character
# (``files._PLAIN`` is its complement)
_NEEDS_CARE = r"^[=+\-@\t\r]|[\x00-\x1f\x7f]"


class UnsupportedColumn(TypeError):
    """A column whose type this writer does not format as ``csv.writer`` does."""


def as_frame(batch: Any) -> pl.DataFrame:
    """A polars frame of an Arrow record batch (a frame is returned as it is)."""
    if isinstance(batch, pl.DataFrame):
        return batch
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _quoted(expr: pl.Expr) -> pl.Expr:
    """Text cells quoted as ``csv.writer`` quotes them."""
    inner = expr.str.replace_all('"', '""', literal=True)
    return (
        pl.when(expr.str.contains(_NEEDS_QUOTES))
        .then(pl.concat_str(pl.lit('"'), inner, pl.lit('"')))
        .otherwise(expr)
    )


def _float_text(series: pl.Series) -> pl.Series:
    """``repr`` of each float; a null stays null."""
    text = series.cast(pl.String)
    odd = ((series.abs() < 1e-4) & (series != 0)) | series.is_nan()
    if odd.any():
        index = odd.arg_true()
        values = [repr(v) for v in series.gather(index).to_list()]
        text = text.scatter(index, pl.Series(values, dtype=pl.String))
    return text


def _safe_text(series: pl.Series) -> pl.Series:
    """A text column of the spreadsheet copy: ``safe_cell`` on the cells it
    changes, the others as they are."""
    care = series.str.contains(_NEEDS_CARE).fill_null(False)
    index = care.arg_true()
    values = [safe_cell(v) for v in series.gather(index).to_list()]
    return series.scatter(index, pl.Series(values, dtype=pl.String))


def _write(frame: pl.DataFrame, texts: Sequence[str], quote: set[str]) -> bytes:
    """The frame's CSV lines: the ``quote`` columns quoted (``texts`` are the
    text columns), every column already text or integer."""
    if quote:
        frame = frame.with_columns(
            [_quoted(pl.col(c)).alias(c) for c in texts if c in quote]
        )
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, quote_style="never")
    return buffer.getvalue()


def encode(batch: Any) -> tuple[bytes, bytes]:
    """A batch's rows as the faithful file's bytes and the spreadsheet copy's
    (the same object when no cell differs)."""
    frame = as_frame(batch)
    if frame.height == 0:
        return b"", b""
    texts, numbers = [], {}
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            texts.append(name)
        elif dtype == pl.Float64:
            numbers[name] = _float_text(frame.get_column(name))
        elif dtype.is_integer():
            pass  # written as str(int) by polars
        elif dtype == pl.Null:
            numbers[name] = pl.Series(name, [None] * frame.height, dtype=pl.String)
        else:
            raise UnsupportedColumn(f"column {name!r} is {dtype}")
    if numbers:
        frame = frame.with_columns(list(numbers.values()))
    quote, care = set(), set()
    if texts:
        flags = frame.select(
            [pl.col(c).str.contains(_NEEDS_QUOTES).any().alias(c) for c in texts]
            + [
                pl.col(c).str.contains(_NEEDS_CARE).any().alias(f"{i}")
                for i, c in enumerate(texts)
            ]
        ).row(0)
        quote = {c for c, q in zip(texts, flags, strict=False) if q}
        care = {c for c, q in zip(texts, flags[len(texts) :], strict=True) if q}
    faithful = _write(frame, texts, quote)
    if not care:
        return faithful, faithful
    safe = frame.with_columns([_safe_text(frame.get_column(c)) for c in care])
    safe_quote = {
        c
        for c in texts
        if c in quote
        and (c not in care or safe.get_column(c).str.contains(_NEEDS_QUOTES).any())
    }
    return faithful, _write(safe, texts, safe_quote)


_DONE = object()


def read_ahead(items: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """``items`` produced on a thread of their own, at most ``depth`` ahead.

    Why: reading a batch (SQLite and its Arrow driver, in C) and writing one
    (polars) both release the interpreter lock, so the export reads the next
    batch on the second core while it writes this one. An exception of the
    producer is raised here, at its place in the sequence; a consumer that stops
    early stops the producer (and closes ``items``) before this returns."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not offer((item, None)):
                    return
            offer((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            offer((_DONE, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="cfs-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def _header(columns: Sequence[str], cell: Any) -> bytes:
    """The header line as ``write_csv`` writes it."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow([cell(c) for c in columns])
    return text.getvalue().encode("utf-8", errors="backslashreplace")


def write_csv_batches(
    path: Path,
    columns: Sequence[str],
    batches: Iterable[Any],
    *,
    spreadsheet: bool = True,
) -> int:
    """``files.write_csv`` for rows that come as batches of columns (Arrow
    record batches or polars frames, columns in ``columns`` order): the same
    two files, atomically, byte for byte; return the number of data rows.

    An exception part way (``UnsupportedColumn``, a failed read) leaves the
    previous files as they were."""
    count = 0
    with ExitStack() as stack:
        faithful = stack.enter_context(atomic_open(path, "wb"))
        safe: IO[bytes] | None = (
            stack.enter_context(atomic_open(spreadsheet_path(path), "wb"))
            if spreadsheet
            else None
        )
        faithful.write(_header(columns, lambda c: "" if c is None else c))
        if safe is not None:
            safe.write(_header(columns, safe_cell))
        for batch in batches:
            frame = as_frame(batch)
            if list(frame.columns) != list(columns):
                raise UnsupportedColumn(
                    f"batch columns {frame.columns} are not {list(columns)}"
                )
            plain, careful = encode(frame)
            faithful.write(plain)
            if safe is not None:
                safe.write(careful)
            count += frame.height
    return count
