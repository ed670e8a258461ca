"""HTML pages: calls in tables (by position, match-one style: a page whose rows no
longer have the expected cells fails loudly instead of yielding blanks) and in
JavaScript literals of the page's scripts. What a page spec can say is in
``html_parse.py`` and the config schema (``parse.tables``, ``parse.scripts``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response, TextResponse
from scrapy.selector import Selector

from ..html_parse import LayoutError, page_rows
from .base import FeedSpider


class HtmlTableSpider(FeedSpider):
    platform = "html_table"
    excludes_in_extract = True

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        if isinstance(response, TextResponse):
            text = response.text
        else:
            text = response.body.decode("utf-8", "replace")
        counts: dict[str, int] = {}
        try:
            rows = page_rows(
                Selector(text=text),
                self.parse_options,
                exclude=lambda rows, source, records: self.exclude(
                    rows, source, records
                ),
                counts=counts,
            )
        except LayoutError as exc:
            self.expect(False, response, str(exc))
            return
        if self.builder is not None:
            for key, n in counts.items():
                self.builder.counts[f"join:{key}"] += n
        yield from rows
