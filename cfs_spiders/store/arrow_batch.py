"""A batch of records as one Arrow IPC stream, for the store's writer process.

Why: sent as JSON texts, each record was read back in the writer (orjson), its
row and sighting built from a dict, its raw text cut from the record's text:
about 20 us a record of the process that sets a backfill's wall time. As Arrow
the batch crosses as one buffer; the writer takes each column whole
(``to_pylist``) and zips the rows (``write_columns``, into the core
``write_records`` shares). The columns are those the columnar builder made the
records from (``records/colarrow.py``), not converted back from the dicts.

What the batch holds: the record columns that some record fills (a column all
null is left out: it is not bound; one with a single value is sent once, in the
schema's metadata), the raw record's text as the store keeps it (what
``raw_json`` cuts from the record's text) and its change hash (the 16 bytes
of ``change_digest``: blake2b of the raw record's canonical bytes, made here
where the raw record is a dict; the canonical text itself would be as large
again as the raw text, in the pipe and in both processes' memory).

A batch that would not convert exactly gives ``None`` and goes as JSON texts
(``store/process.py``): a record whose text does not read back (``exact``
false), a value of another type than its column's SQLite affinity takes as the
same stored value (a number in a text column, a list). Nothing here loads the
ADBC driver; the writer process's store binds the columns it keeps as Arrow
through it (``adbc_store.py``, ``ids.CallColumns.table``).
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from ..config.schema import record_fields
from ..records.colarrow import PageColumns
from ..records.encoding import change_digest, raw_json
from .base import RECORD_COLUMNS, _sql_type, db_value
from .batch_files import read_file
from .ids import CallColumns
from .write import RecordWriter, Sighting

RAW_TEXT = "__raw_text"  # the raw record's text, as stored (compressed)
RAW_HASH = "__raw_hash"  # its change hash (``change_digest``)

_INT = (pa.int64(), pa.bool_())
# the Arrow types a column may arrive as: those whose Python values SQLite
# stores as it would the record's own value under the column's affinity (an
# integer in a REAL column is stored as its float, as a float would be)
_ALLOWED: dict[str, tuple[pa.DataType, ...]] = {
    "TEXT": (pa.string(),),
    "INTEGER": _INT,
    "REAL": (pa.float64(), pa.int64()),
}


def _allowed_types() -> dict[str, tuple[pa.DataType, ...]]:
    fields = record_fields()
    return {c: _ALLOWED[_sql_type(fields[c])] for c in RECORD_COLUMNS}


_TYPES = _allowed_types()
_CONSTS = b"cfs_consts"  # schema metadata: the columns of one value, as JSON


def _column(name: str, parts: list[PageColumns]) -> tuple[str, Any] | None | bool:
    """One column of the batch: ``("const", value)``, ``("array", chunked)``,
    ``True`` when null on every row, ``None`` when it does not fit."""
    allowed = _TYPES[name]
    consts = [p.consts.get(name, _MISSING) for p in parts]
    if all(c is _MISSING for c in consts) and not any(name in p.arrays for p in parts):
        return True
    first = consts[0]
    if first is not _MISSING and all(
        type(c) is type(first) and c == first for c in consts
    ):
        if _CONST_ARROW[type(first)] not in allowed:
            return None
        return "const", first
    chunks: list[pa.Array] = []
    kinds = set()
    for p, c in zip(parts, consts, strict=True):
        array = p.arrays.get(name)
        if array is not None:
            kinds.add(array.type)
        elif c is not _MISSING:
            kinds.add(_CONST_ARROW[type(c)])
    if len(kinds) != 1:
        return None  # int in one page, float in another: as JSON
    (kind,) = kinds
    if kind not in allowed:
        return None
    for p, c in zip(parts, consts, strict=True):
        array = p.arrays.get(name)
        if array is None:
            array = pa.nulls(p.n, kind) if c is _MISSING else _repeat(c, p.n, kind)
        chunks.append(array)
    return "array", pa.chunked_array(chunks, kind)


def _repeat(value: Any, n: int, kind: pa.DataType) -> pa.Array:
    """``n`` times ``value`` (by polars: see ``colarrow.arrow_of``)."""
    return pl.repeat(value, n, eager=True).to_arrow().cast(kind)


_MISSING = object()
_CONST_ARROW = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}


def encode_batch(
    parts: list[PageColumns],
    records: list[dict[str, Any]],
    texts: list[str],
    exact: list[bool],
) -> bytes | None:
    """The batch as an Arrow IPC stream, from the columns its records were
    made from (``parts``, in order) and their JSON ``texts``; ``None`` when it
    does not convert exactly (the JSON texts then go instead)."""
    table = encode_table(parts, records, texts, exact)
    return None if table is None else stream_bytes(table)


def stream_bytes(table: pa.Table) -> bytes:
    """``encode_table``'s table as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def encode_table(
    parts: list[PageColumns],
    records: list[dict[str, Any]],
    texts: list[str],
    exact: list[bool],
) -> pa.Table | None:
    """``encode_batch``'s table, before it is a stream (``batch_files.py``
    writes it into a file)."""
    n = len(records)
    # the raw texts and change hashes made by columns (``colpage.py``): the
    # record dicts and their texts are then not looked at (they may not exist
    # yet: ``records`` and ``texts`` are made only if read)
    made = all(p.raw_texts is not None and p.hashes is not None for p in parts)
    if not n or sum(p.n for p in parts) != n or not (made or all(exact)):
        return None
    consts: dict[str, Any] = {}
    names: list[str] = []
    arrays: list[pa.ChunkedArray] = []
    try:
        for name in RECORD_COLUMNS:
            got = _column(name, parts)
            if got is True:
                continue  # not bound: NULL, as the JSON path leaves it out
            if got is None:
                return None
            kind, value = got
            if kind == "const":
                consts[name] = value
            elif value.null_count < n:
                names.append(name)
                arrays.append(value)
        if "record_key" not in names or not {"feed_id", "fetched_at"} <= (
            set(names) | consts.keys()
        ):
            return None
        if made:
            raw_column = pa.chunked_array([p.raw_texts for p in parts])
            hash_column = pa.chunked_array([p.hashes for p in parts])
        else:
            # the raw text and change hash the JSON path's writer makes of each
            # record (an exact record's text has no NaN or infinity: finite)
            raw_texts = list(map(raw_json, records, texts))
            hashes = [change_digest(rec["raw"], True) for rec in records]
            # by polars, not ``pa.array`` (see ``colarrow.arrow_of``)
            raw_column = pa.chunked_array(
                [pl.Series(raw_texts, dtype=pl.String).to_arrow()]
            )
            hash_column = pa.chunked_array(
                [pl.Series(hashes, dtype=pl.Binary).to_arrow()]
            )
        meta = {_CONSTS: orjson.dumps(consts)}
    except (KeyError, TypeError, ValueError, OverflowError, pa.ArrowException):
        return None  # a value Arrow or orjson would not take as it is
    arrays += [raw_column, hash_column]
    names += [RAW_TEXT, RAW_HASH]
    return pa.Table.from_arrays(arrays, names=names, metadata=meta)


