"""Committed snapshots read in this process: the crawl's parts, without a crawl.

A Scrapy crawl per commit costs about 23 ms of engine, scheduler and reactor
start-up, more than reading a snapshot of a few dozen calls, and a reactor runs
once per process, so the crawl path needs child processes too. A committed file
is one response that is already here: nothing needs downloading. So each
snapshot is read here by the very parts a replay crawl runs, in the same order:

- the feed's platform spider (``spider_class(cfg, replay=True)``, as the replay
  crawl loads it), given the response the replay download handler would build
  (same headers: content type, ``X-Cfs-Captured-At`` = commit time), and its
  ``parse``: extract, record filters, schema-drift checks, the record builders;
- a page past the committed file (a listing that says it goes on) gets the
  replay handler's answer, "no recording answers", through the spider's errback;
- ``ValidatePipeline`` with the crawl's signals (a dropped record is counted by
  the spider as in a crawl);
- what ``StorePipeline`` does with a batch (one encoding, fill rates, the
  listing's keys, ``write_records`` in batches of ``CFS_STORE_BATCH``) and
  ``store.runs.finish_run`` for the run's rules and row.

So calls, versions, presence, listings and run statuses are those of the replay
crawl (``tests/test_import_git.py`` compares both on every imported capture).
What differs is the run row's report (``compact_report``): an imported snapshot
stores what its run found, not the process's facts, and no report file is
written per commit (the ``imports`` table ties each commit to its run row).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.http import Request
from scrapy.logformatter import LogFormatter
from scrapy.responsetypes import responsetypes
from scrapy.signalmanager import SignalManager
from twisted.python.failure import Failure

from ..config.loader import FeedConfig
from ..ingest.intake import take_records
from ..ingest.pipelines import (
    ValidatePipeline,
    downloader_stats,
    spider_run_facts,
)
from ..ingest.replay import ReplayError
from ..ingest.spiderloader import spider_class
from ..records.elements import FillCounter
from ..store.runs import finish_run
from ..store.write import LISTING_BOARDS

log = logging.getLogger(__name__)

# Report keys an imported snapshot's run row holds as columns already, or that
# describe the importing process rather than the snapshot (the writer, the
# downloader, the wall clock) or follow from ``counts``; the snapshot index is
# a position in one chunk, not a fact of the commit (``imports`` has that).
_NOT_STORED = frozenset(
    {
        "run_id",
        "feed_id",
        "mode",
        "status",
        "complete",
        "started_at",
        "finished_at",
        "fetched_at",
        "records",
        "new_calls",
        "new_observations",
        "disappeared_calls",
        "duration_s",
        "downloader",
        "store_writer",
        "crosswalk_versions",
        "unknown",
        "unmapped",
        "snapshot",
    }
)


def compact_report(report: dict[str, Any]) -> dict[str, Any]:
    """What the run row of an imported snapshot keeps as ``report_json``: the
    report less the row's own columns, process facts, what ``counts`` gives and
    empty values (every reader takes a missing key as empty: the fill-rate check
    reads ``fill_rates`` and ``reader``, ``cfs status`` ``errors`` and
    ``degraded_reasons``). About 300 bytes instead of 1,300 a commit."""
    out = {}
    for key, value in report.items():
        if key in _NOT_STORED or value in (None, False, 0, [], {}):
            continue
        if key == "key_churn" and not value.get("calls"):
            continue
        if key == "http_status" and value == {"200": report.get("pages")}:
            continue  # each page read was the commit's file
        out[key] = value
    fill = out.get("fill_rates")
    if fill and any(fill.values()):
        # the fill-rate check reads a missing element as 0.0 (a dict of zeros
        # only is kept whole: an empty one is no history)
        out["fill_rates"] = {k: v for k, v in fill.items() if v}
    out["imported"] = True  # a compact report: the full one is not stored
    return out


class _CompactRuns:
    """The store as ``finish_run`` sees it, keeping the run row's report compact."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def record_run(self, run: dict[str, Any]) -> None:
        report = json.loads(run["report_json"])
        text = json.dumps(compact_report(report), sort_keys=True)
        self._store.record_run({**run, "report_json": text})


class _Stats:
    """The crawler stats a spider and the run facts use (Scrapy's names)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get_stats(self) -> dict[str, Any]:
        return self.values

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count


class _Crawler:
    """What a feed spider and ``ValidatePipeline`` use of a Scrapy crawler:
    settings, signals, stats and the log formatter. No engine, no reactor."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.signals = SignalManager(self)
        self.stats = _Stats()
        self.logformatter = LogFormatter()
        self.spider: Any = None


