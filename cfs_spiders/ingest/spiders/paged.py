"""Offset paging, shared by the API platforms (Socrata ``$offset``, ArcGIS
``resultOffset``): a platform says how to build a page's URL and whether the
listing goes on after a page."""

from __future__ import annotations

from collections.abc import Iterable

from scrapy.http import Request, Response

from .base import FeedSpider


class OffsetPagedSpider(FeedSpider):
    default_page_size = 1000

    def page_size(self) -> int:
        return int(self.request_options.get("page_size", self.default_page_size))

    def page_url(self, base: str, offset: int) -> str:
        raise NotImplementedError

    def more_pages(self, response: Response, page_records: int) -> bool:
        raise NotImplementedError

    def first_requests(self) -> Iterable[Request]:
        base = self.config.urls[0]
        yield self.make_request(
            self.page_url(base, 0), meta={"offset": 0, "base": base}
        )

    def next_request(self, response: Response, page_records: int) -> Request | None:
        if not self.more_pages(response, page_records):
            return None
        offset = response.meta.get("offset", 0) + page_records
        base = response.meta.get("base", self.config.urls[0])
        return self.make_request(
            self.page_url(base, offset), meta={"offset": offset, "base": base}
        )
