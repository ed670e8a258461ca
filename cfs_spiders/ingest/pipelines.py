"""Item pipelines: validate each record, store it, and finish the run.

The store pipeline writes records in batches (one transaction each; a large run
through the writer process of ``store/writer.py``). When the spider closes it hands
what the run did to ``store.runs.finish_run``, which holds the rules (thresholds,
closures, validators, locks) and writes the run row; the run report file and log
line come from the ``extensions.RunReport`` extension. Calls missing from a live
listing are marked as gone only when the run read the whole listing without error:
a broken feed is never read as "all its calls closed".
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.log import logformatter_adapter

from ..config import vocab
from ..records.elements import FillCounter
from ..records.encoding import json_text_exact
from ..records.gcpause import paused_gc
from ..records.items import RecordBatch, record_validator
from ..store.connect import open_store
from ..store.runs import RunFacts, finish_run
from ..store.write import LISTING_BOARDS
from ..store.writer import StoreWriter

log = logging.getLogger(__name__)
_scraper_log = logging.getLogger("scrapy.core.scraper")  # where Scrapy logs drops

_ENUMS = {
    "address_granularity": set(vocab.ADDRESS_GRANULARITY),
    "coord_granularity": set(vocab.COORD_GRANULARITY),
    "call_type_category": set(vocab.CALL_TYPE_CATEGORIES),
    "category_basis": set(vocab.CATEGORY_BASIS),
    "status": set(vocab.STATUSES),
    "status_basis": set(vocab.STATUS_BASIS),
    "disposition_category": set(vocab.DISPOSITIONS),
    "call_source": set(vocab.CALL_SOURCES),
    "call_source_basis": set(vocab.CALL_SOURCE_BASIS),
}


class ValidatePipeline:
    """Every record against the closed vocabularies; the full JSON Schema when
    ``CFS_VALIDATE_FULL`` is set (tests run it on every captured record)."""

    def __init__(self, full: bool, crawler: Any = None) -> None:
        self.full = full
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ValidatePipeline:
        return cls(crawler.settings.getbool("CFS_VALIDATE_FULL"), crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, RecordBatch):
            self.check(item)
            return item
        kept = []
        for rec in item.records:
            try:
                self.check(rec)
            except DropItem as exc:
                self.dropped(rec, exc, spider)
            else:
                kept.append(rec)
        if len(kept) != len(item.records):
            item.records, item.encoded, item.exact = kept, None, None
            if not kept:  # each record was reported on its own
                raise DropItem(
                    "every record of the batch was dropped", log_level="DEBUG"
                )
        return item

    def dropped(self, record: dict[str, Any], exc: DropItem, spider: Any) -> None:
        """What Scrapy does with a dropped item, for one record of a batch: log
        it and send ``item_dropped`` (the spider counts it as a bad record)."""
        crawler = self.crawler
        if crawler is None:
            raise exc
        spider = spider or crawler.spider
        logkws = crawler.logformatter.dropped(record, exc, None, spider)
        if logkws is not None:
            _scraper_log.log(
                *logformatter_adapter(logkws), extra={"spider": spider, "item": record}
            )
        crawler.signals.send_catch_log(
            signal=signals.item_dropped,
            item=record,
            response=None,
            spider=spider,
            exception=exc,
        )

    def check(self, item: Any) -> None:
        """Raise ``DropItem`` unless the record fits the vocabularies (and the
        schema, in full mode)."""
        for field, allowed in _ENUMS.items():
            if item.get(field) not in allowed:
                raise DropItem(
                    f"record {item.get('record_key')!r} of {item.get('feed_id')}: "
                    f"{field}={item.get(field)!r} not in the vocabulary"
                )
        if self.full:
            errors = list(record_validator().iter_errors(dict(item)))
            if errors:
                raise DropItem(
                    f"record {item.get('record_key')!r} of {item.get('feed_id')}: "
                    + "; ".join(e.message for e in errors[:3])
                )


class StorePipeline:
    batch_size = 5000

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.buffer: list[dict[str, Any]] = []
        self.encoded: list[str] = []  # record_json of each buffered record
        self.exact: list[bool] = []  # each text reads back as its record
        self.fill = FillCounter()
        self.new_calls = 0
        self.new_observations = 0
        self.store = None
        self.started = time.monotonic()
        self.batch_size = crawler.settings.getint("CFS_STORE_BATCH", self.batch_size)
        # A large run writes through a second process (store/writer.py) once it
        # has seen this many records: "auto" (default), "on" (from the first
        # batch) or "off".
        self.writer_mode = str(crawler.settings.get("CFS_STORE_WRITER") or "auto")
        self.writer_after = crawler.settings.getint("CFS_STORE_WRITER_AFTER", 20000)
        self.writer: StoreWriter | None = None
        self.writer_failed = False
        self.seen = 0
        # a live listing's record keys (its complete listing of ids, if the run
        # reads the whole of it); ``None`` for other feeds
        self.listing_keys: set[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        self.store = open_store(self.settings.get("CFS_DATABASE_URL"))
        self.store.register_feeds([spider.config])
        if spider.config.board in LISTING_BOARDS:
            self.listing_keys = set()
        if getattr(spider, "incremental", False) and not spider.state:
            # Before the first request is made (Scrapy opens the pipelines before it
            # starts the spider's start()): validators and high-water mark of the
            # last successful run, so that a scrapyd job or a `cfs watch` poll
            # fetches only what changed.
            saved = self.store.feed_state(spider.config.feed_id)
            spider.state = {
                k: saved[k]
                for k in ("etag", "last_modified", "high_water")
                if saved.get(k)
            }

    def process_item(self, item: Any, spider: Any = None) -> Any:
        records = item.records if isinstance(item, RecordBatch) else [dict(item)]
        with paused_gc():  # rows of scalars, no cycles: see records/gcpause.py
            # encoded once: for the observation and the JSON Lines export
            texts = [json_text_exact(r) for r in records]
            encoded = [t for t, _ in texts]
            if isinstance(item, RecordBatch):
                item.encoded, item.exact = encoded, [ok for _, ok in texts]
            add = self.fill.add
            for record in records:
                add(record)
            if self.listing_keys is not None:
                self.listing_keys.update(r["record_key"] for r in records)
            self.seen += len(records)
            self.buffer.extend(records)
            self.encoded.extend(encoded)
            self.exact.extend(ok for _, ok in texts)
            while len(self.buffer) >= self.batch_size and self.store is not None:
                self._write(self.batch_size)
        return item

    def flush(self) -> None:
        """Write what is buffered and wait until every batch is stored."""
        if self.buffer and self.store is not None:
            self._write(len(self.buffer))
        if self.writer is not None:
            try:
                done = self.writer.drain()
            except BaseException:
                self._writer_failed()
                raise
            self._count(done)

    def _write(self, n: int) -> None:
        """Write the first ``n`` buffered records in one transaction (in this
        process, or handed to the writer process)."""
        assert self.store is not None
        records, encoded, exact = self.buffer[:n], self.encoded[:n], self.exact[:n]
        writer = self._writer()
        if writer is None:
            new_calls, new_obs = self.store.write_records(records, encoded)
            self._count([(new_calls, new_obs)])
        else:
            del self.buffer[:n], self.encoded[:n], self.exact[:n]
            try:
                done = writer.submit(records, encoded, exact)
            except Exception as exc:
                started = writer.ready
                self._writer_failed()
                if started:
                    raise
                # the child never came up (it could not import or open the
                # store): this process writes, as if it had never been tried
                log.warning(
                    "store writer process did not start (%s: %s): writing in process",
                    type(exc).__name__,
                    exc,
                )
                self._write(n)
                return
            except BaseException:
                self._writer_failed()
                raise
            self._count(done)
            return
        del self.buffer[:n]
        del self.encoded[:n]
        del self.exact[:n]

    def _count(self, done: list[tuple[int, int]]) -> None:
        for new_calls, new_obs in done:
            self.new_calls += new_calls
            self.new_observations += new_obs

    def _writer(self) -> StoreWriter | None:
        """The writer process, started once the run is large enough."""
        if self.writer is not None or self.writer_failed:
            return self.writer
        mode = self.writer_mode.lower()
        if mode == "off" or (mode != "on" and self.seen < self.writer_after):
            return None
        try:
            self.writer = StoreWriter(
                self.settings.get("CFS_DATABASE_URL"),
                max_pending_records=3 * self.batch_size,
            )
        except Exception as exc:  # noqa: BLE001 - write in this process instead
            log.warning(
                "store writer process not started (%s): writing in process", exc
            )
            self.writer_failed = True
        return self.writer

    def _writer_failed(self) -> None:
        """A write through the writer process failed: what it did not store comes
        back to the front of the buffer, and the rest of the run writes in this
        process (the next write retries, as an in-process failure would)."""
        writer, self.writer = self.writer, None
        self.writer_failed = True
        if writer is None:
            return
        back = writer.take_back()
        writer.close()
        self.buffer[:0] = [r for batch in back for r in batch[0]]
        self.encoded[:0] = [t for batch in back for t in batch[1]]
        self.exact[:0] = [ok for batch in back for ok in batch[2]]

    def close_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        run = spider.run
        report: dict[str, Any] = {}
        try:
            self.flush()
        except Exception as exc:  # the store refused: the run failed, say why
            run.errors.append(f"store write failed: {type(exc).__name__}: {exc}")
            run.complete = False
        finally:
            if self.writer is not None:  # every batch is stored (or failed) by now
                self.writer.close()
                self.writer = None
        try:
            report = self.finish_run(spider)
        finally:
            if self.store is not None:
                self.store.close()
        spider.report = report

    def finish_run(self, spider: Any) -> dict[str, Any]:
        """The run's report, decided by ``store.runs`` from what the spider saw."""
        facts = RunFacts(
            run=spider.run,
            cfg=spider.config,
            fill=self.fill.rates(),
            counts=dict(spider.builder.counts) if spider.builder else {},
            new_calls=self.new_calls,
            new_observations=self.new_observations,
            snapshot=getattr(spider, "snapshot", None),
            exclusions=spider.exclusions.summary()
            if getattr(spider, "exclusions", None)
            else [],
            incremental=getattr(spider, "incremental", False),
            absent_fields=spider.absent_fields()
            if hasattr(spider, "absent_fields")
            else [],
            downloader=self.downloader_stats(),
            state=spider.state,
            lock_owner=getattr(spider, "lock_owner", None),
            listing_keys=self.listing_keys,
        )
        return finish_run(self.store, facts)

    def downloader_stats(self) -> dict[str, Any]:
        """Every response and network error of the run, retried ones included."""
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        out: dict[str, Any] = {"responses": {}, "exceptions": {}, "retries": 0}
        for key, value in stats.items():
            if key.startswith("downloader/response_status_count/"):
                out["responses"][key.rsplit("/", 1)[1]] = value
            elif key.startswith("downloader/exception_type_count/"):
                out["exceptions"][key.rsplit("/", 1)[1].rsplit(".", 1)[-1]] = value
            elif key == "retry/count":
                out["retries"] = value
            elif key == "robotstxt/forbidden":
                out["robots_forbidden"] = value
        return out
