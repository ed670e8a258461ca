"""Plain JSON endpoints: records at a path (Clearwater's list, ``{"data": [...]}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
from scrapy.http import Response

from ..mapping import get_path
from .base import FeedSpider


def _clean(value: Any) -> Any:
    """Strings without lone surrogates (they cannot be stored or exported)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def load_json(response: Response, spider: FeedSpider) -> Any:
    """The response as JSON. Invalid UTF-8 (or a lone surrogate escape) in a value
    is replaced, counted in the run report, and the rest of the listing kept."""
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError as exc:
        error = exc
    text = response.body.decode("utf-8", errors="replace")
    try:
        data = _clean(json.loads(text, strict=False))
    except ValueError:
        spider.expect(False, response, f"expected JSON ({error})")
    if spider.builder is not None:
        spider.builder.counts["response:json_recovered"] += 1
    return data


def records_at(data: Any, paths: list[str]) -> list[Any] | None:
    for path in paths:
        node = (
            data
            if path in ("", "$")
            else get_path(data, path)
            if isinstance(data, dict)
            else None
        )
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
                self.run.errors.append(
                    f"non-object record in {response.url}: {rec!r:.60}"
                )
