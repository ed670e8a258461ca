"""A batch of records as the store takes it, in the crawl and in ``cfs
import-git``: counted for the fill rates, keyed for a live listing's close, and
encoded once (for the store and the JSON Lines export).

Why a module of its own: the store pipeline (``pipelines.py``) takes a batch
either way, as dicts (``take_records``) or, built by columns, as the page's
columns (``take_part``); the git importer takes the dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..records.colqueue import PagePart, RowPart
from ..records.elements import FillCounter
from ..records.encoding import json_texts_exact
from ..records.gcpause import paused_gc
from ..records.items import RecordBatch


def take_part(
    item: Any, fill: FillCounter, note_keys: Callable[[Iterable[str]], Any] | None
) -> RowPart | PagePart:
    """``take_records`` as the store pipeline buffers a batch: a page built by
    columns (``RecordBatch.page``) whose texts are made by columns
    (``colpage.ColumnPage.text``) is counted and keyed by its columns, and no
    record dict is made; any other batch as ``take_records`` gives it."""
    page = item.page if isinstance(item, RecordBatch) else None
    text = page.text(item.finite) if page is not None else None
    if text is None:
        records, texts, exact = take_records(item, fill, note_keys)
        return RowPart(records, texts, exact, getattr(item, "columns", None))
    from ..records.colpage import fill_counts

    fill.add_counts(page.n, fill_counts(page.arrow))
    if note_keys is not None:
        note_keys(page.values("record_key"))
    return PagePart(page, text, 0, page.n)


def offsets(parts: list[Any]) -> Iterable[tuple[Any, int]]:
    """Each part with the index of its first record in the batch."""
    at = 0
    for part in parts:
        yield part, at
        at += part.n


def take_records(
    item: Any, fill: FillCounter, note_keys: Callable[[Iterable[str]], Any] | None
) -> tuple[list[dict[str, Any]], list[str], list[bool]]:
    """A batch as the store takes it, in the crawl and in ``cfs import-git``:
    its records, each encoded once (for the store and the JSON Lines export)
    with whether that text reads back exactly, counted for the fill rates, and
    its keys noted for a live listing's close (``note_keys``)."""
    records = item.records if isinstance(item, RecordBatch) else [dict(item)]
    with paused_gc():  # rows of scalars, no cycles: see records/gcpause.py
        # a batch its builder marked finite (RecordBatch.finite) skips the
        # NaN/inf walk; an item of one record is walked
        texts, exact = json_texts_exact(records, getattr(item, "finite", False))
        fill.add_many(records)
        if note_keys is not None:
            note_keys(r["record_key"] for r in records)
    return records, texts, exact
