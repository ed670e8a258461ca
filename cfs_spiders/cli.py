"""The ``cfs`` command."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .config import ConfigError, FeedConfig, configs_dir, load_all, validate_feed_id
from .replay import DEFAULT_REPLAY_DIR, snapshot_count


def _configs(args: argparse.Namespace) -> dict[str, FeedConfig]:
    configs, errors = load_all(Path(args.configs) if args.configs else None)
    for err in errors:
        print(f"config error: {err}", file=sys.stderr)
    return configs


def _select(
    args: argparse.Namespace, configs: dict[str, FeedConfig]
) -> list[FeedConfig]:
    feeds = [c for c in configs.values() if c.has_feed]
    if getattr(args, "all", False) or not getattr(args, "feeds", None):
        return sorted(feeds, key=lambda c: c.feed_id)
    chosen = []
    for name in args.feeds:
        validate_feed_id(name)
        if name not in configs or not configs[name].has_feed:
            raise SystemExit(f"cfs: no crawlable feed {name!r} (see `cfs list`)")
        chosen.append(configs[name])
    return chosen


def cmd_list(args: argparse.Namespace) -> int:
    configs = _configs(args)
    replay = Path(args.replay_dir) if args.replay_dir else DEFAULT_REPLAY_DIR
    print(f"{'feed_id':50} {'platform':10} {'liveness':9} {'verified':8} snapshots")
    for cfg in sorted(configs.values(), key=lambda c: c.feed_id):
        verified = "yes" if cfg["verified_against_capture"] else "no"
        print(
            f"{cfg.feed_id:50} {cfg.platform:10} {cfg['liveness']:9} {verified:8} "
            f"{snapshot_count(replay, cfg.feed_id) if cfg.has_feed else '-'}"
        )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    configs, errors = load_all(Path(args.configs) if args.configs else None)
    for err in errors:
        print(err, file=sys.stderr)
    directory = Path(args.configs) if args.configs else configs_dir()
    print(f"{len(configs)} configs valid, {len(errors)} invalid in {directory}")
    return 1 if errors else 0


def _online(configs: list[FeedConfig], timeout: float = 3.0) -> bool:
    hosts = {urlparse(c.urls[0]).hostname for c in configs if c.urls}

    def reach(host: str | None) -> bool:
        if not host:
            return False
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                return True
        except OSError:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        return any(pool.map(reach, sorted(h for h in hosts if h)))


def _replay_dir(args: argparse.Namespace, feeds: list[FeedConfig]) -> Path | None:
    if args.replay is not None:
        return Path(args.replay) if args.replay else DEFAULT_REPLAY_DIR
    if getattr(args, "live", False):
        return None
    if getattr(args, "auto", False):
        if _online(feeds):
            return None
        print(
            "cfs: no feed host is reachable: replaying the bundled captures "
            f"from {DEFAULT_REPLAY_DIR}",
            file=sys.stderr,
        )
        return DEFAULT_REPLAY_DIR
    return None


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    """Scrapy settings given as ``-s NAME=VALUE``."""
    out = {}
    for item in getattr(args, "set", None) or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"cfs: -s expects NAME=VALUE, not {item!r}")
        out[name] = value
    return out


def _crawl(args: argparse.Namespace, feeds: list[FeedConfig]) -> int:
    from .runner import crawl

    replay_dir = _replay_dir(args, feeds)
    result = crawl(
        feeds,
        replay_dir=replay_dir,
        database_url=args.db,
        output=Path(args.output) if args.output else None,
        jsonl=not args.no_jsonl,
        incremental=getattr(args, "incremental", False),
        overrides=_overrides(args),
    )
    return _crawl_summary(result)


def _crawl_summary(result: Any) -> int:
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
    configs = _configs(args)
    if getattr(args, "due", False):
        return _crawl_due(args, _select(args, configs))
    if not args.all and not args.feeds:
        raise SystemExit("cfs crawl: name feeds or use --all (or --due)")
    return _crawl(args, _select(args, configs))


def _crawl_due(args: argparse.Namespace, feeds: list[FeedConfig]) -> int:
    """One scheduling pass (cron): crawl the feeds whose interval has passed."""
    from datetime import timedelta

    from .schedule import crawl_due

    if args.replay is not None:
        raise SystemExit("cfs crawl --due: polls live feeds; --replay does not apply")
    chosen, result = crawl_due(
        feeds,
        database_url=args.db,
        lock_ttl=timedelta(minutes=args.lock_ttl),
        output=Path(args.output) if args.output else None,
        jsonl=not args.no_jsonl,
        incremental=not args.full,
        overrides=_overrides(args),
    )
    if result is None:
        print("cfs: no feed is due", file=sys.stderr)
        return 0
    return _crawl_summary(result)


def cmd_watch(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from .schedule import WatchOptions, watch

    def echo(line: str) -> None:
        print(
            f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}",
            file=sys.stderr,
            flush=True,
        )

    feeds = _select(args, _configs(args))
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
        overrides=_overrides(args),
    )


def cmd_deploy(args: argparse.Namespace) -> int:
    import tempfile

    from .schedule import ScrapydError, build_egg, deploy, deploy_targets

    if args.build_egg:
        print(f"wrote {build_egg(Path(args.build_egg))}", file=sys.stderr)
        return 0
    try:
        targets = deploy_targets(args.targets, args.project)
        with tempfile.TemporaryDirectory() as tmp:
            egg = build_egg(Path(tmp) / "cfs.egg")
            for url, project in targets:
                answer = deploy(url, egg, project=project, version=args.version)
                print(
                    f"{url}: project {project} version {answer.get('version')}, "
                    f"{answer.get('spiders')} spiders",
                    file=sys.stderr,
                )
    except ScrapydError as exc:
        print(f"cfs deploy: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .schedule import ScrapydError, print_jobs, schedule_scrapyd

    feeds = _select(args, _configs(args))
    replay = None
    if args.replay is not None:
        replay = Path(args.replay) if args.replay else DEFAULT_REPLAY_DIR
    try:
        jobs = schedule_scrapyd(
            args.scrapyd,
            feeds,
            project=args.project,
            database_url=args.db,
            replay_dir=replay,
            settings=_overrides(args),
            lock_ttl=timedelta(minutes=args.lock_ttl),
            incremental=not args.full,
            snapshots=args.snapshots,
        )
    except ScrapydError as exc:
        print(f"cfs schedule: {exc}", file=sys.stderr)
        return 1
    print_jobs(jobs)
    print(f"cfs schedule: {len(jobs)} job(s) sent", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_calls
    from .store import open_store

    store = open_store(args.db)
    try:
        path, n = export_calls(store, Path(args.output) if args.output else None)
    finally:
        store.close()
    print(f"wrote {n} calls to {path}", file=sys.stderr)
    try:
        cmd_datasette_metadata(args)
    except (OSError, ConfigError) as exc:  # the export itself succeeded
        print(f"cfs: Datasette metadata not written: {exc}", file=sys.stderr)
    return 0


def cmd_datasette_metadata(args: argparse.Namespace) -> int:
    from .datasette_metadata import write_metadata

    path = write_metadata(
        Path(args.file) if getattr(args, "file", None) else None,
        configs_directory=Path(args.configs) if args.configs else None,
        database_url=args.db,
        output=Path(args.output) if args.output else None,
    )
    print(f"wrote Datasette metadata to {path}", file=sys.stderr)
    return 0


def cmd_import_git(args: argparse.Namespace) -> int:
    from .import_git import ImportGitError, import_git

    try:
        summary = import_git(
            args.repo,
            feeds=args.feed,
            paths=args.path,
            since=args.since,
            until=args.until,
            configs_directory=Path(args.configs) if args.configs else None,
            database_url=args.db,
            output=Path(args.output) if args.output else None,
            chunk_size=args.chunk,
            rev=args.rev,
            time=args.time,
        )
    except ImportGitError as exc:
        print(f"cfs import-git: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    stored = ", ".join(f"{k}: {v}" for k, v in sorted(summary.calls_stored.items()))
    print(
        f"cfs import-git: {summary.selected} commits in range, "
        f"{summary.already_done} already imported, {summary.snapshots} snapshots "
        f"parsed now ({summary.failed} failed), {summary.new_calls} new calls, "
        f"{summary.closed_calls} left the listing; calls stored: {stored}",
        file=sys.stderr,
    )
    return 2 if summary.failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import run_compare

    paths = run_compare(
        database_url=args.db,
        output=Path(args.output) if args.output else None,
        configs_directory=Path(args.configs) if args.configs else None,
    )
    for p in paths:
        print(f"wrote {p}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    configs = _configs(args)
    feeds = _select(args, configs)
    args.auto = True
    code = _crawl(args, feeds)
    cmd_export(args)
    try:
        import importlib

        importlib.import_module("cfs_spiders.compare")
    except ImportError:
        return code
    cmd_compare(args)
    return code


def cmd_categorize(args: argparse.Namespace) -> int:
    from .categorize import categorize_csv

    if args.feed:
        validate_feed_id(args.feed)
    n = categorize_csv(
        args.kind,
        Path(args.input),
        args.column,
        feed_id=args.feed,
        output=Path(args.cat_output) if args.cat_output else None,
    )
    print(f"categorized {n} rows", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import feed_health

    rows = feed_health(
        database_url=args.db,
        configs_directory=Path(args.configs) if args.configs else None,
    )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'feed_id':50} {'health':9} {'last run':21} {'calls':>7}  note")
    for r in rows:
        print(
            f"{r['feed_id']:50} {r['health']:9} {r.get('last_run') or '-':21} "
            f"{r.get('calls', 0):>7}  {r.get('note') or ''}"
        )
    return 0 if all(r["health"] in ("ok", "never") for r in rows) else 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cfs", description=__doc__)
    p.add_argument("--configs", help="config folder (default: city_configs/)")
    p.add_argument(
        "--db",
        help="store: SQLite path or postgresql:// URL "
        "(default: $CFS_DATABASE_URL or output/cfs.sqlite)",
    )
    p.add_argument("--output", help="output folder (default: output/)")
    p.add_argument("-v", "--verbose", action="store_true", help="Scrapy's INFO log")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list configured feeds")
    s.add_argument("--replay-dir", help="recordings folder (default: tests/fixtures)")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("check", help="validate every config (non-zero exit on error)")
    s.set_defaults(func=cmd_check)

    def crawl_args(s: argparse.ArgumentParser) -> None:
        s.add_argument(
            "--replay",
            nargs="?",
            const="",
            default=None,
            metavar="DIR",
            help="answer requests from recorded responses (default folder: "
            "tests/fixtures)",
        )
        s.add_argument(
            "--no-jsonl", action="store_true", help="skip the per-run JSON Lines export"
        )

    def poll_args(s: argparse.ArgumentParser) -> None:
        s.add_argument(
            "--lock-ttl",
            type=float,
            default=30.0,
            metavar="MIN",
            help="a run lock expires after this many minutes unless "
            "renewed (default 30)",
        )
        s.add_argument(
            "--full",
            action="store_true",
            help="fetch whole listings (default: incremental)",
        )

    def settings_arg(s: argparse.ArgumentParser) -> None:
        s.add_argument(
            "-s",
            "--set",
            action="append",
            metavar="NAME=VALUE",
            help="a Scrapy setting (repeatable)",
        )

    s = sub.add_parser("crawl", help="crawl feeds into the store")
    s.add_argument("feeds", nargs="*", metavar="FEED")
    s.add_argument("--all", action="store_true", help="every configured feed")
    s.add_argument(
        "--incremental",
        action="store_true",
        help="fetch only what changed since the last run, where possible",
    )
    s.add_argument(
        "--due",
        action="store_true",
        help="only the feeds (named, or all) whose update interval has "
        "passed since their last successful run, each under a run lock; "
        "incremental; safe to call from cron every minute",
    )
    crawl_args(s)
    poll_args(s)
    settings_arg(s)
    s.set_defaults(func=cmd_crawl)

    s = sub.add_parser(
        "watch",
        help="poll every feed (or the named ones) at its interval until SIGTERM",
    )
    s.add_argument("feeds", nargs="*", metavar="FEED")
    s.add_argument(
        "--jitter",
        type=float,
        default=0.1,
        help="spread each interval by up to this fraction (default 0.1)",
    )
    s.add_argument(
        "--max-backoff",
        type=float,
        default=360.0,
        metavar="MIN",
        help="longest wait after repeated failures (default 360)",
    )
    s.add_argument(
        "--no-jsonl", action="store_true", help="skip the per-run JSON Lines export"
    )
    poll_args(s)
    settings_arg(s)
    s.set_defaults(func=cmd_watch)

    s = sub.add_parser(
        "deploy",
        help="upload the project (an egg with the feed configs) to scrapyd nodes",
    )
    s.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="scrapyd URL(s) or scrapy.cfg [deploy:NAME] target(s) "
        "(default: the first target in scrapy.cfg)",
    )
    s.add_argument("--project", help="scrapyd project (default: the target's, or cfs)")
    s.add_argument("--version", help="egg version (default: a UTC timestamp)")
    s.add_argument("--build-egg", metavar="FILE", help="only write the egg here")
    s.set_defaults(func=cmd_deploy)

    s = sub.add_parser(
        "schedule",
        help="send the due feeds (or, with --replay, every recorded snapshot) to "
        "scrapyd nodes",
    )
    s.add_argument("feeds", nargs="*", metavar="FEED")
    s.add_argument(
        "--scrapyd",
        nargs="+",
        required=True,
        metavar="URL",
        help="scrapyd node(s), e.g. http://10.0.0.5:6800",
    )
    s.add_argument("--project", default="cfs", help="scrapyd project (default cfs)")
    s.add_argument(
        "--replay",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="one job per recorded snapshot (the nodes run with CFS_REPLAY_DIR set)",
    )
    s.add_argument(
        "--snapshots",
        metavar="LIST",
        help="with --replay: only these snapshots, e.g. 0-3,7,-1",
    )
    poll_args(s)
    s.add_argument(
        "-s",
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a Scrapy setting passed to every job (repeatable)",
    )
    s.set_defaults(func=cmd_schedule)

    s = sub.add_parser("export", help="write output/calls.csv from the store")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "datasette-metadata",
        help="write the Datasette metadata (default: <output>/metadata.json)",
    )
    s.add_argument("--file", help="write it here instead")
    s.set_defaults(func=cmd_datasette_metadata)

    s = sub.add_parser(
        "import-git",
        help="import a git scraper's history of a feed's file into the store",
        description="Feed each committed version of a file in a local git clone "
        "through the feed's parser, as one snapshot fetched at the commit time. "
        "Resumable; importing again changes nothing.",
    )
    s.add_argument("repo", metavar="REPO_PATH", help="a local git clone")
    s.add_argument(
        "--feed",
        action="append",
        required=True,
        metavar="FEED_ID[@SINCE..UNTIL]",
        help="the feed whose parser reads the file; repeat with ranges "
        "(SINCE inclusive, UNTIL exclusive) when the format changed",
    )
    s.add_argument(
        "--path",
        action="append",
        required=True,
        metavar="FILE_IN_REPO",
        help="the file in the repository; repeat for its former names",
    )
    s.add_argument("--since", help="first commit time to import (ISO 8601, UTC)")
    s.add_argument("--until", help="import commits before this time (ISO 8601, UTC)")
    s.add_argument("--rev", default="HEAD", help="history to follow (default HEAD)")
    s.add_argument(
        "--time",
        choices=["committer", "author"],
        default="committer",
        help="which commit time is the fetch time (default committer)",
    )
    s.add_argument(
        "--chunk",
        type=int,
        default=20,
        help="snapshots per replay process (default 20)",
    )
    s.set_defaults(func=cmd_import_git)

    s = sub.add_parser("compare", help="write the comparison exports and report")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "run",
        help="crawl every feed (live, or the bundled captures when offline), "
        "export, compare",
    )
    s.add_argument("feeds", nargs="*", metavar="FEED")
    s.add_argument("--live", action="store_true", help="never fall back to replay")
    crawl_args(s)
    s.set_defaults(func=cmd_run, all=True)

    s = sub.add_parser("categorize", help="apply a normalizer to a CSV column")
    s.add_argument(
        "kind", choices=["call-type", "call-source", "disposition", "address"]
    )
    s.add_argument("--input", required=True)
    s.add_argument("--column", required=True)
    s.add_argument("--feed", help="use this feed's crosswalk and location policy")
    s.add_argument("--output", dest="cat_output", help="output CSV (default: stdout)")
    s.set_defaults(func=cmd_categorize)

    s = sub.add_parser("status", help="each feed's health at a glance")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("CFS_LOG_LEVEL", "INFO" if args.verbose else "WARNING")
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"cfs: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
