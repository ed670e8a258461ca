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
from typing import IO, Any, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from .files import atomic_open, safe_cell, spreadsheet_path

# a text cell ``safe_cell`` changes: a formula start or a control character
# (``files._PLAIN`` is its complement)
_NEEDS_CARE = r"^[=+\-@\t\r]|[\x00-\x1f\x7f]"
# the first bytes of a cell ``safe_cell`` may change (tab and carriage return
# are control characters, found by the byte range check)
_FORMULA_FIRST = np.zeros(256, dtype=bool)
_FORMULA_FIRST[list(b"=+-@")] = True
# Arrow's string layouts whose offsets this module reads
_OFFSETS = {pa.string(): np.int32, pa.large_string(): np.int64}


class UnsupportedColumn(TypeError):
    """A column whose type this writer does not format as ``csv.writer`` does."""


class Prepared(NamedTuple):
    """A batch as a polars frame, with the text columns of its spreadsheet copy
    that may differ (``None``: not known, looked for by ``encode``)."""

    frame: pl.DataFrame
    care: frozenset[str] | None


def as_frame(batch: Any) -> pl.DataFrame:
    """A polars frame of an Arrow record batch (a frame is returned as it is)."""
    if isinstance(batch, Prepared):
        return batch.frame
    if isinstance(batch, pl.DataFrame):
        return batch
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _scan_text(array: pa.Array, name: str) -> tuple[pa.Array, bool] | None:
    """One text column of an Arrow batch, read through its buffers: the column
    with its empty texts made null (written the same: an empty cell; polars
    would quote an empty text), and whether a cell may need ``safe_cell``
    (a byte outside printable ASCII, or a formula start). Raises
    ``UnsupportedColumn`` when the text is not UTF-8 (a BLOB read into a text
    column). ``None``: a layout read otherwise (the caller asks polars).

    Why: polars' per-cell regular expressions for the spreadsheet check cost
    more than writing the CSV; two reductions over the column's bytes (numpy,
    no Python object per cell) and a look at each cell's first byte tell the
    same for the usual column, which holds nothing to change."""
    width = _OFFSETS.get(array.type)
    if width is None or array.offset != 0:
        return None
    n = len(array)
    validity, offsets, data = array.buffers()
    offs = np.frombuffer(offsets, dtype=width, count=n + 1)
    first, last = int(offs[0]), int(offs[-1])
    body = np.frombuffer(data, dtype=np.uint8)[first:last] if data else None
    lengths = np.diff(offs)
    filled = lengths > 0
    if body is None or body.size == 0:
        plain = True
    else:
        plain = int(body.min()) >= 0x20 and int(body.max()) < 0x7F
        if not plain:  # not ASCII: its UTF-8 checked
            _validate(array, name)
    care = not plain or (
        body is not None
        and body.size > 0
        and bool(_FORMULA_FIRST[body[offs[:-1][filled] - first]].any())
    )
    if filled.all():
        return array, care
    if validity is not None:  # nulls and empty texts both: polars makes them one
        return _null_empty(array), care
    bits = pa.py_buffer(np.packbits(filled, bitorder="little"))
    return pa.Array.from_buffers(array.type, n, [bits, offsets, data]), care


def _validate(array: pa.Array, name: str) -> None:
    """``UnsupportedColumn`` unless the column is valid (a text column: UTF-8)."""
    try:
        array.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise UnsupportedColumn(f"column {name!r}: {exc}") from exc


def _null_empty(array: pa.Array) -> pa.Array:
    """``array`` with its empty texts null (its nulls stay null)."""
    import pyarrow.compute as pc

    return pc.if_else(pc.equal(pc.binary_length(array), 0), None, array)


def prepare(batch: pa.RecordBatch) -> Prepared:
    """An Arrow batch as ``encode`` writes it fastest: its text columns scanned
    once (``_scan_text``), their empty texts null, the columns whose
    spreadsheet cells may differ named. A layout ``_scan_text`` does not read
    leaves ``care`` unknown (``encode`` looks with polars)."""
    columns, care, known = [], set(), True
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        kind = array.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            scanned = _scan_text(array, name)
            if scanned is None:
                known = False
                _validate(array, name)
            else:
                array, careful = scanned
                if careful:
                    care.add(name)
        elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            _validate(array, name)  # say, a string view: its UTF-8 checked
        columns.append(array)
    frame = as_frame(pa.RecordBatch.from_arrays(columns, names=batch.schema.names))
    return Prepared(frame, frozenset(care) if known else None)


def _float_text(series: pl.Series) -> pl.Series:
    """``repr`` of each float; a null stays null."""
    text = series.cast(pl.String)
    odd = ((series.abs() < 1e-4) & (series != 0)) | series.is_nan()
    if odd.any():
        index = odd.arg_true()
        values = [repr(v) for v in series.gather(index).to_list()]
        text = text.scatter(index, pl.Series(values, dtype=pl.String))
    return text


def _safe_text(series: pl.Series) -> pl.Series | None:
    """A text column of the spreadsheet copy: ``safe_cell`` on the cells it
    changes, the others as they are; ``None`` when it changes none."""
    care = series.str.contains(_NEEDS_CARE).fill_null(False)
    index = care.arg_true()
    values = [safe_cell(v) for v in series.gather(index).to_list()]
    if all(a == b for a, b in zip(values, series.gather(index).to_list(), strict=True)):
        return None
    return series.scatter(index, pl.Series(values, dtype=pl.String))


def _write(frame: pl.DataFrame) -> bytes:
    """The frame's CSV lines, quoted as ``csv.writer`` quotes (polars'
    ``necessary``: a cell holding a comma, a double quote, a line feed or a
    carriage return, its quotes doubled). Every column is text or integer, and
    an empty text is null (polars quotes an empty text; ``csv.writer`` writes
    an empty cell, as for None)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, quote_style="necessary")
    return buffer.getvalue()


def encode(batch: Any) -> tuple[bytes, bytes]:
    """A batch's rows as the faithful file's bytes and the spreadsheet copy's
    (the same object when no cell differs)."""
    if isinstance(batch, pa.RecordBatch):
        batch = prepare(batch)
    frame, care = batch if isinstance(batch, Prepared) else (as_frame(batch), None)
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
    if care is None:  # not scanned: empty texts made null, care looked for here
        frame = frame.with_columns(
            [
                pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c)
                for c in texts
            ]
        )
        if texts:
            flags = frame.select(
                [pl.col(c).str.contains(_NEEDS_CARE).any().alias(c) for c in texts]
            ).row(0)
            care = frozenset(c for c, q in zip(texts, flags, strict=True) if q)
        else:
            care = frozenset()
    if frame.width == 1:
        # ``csv.writer`` writes a row of one empty cell as ``""``, as polars
        # writes an empty text
        frame = frame.select(pl.col(frame.columns[0]).cast(pl.String).fill_null(""))
    faithful = _write(frame)
    changed = [
        s for c in texts if c in care and (s := _safe_text(frame[c])) is not None
    ]
    if not changed:
        return faithful, faithful
    return faithful, _write(frame.with_columns(changed))


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
            if isinstance(batch, pa.RecordBatch):
                batch = prepare(batch)
            frame = as_frame(batch)
            if list(frame.columns) != list(columns):
                raise UnsupportedColumn(
                    f"batch columns {frame.columns} are not {list(columns)}"
                )
            plain, careful = encode(batch)
            faithful.write(plain)
            if safe is not None:
                safe.write(careful)
            count += frame.height
    return count
