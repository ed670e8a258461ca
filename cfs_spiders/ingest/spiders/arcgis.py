"""ArcGIS REST ``query`` JSON: ``resultOffset`` paging while
``exceededTransferLimit`` is true; dates are epoch milliseconds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from scrapy.http import Response
from w3lib.url import add_or_replace_parameters

from ...normalize.time import zone
from ..parsers import geojson_feature, load_json
from .paged import OffsetPagedSpider
from .socrata import unique_order


class ArcGISSpider(OffsetPagedSpider):
    platform = "arcgis"
    raw_finite = True  # see FeedSpider.raw_finite
    default_page_size = 2000

    def where(self) -> str:
        clauses = [self.request_options.get("where") or "1=1"]
        field = self.request_options.get("incremental_field")
        mark = self.usable_high_water() if self.polls_incrementally() else None
        if field and mark:
            # Standardized SQL compares date fields with TIMESTAMP literals, in UTC
            # unless the layer stores local wall-clock time (epoch_reference).
            since = mark - timedelta(
                minutes=int(self.request_options.get("overlap_minutes", 60))
            )
            reference = self._incremental_time_options(field).get(
                "epoch_reference", "UTC"
            )
            if reference.upper() not in ("UTC", "ETC/UTC", "GMT"):
                since = since.astimezone(zone(reference))
            clauses.append(f"{field} > TIMESTAMP '{since:%Y-%m-%d %H:%M:%S}'")
            if self.run is not None:  # part of the listing: absence means nothing
                self.run.full_listing = False
        return (
            " AND ".join(f"({c})" for c in clauses) if len(clauses) > 1 else clauses[0]
        )

    def page_url(self, base: str, offset: int) -> str:
        params = {
            "f": "json",
            "where": self.where(),
            "outFields": "*",
            "resultOffset": str(offset),
            "resultRecordCount": str(self.page_size()),
            **(self.request_options.get("params") or {}),
        }
        if self.request_options.get("order"):
            params["orderByFields"] = unique_order(
                self.request_options["order"],
                self.request_options.get("tie_breaker", "OBJECTID"),
            )
        return add_or_replace_parameters(base, params)

    def more_pages(self, response: Response, page_records: int) -> bool:
        return bool(response.meta.get("exceeded")) and page_records > 0

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        data = load_json(response, self)
        self.expect(isinstance(data, dict), response, "expected an ArcGIS JSON object")
        if "error" in data:
            self.expect(False, response, f"ArcGIS error {data['error']!r:.200}")
        if data.get("type") == "FeatureCollection":
            yield from self._geojson(data, response)
            return
        features = data.get("features")
        self.expect(isinstance(features, list), response, "no 'features' list")
        response.meta["exceeded"] = bool(data.get("exceededTransferLimit"))
        for feature in features:
            attrs = feature.get("attributes") or {}
            geometry = feature.get("geometry") or {}
            if "x" in geometry and "y" in geometry:
                attrs = dict(attrs)  # the parsed feature itself stays as published
                attrs["geometry.x"], attrs["geometry.y"] = geometry["x"], geometry["y"]
            elif type(attrs) is not dict:
                attrs = dict(attrs)
            yield attrs

    def _geojson(self, data: dict[str, Any], response: Response) -> Iterator[Any]:
        """A layer queried with ``f=geojson``: the same raw fields as Esri JSON
        (attributes, ``geometry.x``/``geometry.y``); the transfer limit sits in
        the collection's ``properties``."""
        features = data.get("features")
        self.expect(isinstance(features, list), response, "no 'features' list")
        props = data.get("properties") or {}
        response.meta["exceeded"] = bool(
            data.get("exceededTransferLimit") or props.get("exceededTransferLimit")
        )
        for feature in features:
            rec = geojson_feature(feature)
            if isinstance(rec, dict):
                yield rec
