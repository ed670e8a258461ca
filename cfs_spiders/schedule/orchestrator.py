"""The one crawl orchestrator: every crawl of ``cfs crawl``, ``cfs crawl --due``,
``cfs watch`` and ``cfs run`` runs through ``Orchestrator``.

It owns the Twisted reactor (one per process), the Scrapy crawler runner, the
per-host serialization (feeds on one host take turns: one request at a time per
host across feeds too; feeds on different hosts crawl side by side), SIGTERM and
SIGINT (the first: no new run starts, the runs in flight finish and commit; the
second: those stop too, recorded as incomplete), and the failure a run gets when it
crashed or ended without a report. A feed that fails never stops the others.

Two ways to drive it: ``crawl`` (a batch of feeds, each possibly several replayed
snapshots, run once; ``crawl_due`` picks the due ones for cron) and ``watch``
(poll every feed at its interval until stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from ..config.loader import FeedConfig
from ..config.paths import output_dir
from ..ingest.replay import snapshot_count
from ..ingest.spiderloader import spider_class
from ..store.connect import open_store
from .due import MAX_BACKOFF, backoff, due_at, due_feeds, interval, still_due
from .locks import LOCK_TTL, RunLocks

log = logging.getLogger(__name__)


@dataclass
class CrawlResult:
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.reports if r.get("status") == "failed"]

    @property
    def degraded(self) -> list[dict[str, Any]]:
        return [r for r in self.reports if r.get("status") == "degraded"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.degraded


def build_settings(
    *,
    replay_dir: Path | None = None,
    database_url: str | None = None,
    output: Path | None = None,
    incremental: bool = False,
    feed_state: dict[str, dict[str, Any]] | None = None,
    jsonl: bool = True,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    # the project's settings wherever `cfs` is started (no scrapy.cfg above the
    # working folder, e.g. from cron or systemd)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "cfs_spiders.ingest.settings")
    settings = get_project_settings()
    if replay_dir is not None:
        settings.set("CFS_REPLAY_DIR", str(replay_dir))
        settings.set(
            "DOWNLOAD_HANDLERS",
            {
                "http": "cfs_spiders.ingest.replay.ReplayDownloadHandler",
                "https": "cfs_spiders.ingest.replay.ReplayDownloadHandler",
            },
        )
        settings.set("DOWNLOAD_DELAY", 0)
        settings.set("AUTOTHROTTLE_ENABLED", False)
    if database_url:
        settings.set("CFS_DATABASE_URL", database_url)
    if output is not None:
        settings.set("CFS_OUTPUT_DIR", str(output))
    settings.set("CFS_INCREMENTAL", incremental)
    settings.set("CFS_FEED_STATE", feed_state or {})
    if jsonl:
        folder = output_dir(settings) / "runs"
        settings.set(
            "FEEDS",
            {
                f"{folder.as_posix()}/%(name)s/%(run_id)s.jsonl": {
                    "format": "jsonlines",
                    "encoding": "utf-8",
                    "store_empty": False,
                }
            },
        )
    for key, value in (overrides or {}).items():
        settings.set(key, value)
    return settings


def host_of(cfg: FeedConfig) -> str:
    """The host a feed's requests go to (runs on one host take turns)."""
    return urlparse(cfg.urls[0]).netloc if cfg.urls else cfg.feed_id


def plan(
    configs: list[FeedConfig], replay_dir: Path | None
) -> list[tuple[FeedConfig, int]]:
    """(feed, number of runs) for each feed; a replayed feed runs once per snapshot."""
    out = []
    for cfg in configs:
        if replay_dir is not None:
            n = snapshot_count(replay_dir, cfg.feed_id)
            if n == 0:
                log.warning(
                    "%s: no recordings under %s, skipped", cfg.feed_id, replay_dir
                )
                continue
            out.append((cfg, n))
        else:
            out.append((cfg, 1))
    return out


def failed_report(feed_id: str, error: str) -> dict[str, Any]:
    """The report of a run that crashed or ended without one of its own."""
    return {"feed_id": feed_id, "status": "failed", "errors": [error]}


