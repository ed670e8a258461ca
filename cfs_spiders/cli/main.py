"""The ``cfs`` command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from ..draft.command import add_parser as add_new_parser

# from the git reader's module (the standard library only): building the parser
# imports no importer, and no Scrapy
from ..importers.git_repo import DEFAULT_CHUNK


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], Any]:
    """The command ``name`` of ``cfs_spiders.cli.<module>``, imported when it
    runs. Why: a command pays only for its own imports; ``cfs export`` does not
    load Scrapy and Twisted (about 0.3 s of every export before this)."""

    def run(args: argparse.Namespace) -> Any:
        command = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        return command(args)

    run.__name__ = run.__qualname__ = name
    return run


cmd_crawl = _lazy("crawl", "cmd_crawl")
cmd_run = _lazy("crawl", "cmd_run")
cmd_watch = _lazy("crawl", "cmd_watch")
cmd_check = _lazy("feeds", "cmd_check")
cmd_list = _lazy("feeds", "cmd_list")
cmd_status = _lazy("feeds", "cmd_status")
cmd_import_git = _lazy("importers", "cmd_import_git")
cmd_migrate = _lazy("migrate", "cmd_migrate")
cmd_raw = _lazy("migrate", "cmd_raw")
cmd_categorize = _lazy("outputs", "cmd_categorize")
cmd_compare = _lazy("outputs", "cmd_compare")
cmd_datasette_metadata = _lazy("outputs", "cmd_datasette_metadata")
cmd_export = _lazy("outputs", "cmd_export")
cmd_deploy = _lazy("scrapyd", "cmd_deploy")
cmd_schedule = _lazy("scrapyd", "cmd_schedule")


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
    s.add_argument(
        "--live",
        action="store_true",
        help="also fetch one small page of each feed (or of FEED ...) and report "
        "mapped fields missing, new fields, times not parsed (exit 3 on drift)",
    )
    s.add_argument("feeds", nargs="*", metavar="FEED", help="with --live: these feeds")
    s.add_argument(
        "--sample", type=int, default=5, help="with --live: rows asked for (default 5)"
    )
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
        default=DEFAULT_CHUNK,
        help=f"snapshots read per batch of commits (default {DEFAULT_CHUNK})",
    )
    s.add_argument(
        "--retry-failed",
        action="store_true",
        help="import again the commits whose run failed (a commit whose crawl "
        "wrote no run, a transient failure, is always tried again)",
    )
    s.add_argument(
        "--engine",
        choices=["direct", "crawl"],
        default="direct",
        help="direct: read each commit in this process with the spider's parser "
        "(default); crawl: a Scrapy replay crawl per commit, in child processes "
        "(the reference; same store)",
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
    s.add_argument(
        "--distinct",
        action="store_true",
        help="one row per distinct value, with its count, most frequent first",
    )
    s.set_defaults(func=cmd_categorize)

    add_new_parser(sub)
    s = sub.add_parser(
        "migrate",
        help="convert a store written by an earlier cfs to this one's schema",
        description="Convert the store (--db) in place, in one transaction: one "
        "observation per sighting becomes one per change, with presence spans on "
        "live listings; raw records are compressed and response URLs kept once. "
        "A store already current is left alone.",
    )
    s.add_argument(
        "--no-vacuum", action="store_true", help="SQLite: skip the VACUUM after"
    )
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser(
        "raw",
        help="the raw records of a feed's calls as published (JSON Lines)",
        description="Print every stored version of the feed's calls (or of one "
        "call): one JSON object a line, with the raw record exactly as published "
        "(the store keeps it compressed: see docs/DATASETTE.md).",
    )
    s.add_argument("feed_id")
    s.add_argument("record_key", nargs="?", help="one call only")
    s.set_defaults(func=cmd_raw)

    s = sub.add_parser("status", help="each feed's health at a glance")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("CFS_LOG_LEVEL", "INFO" if args.verbose else "WARNING")
    from ..config.loader import ConfigError
    from ..store.sqlite import StoreVersionError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, StoreVersionError) as exc:
        print(f"cfs: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
