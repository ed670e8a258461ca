"""The feed spider: what every platform shares.

A platform spider only says how to ask for pages (``first_requests``,
``next_request``) and how to find raw records in a response (``extract``). The base
turns raw records into common records (``record.RecordBuilder``), merges unit rows,
keeps the run's state (pages, records, errors, whether the listing was read to the
end) and never lets one bad record stop the rest.
"""

from __future__ import annotations

import logging
import re
import types
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals
from scrapy.http import Request, Response

from ...config.loader import FeedConfig
from ...normalize.time import parse_iso
from ...records.builder import RecordBuilder
from ...records.gcpause import paused_gc, release_frozen
from ...records.items import RecordBatch
from ...records.mapping import get_path, spec_paths
from ..exclusions import ExclusionFilter
from ..record_filters import headers_from_env, missing_env, select_records
from .high_water import HighWaterMixin
from .pages import PageBuildMixin

if TYPE_CHECKING:
    from ...records.columnar import ColumnarBuilder

log = logging.getLogger(__name__)

CAPTURED_AT_HEADER = b"X-Cfs-Captured-At"
LISTING_HEADER = b"X-Cfs-Listing"
# What a download error means, for the run report (Scrapy's message may be empty).
NETWORK_ERRORS = {
    "DownloadTimeoutError": "no complete answer within DOWNLOAD_TIMEOUT",
    "TimeoutError": "no complete answer within DOWNLOAD_TIMEOUT",
    "DownloadCancelledError": "response larger than DOWNLOAD_MAXSIZE: not read",
    "ResponseDataLossError": "response cut short (fewer bytes than announced)",
    "DownloadFailedError": "connection reset or lost",
    "ResponseFailed": "connection reset or lost",
    "ResponseNeverReceived": "connection reset before any answer",
    "ConnectionLost": "connection reset or lost",
    "DownloadConnectionRefusedError": "connection refused",
    "ConnectionRefusedError": "connection refused",
    "CannotResolveHostError": "host name not found",
    "DNSLookupError": "host name not found",
}
# Run ids name files (output/runs/<run_id>.json): no separators, no "..".
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}$")


def validate_run_id(run_id: str) -> str:
    if (
        not isinstance(run_id, str)
        or not RUN_ID_RE.fullmatch(run_id)
        or (".." in run_id)
    ):
        raise ValueError(f"invalid run id {run_id!r}: it would not stay a file name")
    return run_id


class FeedFormatError(ValueError):
    """A response that is not what the feed serves (an error page, a changed schema)."""


@dataclass
class RunState:
    """What one run of one feed did; the store pipeline writes it as the run row."""

    run_id: str
    feed_id: str
    mode: str
    started_at: datetime
    fetched_at: datetime | None = None
    pages: int = 0
    raw_records: int = 0
    records: int = 0
    bad_records: int = 0
    complete: bool = False
    errors: list[str] = field(default_factory=list)
    http_status: dict[str, int] = field(default_factory=dict)
    not_modified: bool = False
    # False when a response says it is not a whole listing (a re-exported capture)
    # or the request asked for part of it (an incremental fetch)
    full_listing: bool = True
    # raw field names seen in any record of the run (for schema-drift reports)
    seen_fields: set[str] = field(default_factory=set)
    # replay only: rows the capture's manifest flags as not feed data, skipped
    excluded: int = 0
    # rows whose incremental time lies after the fetch time (plus slack): flagged
    # in the run report, never used as the high-water mark
    future_rows: int = 0
    future_examples: list[str] = field(default_factory=list)


