"""A batch of records as one Arrow IPC stream, for the store's writer process.

Why: sent as JSON texts, each record was read back in the writer (orjson), its
row and sighting built from a dict, its raw text cut from the record's text:
about 20 us a record of the process that sets a backfill's wall time. As Arrow
the batch crosses as one buffer; the writer takes each column whole
(``to_pylist``) and zips the rows (``write_columns``, into the core ``write_records`` shares).

What the batch holds: the record columns that some record fills (a column all
null is left out: it is not bound), the raw record's text as the store keeps it
(``raw_json``, cut from the record's text as the JSON path does) and its
canonical bytes (``canonical_bytes``, which the change hash is the hash of).

A batch that would not convert exactly gives ``None`` and goes as JSON texts
(``store/process.py``): a record whose text does not read back (``exact``
false), a value of another type than its column's SQLite affinity takes as the
same stored value (a number in a text column, a list), a raw record orjson
cannot write sorted. Nothing here loads the ADBC driver: the writer still
writes with ``sqlite3`` (see ``arrow_reader.py`` on why the two must not share
a process).
"""

from __future__ import annotations

import hashlib
import operator
from itertools import repeat
from typing import Any

import orjson
import pyarrow as pa

from ..config.schema import record_fields
from ..records.encoding import raw_json
from .base import RECORD_COLUMNS, _sql_type, db_value
from .write import RecordWriter, Sighting

RAW_TEXT = "__raw_text"  # the raw record's text, as stored (compressed)
RAW_CANONICAL = "__raw_canonical"  # its canonical bytes (the change hash's input)

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
_SORTED = orjson.OPT_SORT_KEYS


def encode_batch(
    records: list[dict[str, Any]], texts: list[str], exact: list[bool]
) -> bytes | None:
    """The batch as an Arrow IPC stream of one record batch, or ``None`` when
    it does not convert exactly (the JSON texts then go instead)."""
    if not records or not all(exact):
        return None
    arrays: list[pa.Array] = []
    names: list[str] = []
    n = len(records)
    try:
        for c in RECORD_COLUMNS:
            array = pa.array(
                list(map(operator.itemgetter(c), records)), from_pandas=False
            )
            if array.null_count == n:
                continue  # not bound: NULL, as the JSON path leaves it out
            if array.type not in _TYPES[c]:
                return None
            arrays.append(array)
            names.append(c)
        raws = [r["raw"] for r in records]
        dumps = orjson.dumps
        canonical = [dumps(raw, option=_SORTED) for raw in raws]
        raw_texts = list(map(raw_json, records, texts))
    except (KeyError, TypeError, ValueError, OverflowError, pa.ArrowException):
        # a record without a field, a value Arrow would not take as it is
        return None
    if "record_key" not in names or "fetched_at" not in names:
        return None
    arrays.append(pa.array(raw_texts, pa.string()))
    arrays.append(pa.array(canonical, pa.binary()))
    names += [RAW_TEXT, RAW_CANONICAL]
    batch = pa.RecordBatch.from_arrays(arrays, names=names)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


class ColumnBatch:
    """A batch read back: the filled record columns (in ``RECORD_COLUMNS``
    order) as lists of Python values, the raw texts and canonical bytes."""

    __slots__ = ("columns", "raw_texts", "canonical", "n")

    def __init__(
        self,
        columns: dict[str, list[Any]],
        raw_texts: list[str],
        canonical: list[bytes],
    ) -> None:
        self.columns, self.raw_texts, self.canonical = columns, raw_texts, canonical
        self.n = len(raw_texts)


def decode_batch(data: bytes) -> ColumnBatch:
    """``encode_batch``'s stream as columns of Python values."""
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    batches = list(reader)
    if len(batches) != 1:
        raise ValueError(f"an Arrow batch of the store: {len(batches)} batches")
    batch = batches[0]
    columns: dict[str, list[Any]] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        columns[name] = column.to_pylist()
    raw_texts = columns.pop(RAW_TEXT)
    canonical = columns.pop(RAW_CANONICAL)
    return ColumnBatch(columns, raw_texts, canonical)


def write_columns(store: RecordWriter, batch: ColumnBatch) -> tuple[int, int]:
    """``store.write_records`` of a batch that came as columns: each calls row
    and sighting zipped from whole columns, the change hash the hash of each
    raw record's canonical bytes (``encoding.change_digest``'s), never a record
    dict. The same rows ``write_records`` builds from the records, written by
    the same core (``RecordWriter.write_rows``). Returns (new calls, new
    versions)."""
    n = batch.n
    if not n:
        return 0, 0
    columns = batch.columns
    feeds = set(columns["feed_id"])
    if len(feeds) != 1:
        raise ValueError(
            f"a batch of feeds {sorted(map(str, feeds))} (one feed per batch)"
        )
    (feed_id,) = feeds
    filled = tuple(c for c in RECORD_COLUMNS if c in columns)
    if len(filled) != len(columns):
        unknown = sorted(set(columns) - set(filled))
        raise ValueError(f"a batch of {feed_id!r}: unknown columns {unknown}")
    blake2b = hashlib.blake2b
    values = [blake2b(c, digest_size=16).digest() for c in batch.canonical]
    fetched = columns["fetched_at"]
    cols = [columns[c] for c in filled]
    if store.dialect != "sqlite":  # PostgreSQL will not cast booleans
        cols = [list(map(db_value, col)) for col in cols]
    rows = list(map(list, zip(*cols, fetched, fetched, values, strict=True)))
    sightings = list(
        map(
            Sighting,
            columns["record_key"],
            fetched,
            columns.get("run_id") or repeat(None, n),
            values,
            batch.raw_texts,
        )
    )
    return store.write_rows(feed_id, filled, rows, sightings)
