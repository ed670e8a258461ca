"""``cfs import-git``: a git scraper's history into the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_import_git(args: argparse.Namespace) -> int:
    from ..importers.git import ImportGitError, import_git

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
            retry_failed=args.retry_failed,
            engine=args.engine,
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
