"""CSV feeds (and SODA CSV responses, and re-exported captures)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from ..parsers import csv_records
from .base import FeedSpider


class CsvSpider(FeedSpider):
    platform = "csv"
    raw_finite = True  # see FeedSpider.raw_finite

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        return csv_records(response, self.parse_options, self)
