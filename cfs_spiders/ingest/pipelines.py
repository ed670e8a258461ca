"""Item pipelines: validate each record, store it, and finish the run.

The store pipeline writes records in batches (one transaction each), through the
store's writer thread (``store/thread.py``), never on the crawl's own thread. When the spider closes it hands
what the run did to ``store.runs.finish_run``, which holds the rules (thresholds,
closures, validators, locks) and writes the run row; the run report file and log
line come from the ``extensions.RunReport`` extension. Calls missing from a live
listing are marked as gone only when the run read the whole listing without error:
a broken feed is never read as "all its calls closed".
"""

from __future__ import annotations

import asyncio
import logging
import operator
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.log import logformatter_adapter

from ..config import vocab
from ..records.colqueue import (
    Deferred,
    RecordQueue,
    RowPart,
    exact_of,
    records_of,
    texts_of,
)
from ..records.elements import FillCounter
from ..records.items import RecordBatch, record_validator
from ..store import process as store_process
from ..store import thread as store_thread
from ..store.connect import open_store
from ..store.process import StoreProcess
from ..store.runs import RunFacts, finish_run
from ..store.sqlite import Store
from ..store.thread import QUEUE_SIZE, StoreThread
from ..store.write import LISTING_BOARDS
from .intake import offsets, take_part
from .keyspool import KeySpool

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

_ENUM_FIELDS = operator.itemgetter(*_ENUMS)
_ENUM_SETS = tuple(_ENUMS.values())


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
        if not self.full:
            page = item.page  # by columns: the dicts are not made
            if (
                self._page_in_vocabulary(page)
                if page is not None
                else self._all_in_vocabulary(item.records)
            ):
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
            item.columns = None  # the columns hold the dropped records too
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

    @staticmethod
    def _all_in_vocabulary(records: list[dict[str, Any]]) -> bool:
        """Whether every record of a page passes ``check`` (without the full
        schema), from the page's distinct combinations of the vocabulary fields
        (a few dozen for thousands of records). False also when a record lacks
        a field or holds an unhashable value: ``check`` then decides record by
        record."""
        try:
            combinations = set(map(_ENUM_FIELDS, records))
        except (KeyError, TypeError):
            return False
        for values in combinations:
            for value, allowed in zip(values, _ENUM_SETS, strict=True):
                if value not in allowed:
                    return False
        return True

    @staticmethod
    def _page_in_vocabulary(page: Any) -> bool:
        """``_all_in_vocabulary`` of a page built by columns
        (``colpage.ColumnPage``), from each vocabulary column's distinct
        values."""
        try:
            return all(page.distinct(f) <= allowed for f, allowed in _ENUMS.items())
        except (KeyError, TypeError):
            return False

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


def _switched_on(settings: Any, name: str, default: str) -> bool:
    """Whether the setting ``name`` (``default`` when unset) is not one of the
    spellings of off: off, 0, false, no."""
    value = str(settings.get(name) or default).lower()
    return value not in ("off", "0", "false", "no")