class ColumnBatch:
    """A batch read back: the filled record columns as lists of Python values
    (a column of one value: ``consts``), the raw texts and change hashes.
    Decoded for a store that binds Arrow (``arrays``: ``adbc_store.py``), the
    record columns stay Arrow arrays and only those the writer looks at are
    lists too (``_PY_COLUMNS``)."""

    __slots__ = ("columns", "consts", "raw_texts", "hashes", "n", "arrays")

    def __init__(
        self,
        columns: dict[str, list[Any]],
        consts: dict[str, Any],
        raw_texts: list[str],
        hashes: list[bytes],
        arrays: dict[str, Any] | None = None,
    ) -> None:
        self.columns, self.consts = columns, consts
        self.raw_texts, self.hashes = raw_texts, hashes
        self.n = len(raw_texts)
        self.arrays = arrays


# the columns the writer reads as Python values even when it binds the rest
# from Arrow: the keys it looks up or maps, and the sightings' times
_PY_COLUMNS = frozenset({"feed_id", "record_key", "fetched_at", "run_id", "source_url"})


def decode_batch(data: bytes, arrow: bool = False) -> ColumnBatch:
    """``encode_batch``'s stream as columns of Python values (``arrow``: see
    ``decode_table``)."""
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    return decode_table(table, arrow)


