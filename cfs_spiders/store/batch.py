"""A batch of records made ready for the store's transaction: the calls rows,
the change hashes and the raw texts (``RecordWriter.prepare_records`` in
``write.py``).

Why a module of its own: none of it reads the database, so the writer process
(``process.py``) makes the next batch ready while the last one is written.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from typing import Any

import orjson

from ..records.encoding import change_hash
from .base import RECORD_COLUMNS

_NONE = itertools.repeat(None)


def _hash(raw: Any, finite: bool) -> bytes:
    """``change_hash(raw)`` as its 16 bytes. A raw record known to hold no NaN or
    infinity (read from JSON text) is hashed straight from orjson's sorted
    bytes, which is what ``canonical_bytes`` gives it after checking (the
    check, a walk over every value in Python, cost ~10 us a record)."""
    if finite:
        try:
            data = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass
        else:
            return hashlib.blake2b(data, digest_size=16).digest()
    return bytes.fromhex(change_hash(raw))


def _filled_columns(records: list[dict[str, Any]]) -> tuple[str, ...]:
    """The record columns that some record of the batch has a value in (in
    ``RECORD_COLUMNS`` order): a batch's rows bind only those (``write_records``
    guesses them from the feed's last batch and checks the guess for each
    record, which costs less than this walk over each column). Why: binding a
    parameter costs the same whether it is NULL or not, and a feed leaves half
    of the ~80 columns empty (Houston's bench rows: 38 of 79 have a value; their
    INSERT costs 4.5 us a row instead of 16). A column left out of the INSERT is
    NULL, as bound: no column of ``calls`` that a record fills has a default."""
    first, filled = records[0], []
    for c in RECORD_COLUMNS:
        if first.get(c) is not None:
            filled.append(c)
            continue
        try:  # in C: stops at the first value
            empty = all(map(operator.is_, map(operator.itemgetter(c), records), _NONE))
        except KeyError:  # a record without the field
            empty = all(r.get(c) is None for r in records)
        if not empty:
            filled.append(c)
    return tuple(filled)


class Sighting:
    """One call seen at one fetch: its key, time, run, and published values
    (``value`` is ``None`` for an id read off a listing without its values)."""

    __slots__ = ("key", "t", "run_id", "value", "raw")

    def __init__(
        self,
        key: str,
        t: str,
        run_id: str | None,
        value: bytes | None,
        raw: str | None,
    ) -> None:
        self.key, self.t, self.run_id, self.value, self.raw = key, t, run_id, value, raw


class PreparedBatch:
    """A batch ready for its transaction (``RecordWriter.prepare_records``): the
    feed, the record columns bound, one calls row per record (those columns, then
    ``_LIFE``) and one sighting per record."""

    __slots__ = ("feed_id", "filled", "rows", "sightings")

    def __init__(
        self,
        feed_id: str,
        filled: tuple[str, ...],
        rows: list[list[Any]],
        sightings: list[Sighting],
    ) -> None:
        self.feed_id, self.filled, self.rows = feed_id, filled, rows
        self.sightings = sightings
