"""A page's records as the columnar builder made them, never made into dicts
unless a stage asks for them.

Why: the dicts (one of ~60 keys a record) cost the crawl's main thread more
than the columns they come from, and the stages of a backfill need none of
them: validation reads the distinct values of a few columns, the fill rates
count nulls, the store's writer takes the columns as Arrow with the raw texts
and change hashes, the JSON Lines export writes each record's text from the
columns (``coljson.py``). A stage that needs records (a record dropped by
validation, a store path that takes dicts, a test) gets them from
``records()``, the same dicts the builder gave before, made once.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import repeat
from typing import Any

import polars as pl
import pyarrow as pa

from .colarrow import PageColumns
from .coljson import json_lines, raw_texts
from .colrows import Const, as_records
from .elements import RULES
from .encoding import all_finite, change_digests
from .items import RECORD_FIELDS


class PageText:
    """What a page's records are written as: each record's JSON text
    (``lines``), its raw record's text and change hash (as the store keeps
    them: ``encoding.raw_json``, ``encoding.change_digest``; Arrow)."""

    __slots__ = ("hashes", "lines", "raw")

    def __init__(self, lines: pl.Series, raw: pa.Array, hashes: pa.Array) -> None:
        self.lines, self.raw, self.hashes = lines, raw, hashes


class ColumnPage:
    """The records of one page (or slice of one) as columns: ``columns`` in
    the records' key order (lists of per-row values or ``Const``s, the raw
    records under ``raw``) and the same as Arrow (``arrow``, without the raw
    records). ``finite``: the builder saw every float of its columns finite
    (the raw records' are the parser's to know: ``items.RecordBatch.finite``).
    """

    __slots__ = ("_records", "_text", "arrow", "columns", "finite", "n")

    def __init__(
        self,
        columns: dict[str, Any],
        n: int,
        arrow: PageColumns,
        records: list[dict[str, Any]] | None = None,
        finite: bool = False,
    ) -> None:
        self.columns = {
            k: Const(next(v), n) if isinstance(v, repeat) else v
            for k, v in columns.items()
        }
        self.n, self.arrow, self.finite = n, arrow, finite
        self._records = records
        self._text: PageText | None | bool = False  # False: not tried yet

    def __len__(self) -> int:
        return self.n

    def records(self) -> list[dict[str, Any]]:
        """The page's records, as ``colrows.as_records`` makes them (once)."""
        if self._records is None:
            self._records = as_records(self.columns, self.n)
        return self._records

    def values(self, name: str) -> Iterator[Any]:
        """The column's value on each row (``None`` for a field it lacks)."""
        column = self.columns.get(name)
        if column is None:
            return repeat(None, self.n)
        return iter(column)

    def distinct(self, name: str) -> set[Any]:
        """The column's distinct values (``TypeError`` for an unhashable one,
        ``KeyError`` for a field the page lacks)."""
        column = self.columns[name]
        if isinstance(column, Const):
            return {column.value}
        return set(column)

    def text(self, finite: bool) -> PageText | None:
        """The page's texts (``PageText``), made once; ``None`` when they cannot
        be made by columns exactly as record by record (``coljson.py``): the
        records are then encoded one by one. ``finite``: the batch's
        (``items.RecordBatch.finite``); when it is not known, the raw records
        are walked for a NaN or infinity, as record by record they would be."""
        if self._text is False:
            self._text = self._make_text(finite)
        return self._text

    def _make_text(self, finite: bool) -> PageText | None:
        raws = self.columns.get("raw")
        if not isinstance(raws, list) or len(raws) != self.n:
            return None
        if not (finite or self.finite and all_finite(raws)):
            return None  # a NaN or infinity: json writes it, not orjson
        raw = raw_texts(raws)
        if raw is None:
            return None
        lines = json_lines(
            RECORD_FIELDS, self.columns, self.arrow, pl.Series("raw", raw)
        )
        if lines is None:
            return None
        hashes = pl.Series(change_digests(raws), dtype=pl.Binary).to_arrow()
        self.arrow.raw_texts, self.arrow.hashes = raw, hashes
        return PageText(lines, raw, hashes)


def _has_expr(field: str, blank: tuple[Any, ...], page: PageColumns) -> bool | pl.Expr:
    """Whether each row's ``field`` is not blank: ``True``/``False`` when the
    column holds one value on every row (or none), else a polars expression.
    Only a text can equal a blank text: a column of another type is blank
    where null."""
    if field in page.consts:
        return page.consts[field] not in blank
    array = page.arrays.get(field)
    if array is None:  # null on every row
        return None not in blank
    has = pl.col(field).is_not_null()
    texts = [b for b in blank if isinstance(b, str)]
    if texts and array.type == pa.string():
        has = has & ~pl.col(field).is_in(texts)
    return has


def fill_counts(page: PageColumns) -> dict[str, int]:
    """How many of a page's rows have each element (``elements.RULES``, as
    ``elements.HAS`` counts them), by columns: a polars expression a rule."""
    n = page.n
    fixed: dict[str, int] = {}
    exprs: list[pl.Expr] = []
    for element, (fields, blank, mode) in RULES.items():
        terms = [_has_expr(f, blank, page) for f in fields]
        varying = [t for t in terms if not isinstance(t, bool)]
        decided = any(t is (mode == "any") for t in terms)
        if decided:  # one field filled on every row ("any"), or blank ("all")
            fixed[element] = n if mode == "any" else 0
        elif not varying:  # every field blank ("any") or filled ("all")
            fixed[element] = 0 if mode == "any" else n
        else:
            join = pl.any_horizontal if mode == "any" else pl.all_horizontal
            exprs.append(join(varying).sum().alias(element))
    if exprs:
        frame = pl.DataFrame(
            [pl.Series(name, array) for name, array in page.arrays.items()]
        )
        fixed.update(frame.select(exprs).row(0, named=True))
    return {element: int(fixed[element]) for element in RULES}
