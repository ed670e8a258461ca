"""CSV feeds (and SODA CSV responses, and re-exported captures)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from .base import FeedSpider

csv.field_size_limit(10_000_000)


def csv_records(
    response: Response, options: dict[str, Any], spider: FeedSpider
) -> Iterator[dict[str, Any]]:
    """Rows as dicts keyed by the header; ``null_values`` become None."""
    encoding = options.get("encoding") or "utf-8-sig"
    text = response.body.decode(encoding, errors="replace")
    head = text.lstrip()[:1]
    spider.expect(head not in ("<", "{", "["), response, "expected CSV")
    reader = csv.DictReader(io.StringIO(text), delimiter=options.get("delimiter", ","))
    spider.expect(bool(reader.fieldnames), response, "CSV without a header row")
    nulls = set(options.get("null_values") or ())
    for row in reader:
        if None in row:  # more cells than header names: keep them, named
            row["_extra"] = row.pop(None)
        if nulls:
            row = {k: (None if v in nulls else v) for k, v in row.items()}
        yield row


class CsvSpider(FeedSpider):
    platform = "csv"

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        return csv_records(response, self.parse_options, self)
