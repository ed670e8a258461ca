"""A page's record columns as Arrow arrays, carried beside its record dicts.

Why: the store's writer process takes a batch as Arrow columns
(``store/arrow_batch.py``). Made from the record dicts, the columns cost the
crawl's main thread ~10 us a record (a value looked up and converted one by
one); the columnar builder has them already, as the polars columns the dicts
were made from, so here they are taken as they are (``Series.to_arrow``). A
column with one value on every row is kept as that value (``consts``), never
repeated. The dicts stay what the pipelines, the JSON Lines export and every
other store path read; a stage that changes a page's records drops its columns
(``items.RecordBatch.columns``), and the records then cross as dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from typing import Any

import polars as pl
import pyarrow as pa

_CONST_TYPES = (str, int, float, bool)


def _arrow_type(dtype: Any) -> pa.DataType | None:
    """The one Arrow type a polars column of ``dtype`` crosses as; ``None``
    for a dtype the store's columns do not take (a list, a date, ...)."""
    if dtype == pl.String:
        return pa.string()
    if dtype == pl.Boolean:
        return pa.bool_()
    if dtype.is_integer():
        return pa.int64()
    if dtype.is_float():
        return pa.float64()
    return None


class PageColumns:
    """The record columns of ``n`` records: ``consts`` (a value on every row)
    and ``arrays`` (Arrow arrays of ``n``); a column in neither is null on
    every row. ``raw_texts`` and ``hashes``, once made by columns
    (``colpage.ColumnPage.text``), are the raw records' texts and change
    hashes as the store keeps them; ``None`` until then (the store's encoder
    then makes them from the record dicts)."""

    __slots__ = ("n", "consts", "arrays", "raw_texts", "hashes")

    def __init__(
        self,
        n: int,
        consts: dict[str, Any],
        arrays: dict[str, pa.Array],
        raw_texts: pa.Array | None = None,
        hashes: pa.Array | None = None,
    ) -> None:
        self.n, self.consts, self.arrays = n, consts, arrays
        self.raw_texts, self.hashes = raw_texts, hashes

    def slice(self, start: int, stop: int) -> PageColumns:
        """Rows ``start:stop`` (the arrays sliced, not copied)."""
        stop = min(stop, self.n)
        size = stop - start
        arrays = {k: a.slice(start, size) for k, a in self.arrays.items()}
        raw, hashes = self.raw_texts, self.hashes
        return PageColumns(
            size,
            self.consts,
            arrays,
            None if raw is None else raw.slice(start, size),
            None if hashes is None else hashes.slice(start, size),
        )


def page_columns(
    columns: dict[str, Any],
    n: int,
    names: Iterable[str],
    series: dict[int, tuple[list[Any], pl.Series]],
) -> PageColumns | None:
    """The columns of ``names`` of a page whose records were made from
    ``columns`` (``colrows.as_records``'s input: lists, ``Const``s,
    ``repeat``s); ``series`` maps a list's ``id`` to the list and the polars
    column it was listed from (``colrows.FiniteWatch.keep``). ``None`` when a column would
    not cross as it is (another dtype, a value Arrow does not take)."""
    consts: dict[str, Any] = {}
    arrays: dict[str, pa.Array] = {}
    try:
        for name in names:
            column = columns.get(name)
            if column is None:
                continue
            if isinstance(column, repeat):
                value = next(column)
            elif isinstance(column, list):
                kept, source = series.get(id(column), (None, None))
                if kept is column and len(source) == len(column) == n:
                    kind = _arrow_type(source.dtype)
                    if kind is None:
                        return None
                    if source.null_count() == n:
                        continue
                    arrays[name] = source.to_arrow().cast(kind)
                    continue
                if len(column) != n:
                    return None
                array = arrow_of(column)
                if array is None:
                    return None
                if array.null_count == n:
                    continue
                arrays[name] = array
                continue
            else:  # a Const
                if len(column) != n:
                    return None
                value = column.value
            if value is None:
                continue
            if type(value) not in _CONST_TYPES:
                return None
            consts[name] = value
    except (TypeError, ValueError, OverflowError, pa.ArrowException, pl.PolarsError):
        return None
    return PageColumns(n, consts, arrays)


def arrow_of(values: list[Any]) -> pa.Array | None:
    """A list of Python scalars as an Arrow array of its one type (``None``
    when the values mix types). By polars, not ``pa.array``: pyarrow's
    conversion from Python objects imports pandas on first use (0.3 s and
    ~40 MB in each process that does it)."""
    series = pl.Series(values, strict=True)
    kind = _arrow_type(series.dtype)
    if kind is None and series.dtype == pl.Null:
        kind = pa.null()
    if kind is None:
        return None
    return series.to_arrow().cast(kind)