def decode_file(path: str, arrow: bool = False) -> ColumnBatch:
    """``decode_batch`` of a stream ``batch_files.BatchFiles`` wrote (the file
    is deleted)."""
    return read_file(path, lambda table: decode_table(table, arrow))


def decode_table(table: pa.Table, arrow: bool = False) -> ColumnBatch:
    """``encode_table``'s table as columns of Python values; ``arrow``: the
    record columns kept as Arrow arrays too (``ColumnBatch.arrays``), only
    ``_PY_COLUMNS`` and the change hashes converted."""
    columns: dict[str, list[Any]] = {}
    arrays: dict[str, Any] | None = {} if arrow else None
    for name, column in zip(table.column_names, table.columns, strict=True):
        if arrays is not None and name != RAW_TEXT:
            arrays[name] = column
            if name not in _PY_COLUMNS and name != RAW_HASH:
                continue
        columns[name] = column.to_pylist()
    consts = orjson.loads((table.schema.metadata or {}).get(_CONSTS, b"{}"))
    raw_texts = columns.pop(RAW_TEXT)
    hashes = columns.pop(RAW_HASH)
    return ColumnBatch(columns, consts, raw_texts, hashes, arrays)


def write_columns(store: RecordWriter, batch: ColumnBatch) -> tuple[int, int]:
    """``store.write_records`` of a batch that came as columns: the calls rows
    zipped from whole columns once their keys are bound (``ids.CallColumns``;
    a column of one value is repeated, not copied per row) and each sighting
    from the same columns, the change hash the hash of each raw record's
    canonical bytes (``encoding.change_digest``), never a record dict. The
    same rows ``write_records`` builds from the records, written by the same
    core (``RecordWriter.write_rows``). Returns (new calls, new versions)."""
    n = batch.n
    if not n:
        return 0, 0
    columns: dict[str, Any] = dict(batch.columns)
    arrays = batch.arrays
    for name, value in batch.consts.items():
        columns[name] = repeat(value)
    if arrays is not None:  # the columns bound from Arrow, not read as values
        for name in arrays:
            if name != RAW_HASH:
                columns.setdefault(name, None)
    feed = columns["feed_id"]
    feeds = {next(feed)} if isinstance(feed, repeat) else set(feed)
    if len(feeds) != 1:
        raise ValueError(
            f"a batch of feeds {sorted(map(str, feeds))} (one feed per batch)"
        )
    (feed_id,) = feeds
    filled = tuple(c for c in RECORD_COLUMNS if c in columns)
    if len(filled) != len(columns):
        unknown = sorted(set(columns) - set(filled))
        raise ValueError(f"a batch of {feed_id!r}: unknown columns {unknown}")
    values = batch.hashes
    fetched = columns["fetched_at"]
    cols = [columns[c] for c in filled]
    if store.dialect != "sqlite":  # PostgreSQL will not cast booleans
        cols = [
            repeat(db_value(next(col)))
            if isinstance(col, repeat)
            else list(map(db_value, col))
            for col in cols
        ]
    run = columns.get("run_id") or repeat(None)
    sightings = list(
        map(Sighting, columns["record_key"], fetched, run, values, batch.raw_texts)
    )
    bound = None
    if arrays is not None and store.binds_arrow:
        at_time = arrays.get("fetched_at")
        bound = [arrays.get(c) for c in filled] + [at_time, at_time, arrays[RAW_HASH]]
    elif arrays is not None:  # a store that binds values: every column as them
        cols = [
            arrays[c].to_pylist() if col is None else col
            for c, col in zip(filled, cols, strict=True)
        ]
    calls = CallColumns(filled, [*cols, fetched, fetched, values], n, bound)
    return store.write_rows(feed_id, filled, calls, sightings)
