"""Plain JSON endpoints: records at a path (Clearwater's list, ``{"data": [...]}``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from scrapy.http import Response

from ..mapping import get_path
from .base import FeedSpider


def load_json(response: Response, spider: FeedSpider) -> Any:
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError as exc:
        spider.expect(False, response, f"expected JSON ({exc})")


def records_at(data: Any, paths: list[str]) -> list[Any] | None:
    for path in paths:
        node = data if path in ("", "$") else get_path(data, path) if isinstance(
            data, dict) else None
        if isinstance(node, list):
            return node
    return None


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
                self.run.errors.append(f"non-object record in {response.url}: {rec!r:.60}")
