"""Run crawls from Python: many feeds, each possibly several replayed snapshots.

Feeds on different hosts crawl side by side; feeds on one host take turns (one
request at a time per host across feeds too); a feed's snapshots run in order, one
run each. A feed that fails never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from .config import FeedConfig
from .pipelines import output_dir
from .replay import snapshot_count
from .spiderloader import spider_class

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
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "cfs_spiders.settings")
    settings = get_project_settings()
    if replay_dir is not None:
        settings.set("CFS_REPLAY_DIR", str(replay_dir))
        settings.set(
            "DOWNLOAD_HANDLERS",
            {
                "http": "cfs_spiders.replay.ReplayDownloadHandler",
                "https": "cfs_spiders.replay.ReplayDownloadHandler",
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


def _host(cfg: FeedConfig) -> str:
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

    ``run_ids`` names the run of a snapshot index (``import_git`` derives them from
    commits, so a re-run snapshot updates its run row instead of adding one).

    SIGTERM or SIGINT: no new run starts, the runs in flight finish and commit
    (cron and systemd stop the process this way); a second signal stops those too,
    recorded as incomplete.
    """
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from scrapy.utils.log import configure_logging
    from twisted.internet import reactor

    settings = build_settings(replay_dir=replay_dir, **settings_kwargs)
    configure_logging(settings)
    runner = AsyncCrawlerRunner(settings)
    result = CrawlResult()
    jobs = plan(configs, replay_dir)
    by_host: dict[str, list[tuple[FeedConfig, int]]] = defaultdict(list)
    for cfg, n in jobs:
        by_host[_host(cfg)].append((cfg, n))
    total = sum(len(snapshots) if snapshots else n for _, n in jobs)
    done = 0
    signals_seen: list[int] = []
    in_flight: set[Any] = set()

    def on_signal(signum: int) -> None:
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            log.warning(
                "%s: finishing the %d run(s) in flight (again to stop them)",
                signal.Signals(signum).name,
                len(in_flight),
            )
        else:
            for crawler in list(in_flight):
                crawler.stop()

    async def run_feed(cfg: FeedConfig, n: int) -> None:
        nonlocal done
        cls = spider_class(cfg, replay=replay_dir is not None)
        for k in snapshots if snapshots is not None else range(n):
            if signals_seen:
                return
            crawler = runner.create_crawler(cls)
            in_flight.add(crawler)
            try:
                await runner.crawl(
                    crawler,
                    snapshot=k,
                    replay=replay_dir is not None,
                    run_id=(run_ids or {}).get(k),
                )
            except Exception as exc:  # a broken feed never stops the others
                log.exception("%s: crawl crashed", cfg.feed_id)
                result.reports.append(
                    {
                        "feed_id": cfg.feed_id,
                        "status": "failed",
                        "errors": [f"{type(exc).__name__}: {exc}"],
                    }
                )
                continue
            finally:
                in_flight.discard(crawler)
            report = getattr(crawler.spider, "report", None) or {
                "feed_id": cfg.feed_id,
                "status": "failed",
                "errors": ["run ended without a report"],
            }
            result.reports.append(report)
            done += 1
            if progress:
                print(
                    f"[{done}/{total}] {cfg.feed_id}"
                    + (f" snapshot {k + 1}/{n}" if replay_dir is not None else "")
                    + f": {report.get('status')}, {report.get('records', 0)} records, "
                    f"{report.get('new_calls', 0)} new calls, "
                    f"{report.get('disappeared_calls', 0)} left the listing",
                    file=sys.stderr,
                    flush=True,
                )

    async def run_host(items: list[tuple[FeedConfig, int]]) -> None:
        for cfg, n in items:
            await run_feed(cfg, n)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            await asyncio.gather(*(run_host(items) for items in by_host.values()))
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    from scrapy.utils.defer import deferred_from_coro

    d = deferred_from_coro(main())
    d.addErrback(lambda f: log.error("crawl failed: %s", f.getTraceback()))
    d.addBoth(lambda _: reactor.stop())
    reactor.run(installSignalHandlers=False)
    return result
