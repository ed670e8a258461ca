"""The per-run JSON Lines export (``FEEDS``, format ``jsonlines``), one line per
record.

Records travel through Scrapy in batches (``items.RecordBatch``); this exporter
writes each record of a batch as the line Scrapy's ``JsonLinesItemExporter``
would write for it as a ``CallRecord``: the same JSON value, fields in
declaration order. A record of plain JSON values (nearly all) gets the JSON text
the store pipeline already made for its observation (compact, by orjson), so
nothing is encoded twice; any other record, and any other item, is encoded by
Scrapy's exporter as before.
"""

from __future__ import annotations

from typing import Any

from scrapy.exporters import JsonLinesItemExporter

from ..records.encoding import json_text_exact
from ..records.items import RECORD_FIELDS, RecordBatch, in_field_order

_CHUNK = 2000  # lines per write


class RecordJsonLinesExporter(JsonLinesItemExporter):
    def export_item(self, item: Any) -> None:
        if not isinstance(item, RecordBatch):
            super().export_item(item)
            return
        records = item.records
        if not self._plain():
            for rec in records:
                super().export_item(in_field_order(rec))
            return
        encoded, exact = item.encoded, item.exact
        if (
            encoded is None
            or exact is None
            or len(encoded) != len(records)
            or len(exact) != len(records)
        ):
            pairs = [json_text_exact(r) for r in records]
            encoded, exact = [t for t, _ in pairs], [ok for _, ok in pairs]
        lines = []
        for rec, text, ok in zip(records, encoded, exact, strict=True):
            if not ok or tuple(rec) != RECORD_FIELDS:
                # not plain JSON values, or fields out of order: Scrapy's encoding
                text = self.encoder.encode(in_field_order(rec))
            lines.append(text)
            if len(lines) >= _CHUNK:
                self._write(lines)
                lines = []
        if lines:
            self._write(lines)

    def _plain(self) -> bool:
        """Exporter options under which a record's line is its stored JSON text."""
        return (
            self.fields_to_export is None
            and not self.export_empty_fields
            and not self._kwargs.get("ensure_ascii")
        )

    def _write(self, lines: list[str]) -> None:
        self.file.write(("\n".join(lines) + "\n").encode(self.encoding or "utf-8"))
