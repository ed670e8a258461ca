"""The parts of a batch's write that hold no statement: its versions' raw texts
compressed in one call (``BatchCompressor``) and the record columns its rows
bind (``filled_columns``). Used by ``write.RecordWriter``."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

from .base import RECORD_COLUMNS

_NONE = itertools.repeat(None)


class BatchCompressor:
    """A batch's versions' raw texts compressed against the feed's dictionary,
    which ``encoder`` looks up (or makes from the batch's raw texts) at the
    first version only: a batch of unchanged sightings reads no dictionary.
    Called with one text: (raw_dict, raw_deflate); ``many``: (raw_dict, each
    text's raw_deflate), in one call into the compressor."""

    __slots__ = ("_encoder", "_got")

    def __init__(self, encoder: Callable[[], tuple[int, Any]]) -> None:
        self._encoder = encoder
        self._got: tuple[int, Any] | None = None

    def _compressor(self) -> tuple[int, Any]:
        if self._got is None:
            self._got = self._encoder()
        return self._got

    def __call__(self, text: str) -> tuple[int, bytes]:
        dict_id, compressor = self._compressor()
        return dict_id, compressor(text)

    def many(self, texts: list[str]) -> tuple[int, list[bytes]]:
        dict_id, compressor = self._compressor()
        many = getattr(compressor, "many", None)
        return dict_id, many(texts) if many else list(map(compressor, texts))


def filled_columns(records: list[dict[str, Any]]) -> tuple[str, ...]:
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
