"""Plain JSON endpoints: records at a path (Clearwater's list, ``{"data": [...]}``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from ..parsers import load_json, records_at
from .base import FeedSpider


class JsonSpider(FeedSpider):
    platform = "json"

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        data = load_json(response, self)
        paths = self.parse_options.get("records_path") or [""]
        records = records_at(data, paths)
        self.expect(records is not None, response, f"no record list at {paths}")
        for rec in records or ():
            if isinstance(rec, dict):
                yield rec
            else:
                self.run.errors.append(
                    f"non-object record in {response.url}: {rec!r:.60}"
                )