class Orchestrator:
    """Runs crawls in this process's one reactor; see the module docstring.

    ``on_stop(signal_name)`` is told of the first SIGTERM/SIGINT (after it no new run
    should start: ``stopping`` is true), ``on_force()`` of the second, after which
    the runs in flight are stopped.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_stop: Callable[[str], None] | None = None,
        on_force: Callable[[], None] | None = None,
    ) -> None:
        from scrapy.utils.reactor import install_reactor

        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from scrapy.crawler import AsyncCrawlerRunner
        from scrapy.utils.log import configure_logging

        self.settings = settings
        configure_logging(settings)
        self.runner = AsyncCrawlerRunner(settings)
        self.on_stop = on_stop
        self.on_force = on_force
        self.in_flight: set[Any] = set()
        self.signals_seen = 0
        self._hosts: dict[str, asyncio.Lock] = {}

    @property
    def stopping(self) -> bool:
        return self.signals_seen > 0

    def host(self, cfg: FeedConfig) -> asyncio.Lock:
        """Held while a run (or a feed's runs) uses the feed's host."""
        return self._hosts.setdefault(host_of(cfg), asyncio.Lock())

    def _signal(self, signum: int) -> None:
        self.signals_seen += 1
        if self.signals_seen == 1:
            if self.on_stop is not None:
                self.on_stop(signal.Signals(signum).name)
        else:
            if self.on_force is not None:
                self.on_force()
            for crawler in list(self.in_flight):
                crawler.stop()

    async def run_one(
        self, cls: type, feed_id: str, **crawl_kwargs: Any
    ) -> tuple[dict[str, Any], bool]:
        """One run of one spider: (its report, whether it crashed). A crash or a
        run that ended without a report gives a failed report, never an error."""
        crawler = self.runner.create_crawler(cls)
        self.in_flight.add(crawler)
        try:
            await self.runner.crawl(crawler, **crawl_kwargs)
        except Exception as exc:  # a broken feed never stops the others
            log.exception("%s: crawl crashed", feed_id)
            return failed_report(feed_id, f"{type(exc).__name__}: {exc}"), True
        finally:
            self.in_flight.discard(crawler)
        report = getattr(crawler.spider, "report", None) or failed_report(
            feed_id, "run ended without a report"
        )
        return report, False

    def run(self, main: Callable[[], Awaitable[None]], *, name: str) -> list[Any]:
        """Run ``main`` in the reactor with the signal handlers installed; returns
        the failures (logged as ``<name> failed``)."""
        from scrapy.utils.defer import deferred_from_coro
        from twisted.internet import reactor

        async def guarded() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._signal, sig)
            try:
                await main()
            finally:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

        failures: list[Any] = []

        def fail(f: Any) -> None:
            failures.append(f)
            log.error("%s failed: %s", name, f.getTraceback())

        d = deferred_from_coro(guarded())
        d.addErrback(fail)
        d.addBoth(lambda _: reactor.stop())
        reactor.run(installSignalHandlers=False)
        return failures


# -------------------------------------------------------------------- batch
def crawl(
    configs: list[FeedConfig],
    *,
    replay_dir: Path | None = None,
    snapshots: list[int] | None = None,
    run_ids: dict[int, str] | None = None,
    progress: bool = True,
    **settings_kwargs: Any,
) -> CrawlResult:
    """Crawl feeds (live, or replayed from ``replay_dir``) in this process.

    ``run_ids`` names the run of a snapshot index (``importers.git`` derives them
    from commits, so a re-run snapshot updates its run row instead of adding one).
    A feed's snapshots run in order while it holds its host.
    """
    orch: Orchestrator

    def on_stop(name: str) -> None:
        log.warning(
            "%s: finishing the %d run(s) in flight (again to stop them)",
            name,
            len(orch.in_flight),
        )

    settings = build_settings(replay_dir=replay_dir, **settings_kwargs)
    # a store of an earlier schema is refused here, once, before any run starts
    # (``StoreVersionError`` names ``cfs migrate``)
    open_store(settings.get("CFS_DATABASE_URL")).close()
    orch = Orchestrator(settings, on_stop=on_stop)
    result = CrawlResult()
    jobs = plan(configs, replay_dir)
    total = sum(len(snapshots) if snapshots else n for _, n in jobs)
    done = 0

    async def run_feed(cfg: FeedConfig, n: int) -> None:
        nonlocal done
        cls = spider_class(cfg, replay=replay_dir is not None)
        async with orch.host(cfg):
            for k in snapshots if snapshots is not None else range(n):
                if orch.stopping:
                    return
                report, crashed = await orch.run_one(
                    cls,
                    cfg.feed_id,
                    snapshot=k,
                    replay=replay_dir is not None,
                    run_id=(run_ids or {}).get(k),
                )
                result.reports.append(report)
                if crashed:
                    continue
                done += 1
                if progress:
                    print(
                        f"[{done}/{total}] {cfg.feed_id}"
                        + (f" snapshot {k + 1}/{n}" if replay_dir is not None else "")
                        + f": {report.get('status')}, {report.get('records', 0)} "
                        f"records, {report.get('new_calls', 0)} new calls, "
                        f"{report.get('disappeared_calls', 0)} left the listing",
                        file=sys.stderr,
                        flush=True,
                    )

    async def main() -> None:
        await asyncio.gather(*(run_feed(cfg, n) for cfg, n in jobs))

    orch.run(main, name="crawl")
    return result


# --------------------------------------------------------------------- cron
def crawl_due(
    configs: list[FeedConfig],
    *,
    database_url: str | None = None,
    lock_ttl: timedelta = LOCK_TTL,
    max_backoff: timedelta = MAX_BACKOFF,
    **crawl_kwargs: Any,
) -> tuple[list[FeedConfig], Any]:
    """Crawl, in this process, the feeds that are due and not locked; one pass.

    Returns (feeds crawled, ``CrawlResult`` or None when nothing was due).
    """
    with RunLocks(database_url, lock_ttl) as locks:
        locks.store.register_feeds(configs)
        due = due_feeds(configs, locks.store, max_backoff=max_backoff)
        chosen = []
        for cfg in due:
            if locks.acquire(cfg.feed_id):
                if still_due(cfg, locks.store, max_backoff=max_backoff):
                    chosen.append(cfg)
                else:
                    locks.release(cfg.feed_id)
        if not chosen:
            return [], None
        log.info("due: %s", ", ".join(c.feed_id for c in chosen))
        crawl_kwargs.setdefault("incremental", True)
        result = crawl(chosen, database_url=database_url, **crawl_kwargs)
    return chosen, result


# -------------------------------------------------------------------- watch
@dataclass
class WatchOptions:
    jitter: float = 0.1
    max_backoff: timedelta = MAX_BACKOFF
    lock_ttl: timedelta = LOCK_TTL
    # the longest sleep between looks at the store (locks held elsewhere expire,
    # another process may have run a feed)
    tick: float = 30.0


def _summary(report: dict[str, Any], next_in: timedelta) -> str:
    text = (
        f"{report.get('feed_id')}: {report.get('status')}"
        f"{' (not modified)' if report.get('not_modified') else ''}, "
        f"{report.get('records', 0)} records, {report.get('new_calls', 0)} new calls, "
        f"{report.get('new_observations', 0)} new observations, "
        f"{report.get('disappeared_calls', 0)} left the listing, "
        f"{report.get('duration_s', 0)} s; next poll in {int(next_in.total_seconds())} s"
    )
    errors = report.get("errors") or []
    return text + (f" [{'; '.join(errors[:2])[:200]}]" if errors else "")


def watch(
    configs: list[FeedConfig],
    *,
    database_url: str | None = None,
    options: WatchOptions | None = None,
    rng: Callable[[], float] = random.random,
    echo: Callable[[str], None] | None = None,
    **settings_kwargs: Any,
) -> int:
    """Poll every feed at its interval until SIGTERM/SIGINT; returns 0.

    All crawls run in this process's one Twisted reactor. Feeds on one host take
    turns; a feed that fails is backed off; each run is logged in one line. On
    SIGTERM no new run starts, the runs in flight finish and commit (their store
    pipelines close normally), the locks are released and the process exits. A
    second signal stops the runs in flight too (they are recorded as incomplete,
    so no call is marked gone). ``echo`` receives the one-line summaries (default:
    the log).
    """
    opts = options or WatchOptions()
    feeds = {c.feed_id: c for c in configs if c.has_feed}
    running: dict[str, asyncio.Task[None]] = {}
    next_at: dict[str, datetime] = {}
    stopping = asyncio.Event()
    wake = asyncio.Event()  # a run finished or a signal came: look again

    def now() -> datetime:
        return datetime.now(UTC)

    def say(level: int, text: str) -> None:
        if echo is not None:
            echo(text)
        else:
            log.log(level, "%s", text)

    def jittered(span: timedelta) -> timedelta:
        return span * (1 + opts.jitter * (2 * rng() - 1))

    def on_stop(name: str) -> None:
        say(
            logging.INFO,
            f"watch: {name}: finishing {len(running)} run(s) in flight, then exiting",
        )
        stopping.set()
        wake.set()

    settings_kwargs.setdefault("incremental", True)
    settings = build_settings(database_url=database_url, **settings_kwargs)
    orch = Orchestrator(
        settings,
        on_stop=on_stop,
        on_force=lambda: say(logging.WARNING, "watch: stopping the runs in flight"),
    )

    async def run_one(cfg: FeedConfig, locks: RunLocks) -> None:
        report: dict[str, Any]
        try:
            async with orch.host(cfg):
                if stopping.is_set():
                    next_at[cfg.feed_id] = now()
                    return
                report, _ = await orch.run_one(spider_class(cfg), cfg.feed_id)
            state = locks.store.feed_state(cfg.feed_id)
            failures = int(state.get("consecutive_failures") or 0)
            if report.get("status") == "failed" and not failures:
                failures = 1  # crashed before the pipeline could record it
            wait = jittered(backoff(cfg, failures, opts.max_backoff))
            next_at[cfg.feed_id] = now() + wait
            level = logging.INFO if report.get("status") == "ok" else logging.WARNING
            say(level, "watch: " + _summary(report, wait))
        finally:
            locks.release(cfg.feed_id)
            running.pop(cfg.feed_id, None)
            wake.set()

    async def main() -> None:
        with RunLocks(database_url, opts.lock_ttl) as locks:
            locks.store.register_feeds(feeds.values())
            states = locks.store.feed_states()
            start = now()
            for feed_id, cfg in feeds.items():
                when = due_at(cfg, states.get(feed_id), opts.max_backoff)
                # spread the first polls a little, so they do not all start at once
                first = start + timedelta(
                    seconds=rng()
                    * min(interval(cfg).total_seconds() * opts.jitter, 30.0)
                )
                next_at[feed_id] = max(when, first) if when else first
            say(logging.INFO, f"watch: polling {len(feeds)} feed(s); SIGTERM to stop")
            while not stopping.is_set():
                wake.clear()
                at = now()
                for feed_id, cfg in sorted(feeds.items()):
                    if feed_id in running or next_at[feed_id] > at:
                        continue
                    if not locks.acquire(feed_id):
                        # another process is running it: look again later
                        next_at[feed_id] = at + min(
                            interval(cfg), timedelta(seconds=opts.tick)
                        )
                        continue
                    when = due_at(
                        cfg, locks.store.feed_state(feed_id), opts.max_backoff
                    )
                    slack = interval(cfg) * opts.jitter + timedelta(seconds=1)
                    if when is not None and when > at + slack:
                        # another process ran it meanwhile: its next turn is later
                        locks.release(feed_id)
                        next_at[feed_id] = when
                        continue
                    running[feed_id] = asyncio.ensure_future(run_one(cfg, locks))
                idle = [t for f, t in next_at.items() if f not in running]
                sleep = min([(t - now()).total_seconds() for t in idle] + [opts.tick])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=max(sleep, 0.05))
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
        say(logging.INFO, "watch: stopped")

    return 1 if orch.run(main, name="watch") else 0
