"""``cfs crawl`` (``--due``), ``cfs watch`` and ``cfs run``: every crawl goes through
the one orchestrator of ``schedule/orchestrator.py``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config.loader import FeedConfig
from .common import load_configs, overrides, replay_folder, select
from .outputs import cmd_compare, cmd_export


def crawl_feeds(args: argparse.Namespace, feeds: list[FeedConfig]) -> int:
    from ..schedule.orchestrator import crawl

    replay_dir = replay_folder(args, feeds)
    result = crawl(
        feeds,
        replay_dir=replay_dir,
        database_url=args.db,
        output=Path(args.output) if args.output else None,
        jsonl=not args.no_jsonl,
        incremental=getattr(args, "incremental", False),
        overrides=overrides(args),
    )
    return crawl_summary(result)


def crawl_summary(result: Any) -> int:
    for rep in result.failed + result.degraded:
        print(
            f"{rep.get('feed_id')}: {rep.get('status')}: "
            f"{'; '.join((rep.get('errors') or []) + (rep.get('degraded_reasons') or []))[:300]}",
            file=sys.stderr,
        )
    n_ok = len(result.reports) - len(result.failed) - len(result.degraded)
    print(
        f"cfs: {len(result.reports)} runs: {n_ok} ok, {len(result.degraded)} degraded, "
        f"{len(result.failed)} failed",
        file=sys.stderr,
    )
    return 0 if result.ok else 2


def cmd_crawl(args: argparse.Namespace) -> int:
    configs = load_configs(args)
    if getattr(args, "due", False):
        return crawl_due_feeds(args, select(args, configs))
    if not args.all and not args.feeds:
        raise SystemExit("cfs crawl: name feeds or use --all (or --due)")
    return crawl_feeds(args, select(args, configs))


def crawl_due_feeds(args: argparse.Namespace, feeds: list[FeedConfig]) -> int:
    """One scheduling pass (cron): crawl the feeds whose interval has passed."""
    from datetime import timedelta

    from ..schedule.orchestrator import crawl_due

    if args.replay is not None:
        raise SystemExit("cfs crawl --due: polls live feeds; --replay does not apply")
    chosen, result = crawl_due(
        feeds,
        database_url=args.db,
        lock_ttl=timedelta(minutes=args.lock_ttl),
        output=Path(args.output) if args.output else None,
        jsonl=not args.no_jsonl,
        incremental=not args.full,
        overrides=overrides(args),
    )
    if result is None:
        print("cfs: no feed is due", file=sys.stderr)
        return 0
    return crawl_summary(result)


def cmd_watch(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from ..schedule.orchestrator import WatchOptions, watch

    def echo(line: str) -> None:
        print(
            f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}",
            file=sys.stderr,
            flush=True,
        )

    feeds = select(args, load_configs(args))
    return watch(
        feeds,
        database_url=args.db,
        options=WatchOptions(
            jitter=args.jitter,
            max_backoff=timedelta(minutes=args.max_backoff),
            lock_ttl=timedelta(minutes=args.lock_ttl),
        ),
        echo=echo,
        output=Path(args.output) if args.output else None,
        jsonl=not args.no_jsonl,
        incremental=not args.full,
        overrides=overrides(args),
    )


def cmd_run(args: argparse.Namespace) -> int:
    configs = load_configs(args)
    feeds = select(args, configs)
    args.auto = True
    code = crawl_feeds(args, feeds)
    cmd_export(args)
    cmd_compare(args)
    return code
