"""The per-run JSON Lines export (``FEEDS``, format ``jsonlines``), one line per
record.

Records travel through Scrapy in batches (``items.RecordBatch``); this exporter
writes each record of a batch as the line Scrapy's ``JsonLinesItemExporter``
would write for it as a ``CallRecord``: the same JSON value, fields in
declaration order. A record of plain JSON values (nearly all) gets the JSON text
the store pipeline already made for its observation (compact, by orjson), so
nothing is encoded twice; any other record, and any other item, is encoded by
Scrapy's exporter as before. A page built by columns (``RecordBatch.page``)
is written from the lines made by columns (``records/coljson.py``: the same
text), its record dicts never made.
"""

from __future__ import annotations

from typing import Any

from scrapy.exporters import JsonLinesItemExporter

from ..records.encoding import json_texts_exact
from ..records.items import RECORD_FIELDS, RecordBatch, in_field_order

# lines per write: a few hundred KB, so that joining and encoding them stays in
# the CPU's cache (2,000 lines of 3 KB made each write cost four times as much)
_CHUNK = 256


class RecordJsonLinesExporter(JsonLinesItemExporter):
    def export_item(self, item: Any) -> None:
        if not isinstance(item, RecordBatch):
            super().export_item(item)
            return
        page = item.page
        if page is not None and self._plain():
            text = page.text(item.finite)  # made by the store pipeline, once
            if text is not None:  # each line made by columns (coljson.py)
                write_lines(self.file, text.lines)
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
            encoded, exact = json_texts_exact(records, item.finite)
        lines = []
        ordered = None  # the key order last found to be RECORD_FIELDS
        for rec, text, ok in zip(records, encoded, exact, strict=True):
            keys = tuple(rec)
            # (records of a page share their key objects: the first comparison
            # checks the strings, the next ones only that they are the same)
            if keys != ordered:
                if keys == RECORD_FIELDS:
                    ordered = keys
                else:
                    ok = False
            if not ok:
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
        """The lines, each ended by a newline, in one write (``lines`` is used up:
        a last empty line gives the final newline without copying the text
        again)."""
        lines.append("")
        self.file.write("\n".join(lines).encode(self.encoding or "utf-8"))


def write_lines(file: Any, lines: Any) -> None:
    """A polars column of lines, each ended by a newline, written as they are
    (polars' CSV writer, never quoting: one column, no header)."""
    import polars as pl

    pl.DataFrame([lines]).write_csv(file, include_header=False, quote_style="never")
