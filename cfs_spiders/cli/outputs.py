"""``cfs export``, ``cfs datasette-metadata``, ``cfs compare`` and ``cfs categorize``:
files written from the store (or, for ``categorize``, from a CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config.loader import ConfigError, validate_feed_id


def cmd_export(args: argparse.Namespace) -> int:
    from ..exports.calls_csv import export_calls
    from ..store.connect import open_store

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
    from ..exports.datasette import write_metadata

    path = write_metadata(
        Path(args.file) if getattr(args, "file", None) else None,
        configs_directory=Path(args.configs) if args.configs else None,
        database_url=args.db,
        output=Path(args.output) if args.output else None,
    )
    print(f"wrote Datasette metadata to {path}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..compare.run import run_compare

    paths = run_compare(
        database_url=args.db,
        output=Path(args.output) if args.output else None,
        configs_directory=Path(args.configs) if args.configs else None,
    )
    for p in paths:
        print(f"wrote {p}", file=sys.stderr)
    return 0


def cmd_categorize(args: argparse.Namespace) -> int:
    from ..exports.categorize import categorize_csv

    if args.feed:
        validate_feed_id(args.feed)
    n = categorize_csv(
        args.kind,
        Path(args.input),
        args.column,
        feed_id=args.feed,
        output=Path(args.cat_output) if args.cat_output else None,
        distinct=args.distinct,
    )
    print(f"categorized {n} rows", file=sys.stderr)
    return 0