class StorePipeline:
    """Hands each batch of records to the store, off the crawl's thread.

    Writes go to the process's writer thread of the store (``store/thread.py``:
    one per SQLite database, one per feed on PostgreSQL) through a bounded queue;
    this coroutine waits for its batch without blocking the reactor, so a slow
    write or a lock held by another process never stalls the downloads and timers
    of other feeds. ``CFS_STORE_WRITER=off`` writes on the crawl's thread instead
    (the reference the tests compare against). The run report says which path
    wrote (``store_writer``).
    """

    batch_size = 5000

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        # the buffered records: as dicts with their JSON texts, or as the
        # columns of their pages (records/colqueue.py)
        self.queue = RecordQueue()
        self.fill = FillCounter()
        self.new_calls = 0
        self.new_observations = 0
        self.store = None  # in-process writes only
        self.started = time.monotonic()
        self.batch_size = crawler.settings.getint("CFS_STORE_BATCH", self.batch_size)
        self.threaded = _switched_on(crawler.settings, "CFS_STORE_WRITER", "thread")
        self.writer: StoreThread | None = None
        self._slots: asyncio.Semaphore | None = None
        # batches sent to the store and not yet written: (future, the records
        # (or, sent to the writer process, only those its texts do not read
        # back), their JSON texts, exactness, text bytes)
        self._inflight: deque[tuple[asyncio.Future, Any, list, list, int]] = deque()
        self._inflight_bytes = 0
        # the record text in flight at once (at least one batch): what bounds the
        # memory of pages built ahead of the store, whatever the batch size
        self.inflight_bytes = int(
            float(crawler.settings.get("CFS_STORE_INFLIGHT_MB", 24)) * 1e6
        )
        self.sent = 0  # records sent to the store this run
        self.process: StoreProcess | None = None
        # by default a run that fills a batch writes from the process
        # (ingest/settings.py); a poll smaller than a batch stays on the thread
        after = crawler.settings.get("CFS_STORE_PROCESS_AFTER", self.batch_size - 1)
        self.process_after = (
            None
            if str(after).strip().lower() in ("off", "none", "-1", "")
            else int(after)
        )
        self.database_url = crawler.settings.get("CFS_DATABASE_URL")
        # the writer process takes a batch as Arrow columns (store/arrow_batch.py)
        # unless CFS_STORE_ARROW is off: then as JSON texts (the reference)
        self.arrow = _switched_on(crawler.settings, "CFS_STORE_ARROW", "on")
        self.arrow_batches = 0  # batches the writer process took as columns
        self.process_drivers: set[str] = set()  # the SQLite drivers it wrote with
        self._tail: asyncio.Future | None = None  # the last item's completion
        # which thread wrote each batch, for the run report
        self.written_by: set[str] = set()
        self.batches = 0
        # a live listing's record keys (its complete listing of ids, if the run
        # reads the whole of it), on disk; ``None`` for other feeds
        self.listing_keys: KeySpool | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    # ------------------------------------------------------------ the store
    async def _run(self, job: Callable[[Store], Any]) -> Any:
        """``job(store)`` on the writer thread (or here, when writes are in
        process); at most ``QUEUE_SIZE`` of this run's jobs wait at once."""
        if self.writer is None:
            assert self.store is not None
            return job(self.store)
        if self._slots is None:
            self._slots = asyncio.Semaphore(QUEUE_SIZE)
        async with self._slots:
            return await asyncio.wrap_future(self.writer.submit(job))

    async def open_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        url = self.database_url
        cfg = spider.config
        if self.threaded:
            self.writer = store_thread.acquire(url, cfg.feed_id)
        else:
            self.store = open_store(url)
        if cfg.board in LISTING_BOARDS:
            self.listing_keys = KeySpool()
        wants_state = getattr(spider, "incremental", False) and not spider.state

        def opening(store: Store) -> dict[str, Any]:
            store.register_feeds([cfg])
            if not wants_state:
                return {}
            return {
                **store.feed_state(cfg.feed_id),
                "_last": store.last_listing(cfg.feed_id),
            }

        try:
            saved = await self._run(opening)
        except BaseException:
            self._release()
            raise
        if wants_state:
            # Before the first request is made (Scrapy opens the pipelines before it
            # starts the spider's start()): validators and high-water mark of the
            # last successful run, so that a scrapyd job or a `cfs watch` poll
            # fetches only what changed.
            spider.state = {
                k: saved[k]
                for k in ("etag", "last_modified", "high_water")
                if saved.get(k)
            }
            last = saved.get("_last")
            if last:
                spider.state["last_listing"] = last

    # the buffered records, texts and exactness, made from the queue (tests)
    @property
    def buffer(self) -> list[dict[str, Any]]:
        return records_of(self.queue)

    @property
    def encoded(self) -> list[str]:
        return texts_of(self.queue)

    @property
    def exact(self) -> list[bool]:
        return exact_of(self.queue)

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        spool = self.listing_keys
        part = take_part(item, self.fill, spool.add if spool is not None else None)
        if isinstance(item, RecordBatch) and isinstance(part, RowPart):
            item.encoded, item.exact = part.texts, part.exact
        self.queue.add(part)
        # items finish in the order they came (the JSON Lines export writes them
        # as they finish), even when a later one waited less for the store
        previous, self._tail = self._tail, asyncio.get_running_loop().create_future()
        done = self._tail
        try:
            while len(self.queue) >= self.batch_size:
                await self._write(self.batch_size)
            if previous is not None:
                await previous
        finally:
            done.set_result(None)
        return item

    async def _write(self, n: int) -> None:
        """Send the first ``n`` buffered records to the store, one transaction.

        With the writer thread the batch is queued and this returns at once: the
        crawl builds the next page while the store writes this one (at most
        ``QUEUE_SIZE`` batches of the run in flight; beyond that it waits for the
        oldest, without blocking the reactor). A batch the store refuses comes
        back to the buffer's front, with any refused after it, in order, for the
        next write to retry, and its error is raised here or at the next write
        or flush."""
        parts = self.queue.take(n)

        def writing(store: Store) -> tuple[int, int, str]:
            new_calls, new_obs = store.write_records(records_of(parts), texts_of(parts))
            return new_calls, new_obs, threading.current_thread().name

        if self.writer is None:
            assert self.store is not None
            try:
                self._account(writing(self.store))
            except BaseException:
                self.queue.put_back(parts)
                raise
            return
        size = sum(p.text_bytes() for p in parts)
        while self._inflight and (
            len(self._inflight) >= QUEUE_SIZE
            or self._inflight_bytes + size > self.inflight_bytes
        ):
            await self._settle(1)
        count = sum(p.n for p in parts)
        self.sent += count
        if self.process is None and self._wants_process():
            # the thread's batches first: the run's batches land in the order sent
            await self._settle()
            self.process = store_process.acquire(self.database_url)
        exact = exact_of(parts)
        if self.process is not None:
            columns = [p.columns for p in parts]
            if not self.arrow or any(c is None for c in columns):
                columns = None
            # the record dicts and texts are made only if the batch goes as
            # JSON texts (a page's as Arrow needs neither: colqueue.Deferred)
            future = asyncio.wrap_future(
                self.process.submit(
                    Deferred(count, lambda: records_of(parts)),
                    Deferred(count, lambda: texts_of(parts)),
                    exact,
                    columns=columns,
                )
            )
            # the texts are kept, the records let go (a refused batch is read
            # back from its texts, see ``_restore``), but those whose text
            # would not read back the same
            kept: Any = {}
            for part, at in offsets(parts):
                if not all(part.exact):
                    pairs = zip(part.records, part.exact, strict=True)
                    kept.update((i, r) for i, (r, ok) in enumerate(pairs, at) if not ok)
            encoded: Any = [p.texts for p in parts]
        else:
            while self.writer.jobs.full():  # other feeds' runs fill the queue
                await asyncio.sleep(0.005)
            future = asyncio.wrap_future(self.writer.submit(writing))
            kept, encoded = parts, None
        self._inflight.append((future, kept, encoded, exact, size))
        self._inflight_bytes += size

    def _wants_process(self) -> bool:
        """A large run on SQLite writes its batches from a process of its own
        (``store/process.py``), once it has sent ``CFS_STORE_PROCESS_AFTER``
        records; PostgreSQL writes each feed in parallel already."""
        after = self.process_after
        return (
            after is not None
            and self.sent > after
            and store_process.process_key(self.database_url) is not None
        )

    def _account(self, result: tuple[Any, ...]) -> None:
        # (new calls, new versions, writer[, "arrow" or "json" and the driver,
        # from the process])
        new_calls, new_obs, thread, *how = result
        if how and how[0] == "arrow":
            self.arrow_batches += 1
        if len(how) > 1:
            self.process_drivers.add(how[1])
        self.new_calls += new_calls
        self.new_observations += new_obs
        self.written_by.add(thread)
        self.batches += 1

    @staticmethod
    def _restore(kept: Any, encoded: Any, exact: list[bool]) -> list[Any]:
        """A batch's parts again: as kept (the thread's), or read back from
        their texts (the writer process's; ``kept`` holds the records whose
        texts would not read back the same)."""
        if encoded is None:
            return kept
        texts = [t for chunk in encoded for t in chunk]
        records = [
            kept[i] if i in kept else orjson.loads(t) for i, t in enumerate(texts)
        ]
        return [RowPart(records, texts, exact)]

    async def _settle(self, n: int | None = None) -> None:
        """Wait for the oldest ``n`` batches in flight (all when ``None``)."""
        failed: list[Any] = []
        error: BaseException | None = None
        count = len(self._inflight) if n is None else n
        while self._inflight and (count > 0 or failed):
            future, kept, encoded, exact, size = self._inflight.popleft()
            count -= 1
            try:
                result = await future
            except BaseException as exc:  # every later batch settles too
                failed += self._restore(kept, encoded, exact)
                error = error or exc
            else:
                self._account(result)
            finally:
                self._inflight_bytes -= size
        if error is not None:
            self.queue.put_back(failed)
            raise error

    async def flush(self) -> None:
        """Write what is buffered, and wait until the store has it."""
        await self._settle()
        while self.queue:
            await self._write(min(len(self.queue), self.batch_size))
        await self._settle()

    def _release(self) -> None:
        if self.listing_keys is not None:
            self.listing_keys.close()
        if self.process is not None:
            proc, self.process = self.process, None
            store_process.release(proc)
        if self.writer is not None:
            writer, self.writer = self.writer, None
            store_thread.release(writer)
        if self.store is not None:
            self.store.close()
            self.store = None

    async def close_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        run = spider.run
        report: dict[str, Any] = {}
        try:
            try:
                await self.flush()
            except Exception as exc:  # the store refused: the run failed, say why
                run.errors.append(f"store write failed: {type(exc).__name__}: {exc}")
                run.complete = False
            facts = self.run_facts(spider)
            report = await self._run(lambda store: finish_run(store, facts))
        finally:
            self._release()
        spider.report = report

    def writer_report(self) -> dict[str, Any]:
        """Which path wrote the run's batches: the writer thread, or the crawl's
        own thread (``CFS_STORE_WRITER=off``)."""
        return {
            "path": "thread" if self.threaded else "in_process",
            "threads": sorted(self.written_by),
            "batches": self.batches,
            # a large SQLite run's batches: from the store's writer process
            "process": any(t == StoreProcess.name for t in self.written_by),
            # of those, the batches it took as Arrow columns (not JSON texts)
            "arrow_batches": self.arrow_batches,
            # and the SQLite driver it wrote them through ("adbc": the Arrow
            # columns bound in C, store/adbc_store.py; else "sqlite3")
            "process_drivers": sorted(self.process_drivers),
        }

    def run_facts(self, spider: Any) -> RunFacts:
        """What the run did, for ``store.runs.finish_run`` to decide its report."""
        return spider_run_facts(
            spider,
            fill=self.fill,
            new_calls=self.new_calls,
            new_observations=self.new_observations,
            downloader=self.downloader_stats(),
            listing_keys=self.listing_keys,
            store_writer=self.writer_report(),
        )

    def downloader_stats(self) -> dict[str, Any]:
        """Every response and network error of the run, retried ones included."""
        return downloader_stats(
            self.crawler.stats.get_stats() if self.crawler.stats else {}
        )


def downloader_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """Every response and network error of a run (Scrapy's stats), retried
    ones included."""
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


def spider_run_facts(
    spider: Any,
    *,
    fill: FillCounter,
    new_calls: int,
    new_observations: int,
    downloader: dict[str, Any],
    listing_keys: Any,
    store_writer: dict[str, Any],
) -> RunFacts:
    """A run's facts from its spider and what the store took, for
    ``store.runs.finish_run``: the crawl's and ``cfs import-git``'s."""
    return RunFacts(
        run=spider.run,
        cfg=spider.config,
        fill=fill.rates(),
        counts=dict(spider.builder.counts) if spider.builder else {},
        new_calls=new_calls,
        new_observations=new_observations,
        snapshot=getattr(spider, "snapshot", None),
        exclusions=spider.exclusions.summary()
        if getattr(spider, "exclusions", None)
        else [],
        reader=getattr(spider, "reader", None),
        incremental=getattr(spider, "incremental", False),
        absent_fields=spider.absent_fields()
        if hasattr(spider, "absent_fields")
        else [],
        downloader=downloader,
        state=spider.state,
        lock_owner=getattr(spider, "lock_owner", None),
        listing_keys=listing_keys,
        store_writer=store_writer,
    )