class FeedSpider(HighWaterMixin, PageBuildMixin, scrapy.Spider):
    """Base of the platform spiders; one subclass per platform, none per city."""

    platform = "none"
    # True where extract() applies the replay exclusions per page source itself
    # (html_table: before a table row and its map marker are joined).
    excludes_in_extract = False
    # True where every float of the raw records extract() yields is finite: they
    # hold values orjson parsed (it reads no NaN, no infinity) or text only. A
    # parser that reads a page by ``json`` instead (which reads both) clears
    # ``page_raw_finite`` for that page (``parsers.load_json``). The page's JSON
    # texts then need no walk over every value (``items.RecordBatch.finite``).
    raw_finite = False
    page_raw_finite = False
    columnar_min_rows = 200  # CFS_COLUMNAR_MIN_ROWS (set when the crawl opens)
    feed_config: FeedConfig  # set on the class by the spider loader
    custom_settings: dict[str, Any] = {}
    # platform -> its spider class (each registers itself): a snapshot read in the
    # live format borrows that platform's ``extract``
    by_platform: dict[str, type[FeedSpider]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.platform != "none" and "platform" in cls.__dict__:
            FeedSpider.by_platform[cls.platform] = cls

    def __init__(
        self,
        *args: Any,
        run_id: str | None = None,
        snapshot: str | int | None = None,
        replay: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.config = self.feed_config
        self.replay = replay if isinstance(replay, bool) else None
        self.snapshot = int(snapshot) if snapshot not in (None, "") else 0
        self.run_id = validate_run_id(
            run_id
            or f"{self.name}-{datetime.now(UTC):%Y%m%dT%H%M%S}-" + uuid.uuid4().hex[:6]
        )
        self.run: RunState | None = None
        self.builder: RecordBuilder | None = None
        # The page path (records/columnar.py) where the feed's mapping compiles;
        # None: every record is built by the row builder (the reference).
        self.columnar: ColumnarBuilder | None = None
        # (replay, CFS_RECORD_PATH) until the page path is set up (``setup``)
        self._columnar_pending: tuple[bool, str | None] | None = None
        self.parse_options: dict[str, Any] = {}
        self.request_options: dict[str, Any] = dict(self.config.get("request") or {})
        self.state: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> FeedSpider:
        if "replay" not in kwargs or kwargs["replay"] is None:
            kwargs["replay"] = bool(crawler.settings.get("CFS_REPLAY_DIR"))
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup(crawler)
        crawler.signals.connect(spider._on_spider_error, signal=signals.spider_error)
        crawler.signals.connect(spider._on_item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(spider._on_item_error, signal=signals.item_error)
        return spider

    def setup(self, crawler: Any) -> None:
        replay = bool(self.replay)
        if replay and self._snapshot_in_live_format(crawler):
            replay = self._read_as_live()
        source = self.config.source(replay)
        # Which reading of the feed this run is (fill rates are compared only
        # between runs read the same way: a re-export lacks columns by design).
        self.reader = "replay" if replay and self.config.get("replay") else "live"
        self.parse_options = source["parse"]
        self.builder = RecordBuilder(self.config, replay=replay)
        self.columnar = None
        self.columnar_min_rows = crawler.settings.getint("CFS_COLUMNAR_MIN_ROWS", 200)
        # The page path is set up at the first page it would build (polars and
        # the compiled mapping cost a cold process about 0.3 s): a poll of a few
        # rows is built by rows and never needs it.
        self._columnar_pending = (
            replay,
            crawler.settings.get("CFS_RECORD_PATH"),
        )
        self.run = RunState(
            run_id=self.run_id,
            feed_id=self.name,
            # a recording read with the live mapping is still a replay run
            mode="replay" if self.replay else "live",
            started_at=datetime.now(UTC),
        )
        self.state = crawler.settings.getdict("CFS_FEED_STATE").get(self.name, {})
        self.incremental = (
            bool(crawler.settings.getbool("CFS_INCREMENTAL")) and not self.replay
        )
        self.batch_records = max(1, crawler.settings.getint("CFS_STORE_BATCH", 5000))
        self.high_water: datetime | None = None
        self._incremental_now: bool | None = None
        self.exclusions = self._replay_exclusions(crawler) if replay else None

    def _replay_exclusions(self, crawler: Any) -> ExclusionFilter | None:
        """The rows this snapshot's manifest flags (synthetic or edited rows)."""
        from ..replay import DEFAULT_REPLAY_DIR, ReplayError, load_snapshots

        folder = str(crawler.settings.get("CFS_REPLAY_DIR") or DEFAULT_REPLAY_DIR)
        try:
            snapshots = load_snapshots(folder, self.name)
        except (ReplayError, OSError, ValueError):
            return None  # the download handler reports a broken manifest
        if not 0 <= self.snapshot < len(snapshots):
            return None
        exclude = snapshots[self.snapshot].exclude
        if not exclude:
            return None
        assert self.builder is not None
        return ExclusionFilter(exclude, self.builder.getters.get("call_id"))

    def exclude(
        self, rows: list[Any], source: str | None = None, records: bool = True
    ) -> list[Any]:
        """``rows`` less those the replayed snapshot's manifest excludes."""
        if self.exclusions is None:
            return rows
        kept = self.exclusions.apply(rows, source, records)
        assert self.run is not None
        self.run.excluded += len(rows) - len(kept)
        return kept

    def _snapshot_in_live_format(self, crawler: Any) -> bool:
        """Whether the replayed snapshot is marked ``read_as: live`` (a feed whose
        captures are partly in the live format, partly re-exports)."""
        from ..replay import load_snapshots

        replay_dir = crawler.settings.get("CFS_REPLAY_DIR")
        if not replay_dir:
            return False
        snapshots = load_snapshots(str(replay_dir), self.name)
        if not 0 <= self.snapshot < len(snapshots):
            return False
        return snapshots[self.snapshot].read_as == "live"

    def _read_as_live(self) -> bool:
        """Read this run with the live platform and mapping; returns the ``replay``
        flag for ``config.source`` (False)."""
        platform = self.config.platform
        if platform != self.platform:
            reader = FeedSpider.by_platform[platform]
            self.extract = types.MethodType(reader.extract, self)
            self.raw_finite = reader.raw_finite
        return False

    def select_records(self, raw_records: list[Any]) -> list[Any]:
        """The config's record filters (``record_filters.py``), counted."""
        counts = self.builder.counts if self.builder is not None else None
        return select_records(raw_records, self.parse_options, counts)

    # ----------------------------------------------------------- requests
    async def start(self) -> AsyncIterator[Request]:
        missing = self._missing_env()
        if missing:  # the feed would refuse the request: say why, send nothing
            assert self.run is not None
            self.run.errors.extend(missing)
            return
        for request in self.first_requests():
            yield request

    def first_requests(self) -> Iterable[Request]:
        for url in self.config.urls[:1]:
            yield self.make_request(url)

    def make_request(self, url: str, **kwargs: Any) -> Request:
        headers = dict(self.request_options.get("headers") or {})
        if not self.replay:
            headers.update(headers_from_env(self.request_options))
            if self.state.get("etag"):
                headers.setdefault("If-None-Match", self.state["etag"])
            if self.state.get("last_modified"):
                headers.setdefault("If-Modified-Since", self.state["last_modified"])
        meta = kwargs.pop("meta", {})
        meta.setdefault("page", 0)
        meta["handle_httpstatus_list"] = [304]
        return Request(
            url,
            headers=headers,
            callback=self.parse,
            errback=self.on_error,
            meta=meta,
            dont_filter=True,
            **kwargs,
        )

    def _missing_env(self) -> list[str]:
        return [] if self.replay else missing_env(self.request_options)

    def next_request(self, response: Response, page_records: int) -> Request | None:
        """The next page, or None when the listing has been read to the end."""
        return None

    # ------------------------------------------------------------ parsing
    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def fetched_at(self, response: Response) -> datetime:
        """When the listing was read. A replayed capture says when it was taken
        (``X-Cfs-Captured-At``, set by ``ingest/replay.py``); a live response never
        does: a remote server sending that header must not rewrite history."""
        stamp = response.headers.get(CAPTURED_AT_HEADER) if self.replay else None
        if stamp:
            return parse_iso(stamp.decode("ascii"))
        return datetime.now(UTC)

    def says_partial(self, response: Response) -> bool:
        """A replayed capture that is only part of a listing (``X-Cfs-Listing``);
        honoured in replay only, like the capture time."""
        return bool(self.replay) and response.headers.get(LISTING_HEADER) == b"partial"

    def parse(self, response: Response) -> Iterator[Any]:
        assert self.run is not None and self.builder is not None
        run = self.run
        run.pages += 1
        run.http_status[str(response.status)] = (
            run.http_status.get(str(response.status), 0) + 1
        )
        fetched = self.fetched_at(response)
        if run.fetched_at is None:
            run.fetched_at = fetched
        if self.says_partial(response):
            run.full_listing = False
        if response.status == 304:
            run.not_modified = True
            run.complete = True
            return
        if response.meta.get("page", 0) == 0:
            self.remember_validators(response)
        with paused_gc():  # a page of dicts, no cycles: see records/gcpause.py
            self.page_raw_finite = self.raw_finite
            raw_records = list(self.extract(response))
            if not self.excludes_in_extract:
                raw_records = self.exclude(raw_records)
            raw_records = self.select_records(raw_records)
            self.check_schema(response, raw_records)
            run.raw_records += len(raw_records)
            if not self.replay:
                self.track_high_water(raw_records)
        n_raw = len(raw_records)
        # The page goes on in batches (one Scrapy item each), built as the store
        # takes them (CONCURRENT_ITEMS): a 50,000-row page is never all built at
        # once. Rows merged into calls (rows_per) need the whole page first.
        merge = self.config.get("rows_per", "call") != "call"
        step = max(n_raw, 1) if merge else self.batch_records
        for start in range(0, n_raw, step):
            with paused_gc():
                built, finite = self.build_records(
                    raw_records, start, start + step, response
                )
                # merged rows are other records than the columns' rows
                columns = None if merge else self.page_columns
                page = None
                if not isinstance(built, list):  # a colpage.ColumnPage
                    page = None if merge else built
                    built = built.records() if merge else None
                if merge:
                    built = self._merge(built)
            count = len(page) if page is not None else len(built)
            run.records += count
            if count:  # one item a batch: Scrapy's per-item cost paid once
                yield RecordBatch(
                    built,
                    finite=finite and self.page_raw_finite,
                    columns=columns,
                    page=page,
                )
            del built, page
        del raw_records
        nxt = self.next_request(response, n_raw)
        if nxt is not None:
            nxt.meta["page"] = response.meta.get("page", 0) + 1
            # Validators are the first page's: a later page answering 304 would
            # be read as the whole listing unchanged.
            for header in ("If-None-Match", "If-Modified-Since"):
                nxt.headers.pop(header, None)
            max_pages = self.request_options.get("max_pages")
            if max_pages and nxt.meta["page"] >= max_pages:
                run.errors.append(
                    f"stopped at max_pages={max_pages}: listing incomplete"
                )
                return
            yield nxt
        else:
            for ex in self.exclusions.unmatched() if self.exclusions else ():
                run.errors.append(
                    f"replay exclusion ({ex.describe()}: {ex.reason}) matched no "
                    "row: the manifest no longer fits its capture"
                )
            run.complete = not run.errors

    def closed(self, reason: str) -> None:
        """The run's end: the objects its pages froze go back to the collector
        (``records/gcpause.py``)."""
        release_frozen()

    def remember_validators(self, response: Response) -> None:
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        if etag:
            self.state["etag_new"] = etag.decode("latin-1")
        if modified:
            self.state["last_modified_new"] = modified.decode("latin-1")

    def check_schema(
        self, response: Response, raw_records: list[dict[str, Any]]
    ) -> None:
        """Fail on schema drift that would corrupt the store: when no record carries
        the field the call id (or the content key) is read from, every call would
        get a new key, and the calls stored before would look gone."""
        if not raw_records or self.builder is None:
            return
        assert self.run is not None
        # the page's distinct keys first (a C loop), then the text ones among them
        try:
            keys = set().union(*raw_records)
        except TypeError:  # a row that is not a mapping (the builder reports it)
            keys = {k for rec in raw_records for k in rec if isinstance(k, str)}
        self.run.seen_fields.update(k for k in keys if isinstance(k, str))
        now = sorted(self.run.seen_fields)[:15]
        id_paths = [
            p
            for p in spec_paths(self.builder.record_spec.get("call_id"))
            if p not in self.builder.unpacked
        ]
        if id_paths and not any(
            get_path(rec, p) not in (None, "") for rec in raw_records for p in id_paths
        ):
            self.expect(
                False,
                response,
                f"schema drift: no record has the call id "
                f"field {id_paths} (fields now: {now})",
            )
        if "call_id" not in self.builder.record_spec:
            missing = [
                f
                for f in self.builder.key_raw_fields()
                if not any(get_path(rec, f) is not None for rec in raw_records)
            ]
            if missing:
                self.expect(
                    False,
                    response,
                    f"schema drift: record_key field(s) "
                    f"{missing} absent from every record (fields now: {now})",
                )

    def absent_fields(self) -> list[str]:
        """Mapped raw fields that no record of the run carried (renamed columns)."""
        if self.builder is None or self.run is None or not self.run.seen_fields:
            return []
        seen = self.run.seen_fields | self.builder.unpacked
        absent = set()
        for name, spec in self.builder.record_spec.items():
            specs = (
                spec.values() if name == "area" and isinstance(spec, dict) else [spec]
            )
            for one in specs:
                for path in spec_paths(one):
                    if path not in seen and path.split(".")[0] not in seen:
                        absent.add(path)
        return sorted(absent)

    # ------------------------------------------------------------- errors
    def on_error(self, failure: Any) -> None:
        assert self.run is not None
        request = getattr(failure, "request", None)
        response = getattr(getattr(failure, "value", None), "response", None)
        where = request.url if request is not None else "?"
        note = request.meta.get("cfs_retry_note") if request is not None else None
        if response is not None:
            self.run.http_status[str(response.status)] = (
                self.run.http_status.get(str(response.status), 0) + 1
            )
            message = f"HTTP {response.status} for {where}"
        else:
            name = failure.type.__name__
            detail = failure.getErrorMessage().strip()
            why = NETWORK_ERRORS.get(name)
            message = f"{name} for {where}: " + "; ".join(
                p for p in (why, detail[:300]) if p
            )
        self.run.errors.append(f"{message} ({note})" if note else message)
        self.run.complete = False

    def _on_item_dropped(
        self, item: Any, response: Any, exception: Exception, spider: Any
    ) -> None:
        # A dropped record is not stored, so its call would look gone: the run is
        # not a complete read of the listing.
        if spider is not self or self.run is None or isinstance(item, RecordBatch):
            return  # (a batch is dropped only when each record was, and counted)
        self.run.bad_records += 1
        self.run.errors.append(f"record dropped: {exception}")
        self.run.complete = False

    def _on_item_error(
        self, item: Any, response: Any, spider: Any, failure: Any
    ) -> None:
        if spider is not self or self.run is None:
            return
        self.run.errors.append(
            f"record not stored: {failure.type.__name__}: {failure.getErrorMessage()}"
        )
        self.run.complete = False

    def _on_spider_error(self, failure: Any, response: Response, spider: Any) -> None:
        if spider is not self or self.run is None:
            return
        self.run.errors.append(
            f"{failure.type.__name__} parsing {response.url}: {failure.getErrorMessage()}"
        )
        self.run.complete = False

    # ------------------------------------------------------------ helpers
    def expect(self, condition: bool, response: Response, what: str) -> None:
        """Fail loudly when a response is not what this feed serves."""
        if not condition:
            snippet = response.body[:120].decode("utf-8", "replace").replace("\n", " ")
            raise FeedFormatError(
                f"{self.name}: {what} at {response.url} "
                f"(content-type {response.headers.get(b'Content-Type', b'?')!r}, "
                f"starts {snippet!r})"
            )
