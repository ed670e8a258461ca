"""HTML tables: rows by XPath, cells by position (match-one style: a page whose
rows no longer have the expected cells fails loudly instead of yielding blanks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response
from scrapy.selector import Selector

from ..parsers import cell_text
from .base import FeedSpider


class HtmlTableSpider(FeedSpider):
    platform = "html_table"

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        opts = self.parse_options
        columns: list[str | None] = opts.get("columns") or []
        min_cells = int(opts.get("min_cells", len(columns) or 1))
        class_field = opts.get("cell_class_field")
        selector = Selector(
            text=response.body.decode(
                response.encoding if hasattr(response, "encoding") else "utf-8",
                "replace",
            )
        )
        rows = selector.xpath(opts.get("row_xpath", "//table//tr"))
        matched = 0
        for row in rows:
            cells = row.xpath("./td")
            if len(cells) < min_cells:
                continue
            matched += 1
            record: dict[str, Any] = {}
            for name, cell in zip(columns, cells, strict=False):
                if name:
                    record[name] = cell_text(cell)
            if class_field:
                record[class_field] = cells[0].attrib.get("class")
            yield record
        if rows and not matched:
            self.expect(
                False, response, f"no row has {min_cells} cells: layout changed"
            )
