"""JSON endpoints: records at a path (Clearwater's list, ``{"data": [...]}``), in
several lists at once (PulsePoint's ``active`` and ``recent``), one per line (JSON
Lines), or as GeoJSON Features (a FeatureCollection or a bare list, flattened to
their properties and point coordinates so that one mapping reads them and the
ArcGIS layer they came from alike)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from ...records.mapping import get_path
from ..parsers import (
    geojson_feature,
    geojson_features,
    is_json_lines,
    json_lines,
    load_json,
    records_at,
)
from .base import FeedSpider


class JsonSpider(FeedSpider):
    platform = "json"
    raw_finite = True  # see FeedSpider.raw_finite

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        opts = self.parse_options
        if is_json_lines(response, opts):
            records: list[Any] | None = list(json_lines(response, self))
        else:
            records = self._records(load_json(response, self), response)
        if opts.get("geojson"):
            records = [geojson_feature(r) for r in records or ()]
        for rec in records or ():
            if isinstance(rec, dict):
                yield rec
            else:
                self.run.errors.append(
                    f"non-object record in {response.url}: {rec!r:.60}"
                )

    def _records(self, data: Any, response: Response) -> list[Any] | None:
        opts = self.parse_options
        lists = opts.get("record_lists")
        if lists:
            tag = opts.get("list_field")
            out: list[Any] = []
            for path in lists:
                node = get_path(data, path) if isinstance(data, dict) else None
                self.expect(
                    isinstance(node, list), response, f"no record list at {path!r}"
                )
                for rec in node:
                    if tag and isinstance(rec, dict):
                        rec = {**rec, tag: path}
                    out.append(rec)
            return out
        paths = opts.get("records_path") or [""]
        records = records_at(data, paths)
        if records is None and opts.get("geojson"):
            records = geojson_features(data)
        self.expect(records is not None, response, f"no record list at {paths}")
        return records
