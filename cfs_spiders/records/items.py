"""The one record item. Its fields come from ``schemas/record.schema.json``, the
single source of truth for validation, documentation and export descriptors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import scrapy
from jsonschema import Draft202012Validator

from ..config.schema import RECORD_SCHEMA_PATH


@lru_cache(maxsize=1)
def record_schema() -> dict:
    return json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def record_validator() -> Draft202012Validator:
    return Draft202012Validator(record_schema())


CallRecord = type(
    "CallRecord",
    (scrapy.Item,),
    {
        "__doc__": "One call from one feed, on the common elements (see the schema).",
        **{name: scrapy.Field() for name in record_schema()["properties"]},
    },
)

#: Field names of a record, in declaration (schema) order.
RECORD_FIELDS: tuple[str, ...] = tuple(CallRecord.fields)
_FIELD_SET = frozenset(RECORD_FIELDS)


def in_field_order(rec: dict[str, Any]) -> dict[str, Any]:
    """The record with its fields in declaration order (undeclared ones last), as
    Scrapy's exporters order an item's fields. Both builders return records in
    this order, so the JSON Lines export can write the text the store pipeline
    already encoded."""
    if tuple(rec) == RECORD_FIELDS:
        return rec
    ordered = {k: rec[k] for k in RECORD_FIELDS if k in rec}
    ordered.update((k, v) for k, v in rec.items() if k not in ordered)
    return ordered


@dataclass(repr=False, eq=False)
class RecordBatch:
    """The records of one response, carried through Scrapy as one item.

    Scrapy's per-item machinery (spider middleware, pipelines, signals, the feed
    exporter) costs tens of microseconds an item, more than building a record:
    a page of records travels as one item instead. Each record is a plain dict on
    ``CallRecord``'s fields (checked here, as ``CallRecord`` would), the pipelines
    handle the records one by one (a record that fails validation is dropped
    alone, with Scrapy's ``item_dropped`` signal), and the JSON Lines exporter
    writes one line per record. ``encoded`` holds each record's JSON text once the
    store pipeline has encoded it (``exact``: plain JSON values only), so the
    exporter does not encode it again.

    ``page``: the records as the columnar builder made them
    (``colpage.ColumnPage``). The record dicts are then made only when a stage
    reads ``records`` (a record dropped by validation, a store path that takes
    dicts, a test); the pipelines and the exporter read the columns. A stage
    that sets ``records`` drops the page (it no longer describes them).

    ``finite`` says that no float anywhere in the records is NaN or infinite,
    where that is known without looking at every value: the columnar builder
    checks its float columns, and the spider knows its raw records were parsed by
    orjson (which reads neither) or hold text only. The JSON encoding then skips
    its walk over every value (``encoding.json_texts_exact``). False means not
    known: the encoding looks. Dropping records keeps it true; a stage that puts
    new values into the records must set it to False.

    ``columns`` are the same records' columns as Arrow (``colarrow.PageColumns``,
    from the columnar builder), for the store's writer process; a stage that
    drops or changes records sets it to None.
    """

    # a dataclass, for Scrapy to take it as an item; ``records`` is a property
    # (set below), read through ``_rows``
    records: list[dict[str, Any]] | None = None
    encoded: list[str] | None = field(default=None)
    exact: list[bool] | None = field(default=None)  # see encoding.json_text_exact
    finite: bool = field(default=False)
    columns: Any = field(default=None)
    page: Any = field(default=None)

    def __post_init__(self) -> None:
        if self.page is not None:
            names = tuple(self.page.columns)
            if self._rows is None and not set(names) <= _FIELD_SET:
                _unknown(names)
            return
        checked = None  # the last key order found to be all fields
        for rec in self._rows or ():
            keys = tuple(rec)
            # the records of a page share their key objects: once one record's
            # keys are checked, the next ones are the same objects, compared by
            # identity
            if keys == checked:
                continue
            if not rec.keys() <= _FIELD_SET:
                _unknown(keys)
            checked = keys

    def _get_records(self) -> list[dict[str, Any]]:
        rows = self._rows
        if rows is None:
            rows = self._rows = self.page.records() if self.page is not None else []
        return rows

    def _set_records(self, records: Any) -> None:
        if getattr(self, "_rows", None) is not None and records is not self._rows:
            self.page = None  # other records than the page's
        self._rows = records

    def __len__(self) -> int:
        if self._rows is None and self.page is not None:
            return self.page.n
        return len(self.records)

    def __repr__(self) -> str:  # Scrapy logs items: never the whole page
        return f"<RecordBatch of {len(self)} records>"


def _unknown(keys: tuple[Any, ...]) -> None:
    unknown = sorted(str(k) for k in keys if k not in _FIELD_SET)
    raise KeyError(f"CallRecord does not support field: {unknown[0]}")


RecordBatch.records = property(  # type: ignore[assignment,method-assign]
    RecordBatch._get_records, RecordBatch._set_records
)