class SnapshotReader:
    """Reads one feed's committed snapshots into ``store``, each as one run.

    ``settings`` are the crawl's (``schedule.orchestrator.build_settings``, with
    a replay folder that holds no manifest of the feed: a commit has no
    exclusions and is read with the config's replay reading, as in the crawl
    path's manifest)."""

    def __init__(self, cfg: FeedConfig, store: Any, settings: Any) -> None:
        self.cfg = cfg
        self.store = store
        self.runs = _CompactRuns(store)
        self.settings = settings
        self.cls = spider_class(cfg, replay=True)
        self.full = settings.getbool("CFS_VALIDATE_FULL")
        self.batch_size = max(1, settings.getint("CFS_STORE_BATCH", 5000))

    def read(
        self,
        *,
        run_id: str,
        captured_at: datetime,
        body: bytes,
        content_type: str,
        name: str,
    ) -> dict[str, Any]:
        """One snapshot as one run; returns the run's (full) report."""
        crawler = _Crawler(self.settings)
        spider = self.cls.from_crawler(crawler, snapshot=0, replay=True, run_id=run_id)
        crawler.spider = spider
        run = _Run(self, crawler, spider)
        headers = {
            "Content-Type": content_type,
            "X-Cfs-Captured-At": captured_at.astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            "X-Cfs-Replayed-From": name,
        }
        request = next(iter(spider.first_requests()), None)
        if request is not None:
            cls = responsetypes.from_args(
                headers=headers, url=request.url, body=body[:4096]
            )
            response = cls(
                url=request.url,
                status=200,
                headers=headers,
                body=body,
                request=request,
            )
            crawler.stats.inc_value("downloader/response_status_count/200")
            run.parse(response)
        return run.close()


class _Run:
    """One snapshot's run: the spider's output through validation to the store,
    as the crawl's scraper and pipelines take it."""

    def __init__(self, reader: SnapshotReader, crawler: _Crawler, spider: Any):
        self.reader = reader
        self.crawler = crawler
        self.spider = spider
        self.validate = ValidatePipeline(reader.full, crawler)
        self.fill = FillCounter()
        self.listing_keys: set[str] | None = (
            set() if spider.config.board in LISTING_BOARDS else None
        )
        self.buffer: list[dict[str, Any]] = []
        self.encoded: list[str] = []
        self.new_calls = 0
        self.new_observations = 0
        self.batches = 0

    def parse(self, response: Any) -> None:
        spider, signals_ = self.spider, self.crawler.signals
        try:
            for out in spider.parse(response):
                if isinstance(out, Request):
                    self._unanswered(out)
                else:
                    self._item(out, response)
        except Exception as exc:
            failure = Failure(exc)
            log.error("%s parsing %s: %s", type(exc).__name__, response.url, exc)
            signals_.send_catch_log(
                signal=signals.spider_error,
                failure=failure,
                response=response,
                spider=spider,
            )

    def _unanswered(self, request: Request) -> None:
        """A page past the committed file: the replay handler has no recording
        for it, and the spider's errback says so (the listing is incomplete)."""
        failure = Failure(ReplayError(f"no recording answers {request.url}"))
        failure.request = request  # as Scrapy hands a failure to an errback
        self.crawler.stats.inc_value(
            "downloader/exception_type_count/cfs_spiders.ingest.replay.ReplayError"
        )
        self.spider.on_error(failure)

    def _item(self, item: Any, response: Any) -> None:
        signals_ = self.crawler.signals
        try:
            item = self.validate.process_item(item, self.spider)
        except DropItem as exc:
            signals_.send_catch_log(
                signal=signals.item_dropped,
                item=item,
                response=response,
                spider=self.spider,
                exception=exc,
            )
            return
        keys = self.listing_keys
        records, encoded, _ = take_records(
            item, self.fill, keys.update if keys is not None else None
        )
        self.buffer.extend(records)
        self.encoded.extend(encoded)
        try:
            while len(self.buffer) >= self.reader.batch_size:
                self._write(self.reader.batch_size)
        except Exception as exc:
            signals_.send_catch_log(
                signal=signals.item_error,
                item=item,
                response=response,
                spider=self.spider,
                failure=Failure(exc),
            )

    def _write(self, n: int) -> None:
        records, encoded = self.buffer[:n], self.encoded[:n]
        new_calls, new_obs = self.reader.store.write_records(records, encoded)
        del self.buffer[:n], self.encoded[:n]
        self.new_calls += new_calls
        self.new_observations += new_obs
        self.batches += 1

    def close(self) -> dict[str, Any]:
        """Write what is buffered and finish the run (``finish_run``)."""
        spider, run = self.spider, self.spider.run
        try:
            while self.buffer:
                self._write(min(len(self.buffer), self.reader.batch_size))
        except Exception as exc:  # the store refused: the run failed, say why
            run.errors.append(f"store write failed: {type(exc).__name__}: {exc}")
            run.complete = False
        facts = spider_run_facts(
            spider,
            fill=self.fill,
            new_calls=self.new_calls,
            new_observations=self.new_observations,
            downloader=downloader_stats(self.crawler.stats.get_stats()),
            listing_keys=self.listing_keys,
            store_writer={
                "path": "import",
                "threads": [threading.current_thread().name],
                "batches": self.batches,
                "process": False,
            },
        )
        report = finish_run(self.reader.runs, facts)
        self.crawler.signals.send_catch_log(
            signal=signals.spider_closed, spider=spider, reason="finished"
        )
        return report
