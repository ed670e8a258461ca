"""Scrapy extensions: run-status reporting.

When a spider closes (after the item pipelines, so the run is recorded), its run
report is written to ``<output>/runs/<run_id>.json`` and said in one log line, as
city-scrapers-core reports a run's status from an extension rather than from the
pipelines.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals

from ..config.paths import output_dir
from ..exports.run_report import write_run_report
from ..store.runs import summary

log = logging.getLogger(__name__)


class RunReport:
    """Writes the report the store pipeline left on the spider (``spider.report``)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunReport:
        ext = cls(crawler.settings)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        report = getattr(spider, "report", None)
        if not report:  # the store pipeline could not finish the run (it said why)
            return
        write_run_report(report, output_dir(self.settings) / "runs")
        level = logging.INFO if report.get("status") == "ok" else logging.WARNING
        log.log(level, "%s", summary(report))
