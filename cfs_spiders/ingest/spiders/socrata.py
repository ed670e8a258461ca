"""Socrata (SODA 2.x): ``$limit``/``$offset`` paging in a stable ``$order``.

Incremental runs ask only for records whose time field is at or above the last
high-water mark minus an overlap window (``$where``), so a scheduled poll fetches
what changed, not the whole dataset. SODA serves JSON or CSV; both are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from scrapy.http import Response
from w3lib.url import add_or_replace_parameters

from ...normalize.time import zone
from ..parsers import csv_records, load_json
from .paged import OffsetPagedSpider


def unique_order(order: str | None, tie_breaker: str) -> str:
    """The configured paging order made unique: offset paging over an order with
    ties (several rows of one time) may skip or repeat rows between pages, so the
    platform's row id (Socrata ``:id``, ArcGIS ``OBJECTID``) is appended when the
    order does not already end the ties."""
    if not order or not order.strip():
        return tie_breaker
    fields = [part.strip().split()[0].lower() for part in order.split(",") if part]
    if tie_breaker.lower() in fields:
        return order
    return f"{order}, {tie_breaker}"


class SocrataSpider(OffsetPagedSpider):
    platform = "socrata"
    raw_finite = True  # see FeedSpider.raw_finite
    default_page_size = 1000

    def where(self) -> str | None:
        clauses = []
        if self.request_options.get("where"):
            clauses.append(f"({self.request_options['where']})")
        field = self.request_options.get("incremental_field")
        mark_utc = self.usable_high_water() if self.polls_incrementally() else None
        if field and mark_utc is not None:
            overlap = int(self.request_options.get("overlap_minutes", 60))
            # the stored mark is ISO UTC; the field is a floating (local) timestamp
            if mark_utc is not None:
                since = (mark_utc - timedelta(minutes=overlap)).astimezone(
                    zone(self.config.time_zone)
                )
                stamp = f"{since:%Y-%m-%dT%H:%M:%S}.{since.microsecond // 1000:03d}"
                clauses.append(f"{field} > '{stamp}'")
                if self.run is not None:  # part of the listing: absence means nothing
                    self.run.full_listing = False
        return " AND ".join(clauses) or None

    def page_url(self, base: str, offset: int) -> str:
        params = {
            "$limit": str(self.page_size()),
            "$offset": str(offset),
            "$order": unique_order(self.request_options.get("order"), ":id"),
            **(self.request_options.get("params") or {}),
        }
        where = self.where()
        if where:
            params["$where"] = where
        return add_or_replace_parameters(base, params)

    def more_pages(self, response: Response, page_records: int) -> bool:
        return page_records >= self.page_size()

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if "csv" in ctype:
            yield from csv_records(response, self.parse_options, self)
            return
        data = load_json(response, self)
        if isinstance(data, dict) and data.get("error"):
            self.expect(False, response, f"Socrata error {data.get('message')!r}")
        self.expect(isinstance(data, list), response, "expected a JSON array of rows")
        for row in data:
            if isinstance(row, dict):
                yield row
