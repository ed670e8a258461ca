"""Scrapy extensions: run-status reporting, and the learned fallback built
before the crawl needs it.

When a spider closes (after the item pipelines, so the run is recorded), its run
report is written to ``<output>/runs/<run_id>.json`` and said in one log line, as
city-scrapers-core reports a run's status from an extension rather than from the
pipelines.

When a spider opens, :class:`WarmFallback` builds the call-type fallback index
(:func:`..normalize.training.default_index`, about half a second of CPU) on a
worker thread: built lazily at the first unknown call type instead, it would
stall the reactor (and every other feed's downloads and timers) in the middle of
a page. An incremental poll that asks only for what changed since its stored
high-water mark does not: it mostly brings nothing new, and a cold process would
spend a third of its time on an index it never reads (the index is then built
at the first value that needs it).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
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


class WarmFallback:
    """Builds the learned fallback's index off the reactor when a spider opens.

    The build runs on a worker thread while the crawl goes on: the first request
    does not wait for it (an unchanged poll that meets no unknown value never
    needs it, and its process should not spend half a second waiting). A page
    that meets an unknown value before the build is done waits for the rest of
    it (``training.default_index`` lets one build run and the others wait).
    The index is one per process, so a second feed of the same process finds it
    built. ``built_on`` names the thread that built it (``None`` when it was
    already built); ``building`` is the build's future. A failure is logged and
    the crawl goes on: the fallback is a help, never a reason to stop
    (:func:`..normalize.call_type.similar_fallback` then retries).
    """

    def __init__(self) -> None:
        self.built_on: str | None = None
        self.building: Future | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarmFallback:
        ext = cls()
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        return ext

    def _build(self) -> int:
        from ..normalize import training

        started = time.monotonic()
        log.debug("learned fallback: building on %s", threading.current_thread().name)
        index = training.default_index()
        self.built_on = threading.current_thread().name
        log.info(
            "learned fallback ready: %d examples, built in %.2f s on %s",
            len(index),
            time.monotonic() - started,
            self.built_on,
        )
        return len(index)

    def _run(self, done: Future) -> None:
        try:
            done.set_result(self._build())
        except Exception as exc:  # noqa: BLE001
            log.exception("learned fallback could not be built; built on demand")
            done.set_exception(exc)

    def spider_opened(self, spider: Any = None) -> None:
        if self.building is not None:
            return
        asks = getattr(spider, "asks_only_for_changes", None)
        if asks is not None and asks():
            log.debug("learned fallback: not built (an incremental poll)")
            return
        from ..normalize import training  # numpy and the index's modules

        if training.default_index_built():
            return
        self.building = Future()
        threading.Thread(
            target=self._run, args=(self.building,), name="cfs-fallback", daemon=True
        ).start()
