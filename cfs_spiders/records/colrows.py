"""A page's columns and the records they become (``records/columnar.py``).

Why a module of its own: what the page path does between polars and the record
dicts costs as much as the mapping itself, so it is kept small and measured.
A column is a list of per-row values or a ``Const`` (one value on every row,
which the records take from one template dict instead of row by row); a
normalizer runs once per distinct input (``distinct_apply``) and its result is
joined back, or folded to a ``Const`` when it is the same for every input.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from typing import Any

import polars as pl

from .builder import _units, merge_rows
from .compile import PageFallback, filled, series_of
from .encoding import all_finite
from .keys import _FIELD as KEY_FIELDS  # element -> the record field it reads
from .keys import KeySpec


class Const:
    """A column holding one value on each of the page's ``n`` rows: written
    once into the records' template (``as_records``), never row by row."""

    __slots__ = ("n", "value")

    def __init__(self, value: Any, n: int) -> None:
        self.value, self.n = value, n

    def __iter__(self) -> Iterator[Any]:
        return repeat(self.value, self.n)

    def __len__(self) -> int:
        return self.n


Column = list[Any] | Const

# dtypes that cannot hold a NaN or an infinity
_NO_FLOAT = frozenset(
    (pl.String, pl.Boolean, pl.Null, pl.Int8, pl.Int16, pl.Int32, pl.Int64)
    + (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
)


class FiniteWatch:
    """Whether every float a page's columns hold is finite (no NaN, no
    infinity), seen per column as the columns become values: by dtype, and for a
    float column by polars' ``is_finite``, never value by value. The record's
    JSON text then needs no walk over its values (``items.RecordBatch.finite``).
    A column of any other dtype (a list, a struct) counts as not known.

    It also remembers the polars column each list of values was made from
    (``sources``, by the list's ``id``), so that the page's columns can be
    handed on as Arrow without converting the lists back (``colarrow.py``)."""

    __slots__ = ("finite", "sources")

    def __init__(self) -> None:
        self.finite = True
        # id(list) -> (the list, its column): the list is held, so that its id
        # is not given to another list while the page is built
        self.sources: dict[int, tuple[list[Any], pl.Series]] = {}

    def keep(self, values: list[Any], column: pl.Series) -> list[Any]:
        """``values`` (``column.to_list()``), remembered as ``column``'s."""
        self.sources[id(values)] = (values, column)
        return values

    def series(self, column: pl.Series) -> None:
        if not self.finite:
            return
        dtype = column.dtype
        if dtype in _NO_FLOAT:
            return
        if dtype.is_float() and column.is_finite().fill_null(True).all():
            return
        self.finite = False

    def value(self, value: Any) -> None:
        """One value every row holds (a constant of the feed)."""
        if self.finite and not all_finite(value):
            self.finite = False


def listed(
    column: pl.Series | list[Any] | Const, watch: FiniteWatch | None = None
) -> Column:
    """A column's values; one that is null on every row as a ``Const``.
    ``watch`` sees a polars column's floats (a list or ``Const`` was seen where
    it was made: ``distinct_apply``)."""
    if not isinstance(column, pl.Series):
        return column
    if watch is not None:
        watch.series(column)
    n = len(column)
    if n and column.null_count() == n:
        return Const(None, n)
    if watch is not None:
        return watch.keep(column.to_list(), column)
    return column.to_list()


def count_of(column: Column, value: Any) -> int:
    """Rows equal to ``value`` (as ``list.count``)."""
    if isinstance(column, Const):
        return column.n if column.value is value or column.value == value else 0
    return column.count(value)


def as_series(name: str, column: Column, dtype: Any) -> pl.Series:
    if isinstance(column, Const):
        return filled(name, column.value, column.n, dtype)
    return pl.Series(name, column, dtype=dtype)


def _one_value(values: list[Any]) -> bool:
    """Every value the same, of the same type (a float by its repr: -0.0 is not
    0.0, and NaN is never folded)."""
    first = values[0]
    kind = type(first)
    if kind is float:
        text = repr(first)
        return first == first and all(
            type(v) is float and repr(v) == text for v in values
        )
    if kind not in (str, int, bool, type(None)):
        return False
    return all(type(v) is kind and v == first for v in values)


def distinct_apply(
    inputs: dict[str, pl.Series],
    fn: Callable[..., Sequence[Any]],
    outputs: Sequence[str],
    watch: FiniteWatch | None = None,
) -> dict[str, Column]:
    """``fn`` once per distinct tuple of the input columns; results per row.
    An output with one value for every distinct input is a ``Const`` (no join).
    ``watch`` sees the outputs' floats, once per distinct value."""
    frame = pl.DataFrame(inputs)
    uniq = frame.unique(maintain_order=True)
    results = [fn(*row) for row in uniq.rows()]
    got: dict[str, Column] = {}
    varying: list[pl.Series] = []
    for i, name in enumerate(outputs):
        values = [r[i] for r in results]
        column = series_of(name, values)  # the type check, constant or not
        if watch is not None:
            watch.series(column)
        if values and _one_value(values):
            got[name] = Const(values[0], frame.height)
        else:
            varying.append(column)
    if varying:
        joined = (
            frame.with_row_index("_row")
            .join(
                uniq.with_columns(varying),
                on=list(inputs),
                how="left",
                nulls_equal=True,
            )
            .sort("_row")
        )
        for column in varying:
            values = joined[column.name]
            got[column.name] = (
                values.to_list()
                if watch is None
                else watch.keep(values.to_list(), values)
            )
    return {name: got[name] for name in outputs}


def tally(column: Column) -> list[tuple[Any, int]]:
    """(value, rows) for each distinct value of the column."""
    if isinstance(column, Const):
        return [(column.value, column.n)]
    return list(Counter(column).items())


def as_records(columns: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The page's columns as one dict per row, keys in the columns' order.

    A constant column (``repeat``) is written once, in a template dict that
    each record starts as a copy of; only the other columns are set row by row
    (a copy and an update of known keys cost a third less than building each
    60-key dict from pairs)."""
    template: dict[str, Any] = {}
    names: list[str] = []
    values: list[Any] = []
    for name, column in columns.items():
        if isinstance(column, repeat):
            template[name] = next(column)
        elif isinstance(column, Const) and column.n == n:
            template[name] = column.value
        else:
            if len(column) != n:
                raise PageFallback(f"{name}: column of {len(column)} for {n} rows")
            template[name] = None  # its place in the key order
            names.append(name)
            values.append(column)
    records = [template.copy() for _ in range(n)]
    if not values:
        return records
    for record, row in zip(records, zip(*values, strict=True), strict=True):
        record.update(zip(names, row, strict=True))
    return records


def _rows_of(column: Any, n: int) -> list[Any]:
    if isinstance(column, list):
        return column
    if column is None:
        return [None] * n
    if isinstance(column, repeat):
        return [next(column)] * n
    return list(column)  # a Const


def record_keys(
    spec: KeySpec, columns: dict[str, Any], rows: list[int], n: int
) -> tuple[list[str], int]:
    """``KeySpec.key`` of the records at ``rows``, element by element over the
    page's columns (the same text, the same hash) rather than record by
    record: (keys, how many of them lack a value)."""
    texts: list[list[str]] = []
    blank: list[list[bool]] = []
    for name in spec.names:
        values = _rows_of(columns.get(KEY_FIELDS[name]), n)
        if name.endswith("_at"):  # a date published without a clock: its day
            local = _rows_of(columns.get(f"{name}_local"), n)
            values = [v if v is not None else local[i] for i, v in enumerate(values)]
        picked = [values[i] for i in rows]
        texts.append([f"{name}={'' if v is None else v}" for v in picked])
        blank.append([v is None or v == "" for v in picked])
    joined = list(map("\x1f".join, zip(*texts, strict=True))) if texts else []
    if not texts:
        joined = [""] * len(rows)
    sha1 = hashlib.sha1
    keys = ["k:" + sha1(t.encode("utf-8")).hexdigest()[:20] for t in joined]
    incomplete = sum(map(any, zip(*blank, strict=True))) if blank else 0
    return keys, incomplete


def merge_page(
    records: list[dict[str, Any]], rows_per: str = "unit"
) -> list[dict[str, Any]]:
    """``merge_rows`` as a group-by on ``record_key``: a call listed on one row
    is finished in place (its units re-joined); the rows of a call listed on
    several are merged by the reference rules, group by group, in the order
    calls first appear."""
    if not records:
        return []
    keys = pl.Series("k", [r["record_key"] for r in records], dtype=pl.String)
    groups = (
        pl.DataFrame({"k": keys})
        .with_row_index("i")
        .group_by("k", maintain_order=True)
        .agg(pl.col("i"))
    )
    out: list[dict[str, Any]] = []
    for rows in groups["i"].to_list():
        if len(rows) > 1:
            out.extend(merge_rows([records[i] for i in rows], rows_per))
            continue
        rec = records[rows[0]]
        rec["raw"] = [rec["raw"]]
        units = _units(rec.get("units_raw"))
        if units:
            rec["units_raw"] = " ".join(units)
            rec["unit_count"] = len(units)
        out.append(rec)
    return out
