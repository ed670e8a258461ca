"""The store's own commands: ``cfs migrate`` (convert a store written by an
earlier cfs, in place) and ``cfs raw`` (the raw records it keeps compressed, as
published)."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..store.migrate import MigrationError, migrate

    try:
        report = migrate(args.db, vacuum=not args.no_vacuum)
    except MigrationError as exc:
        print(f"cfs migrate: {exc}", file=sys.stderr)
        return 1
    print(f"cfs migrate: {report.summary()}", file=sys.stderr)
    return 0


def cmd_raw(args: argparse.Namespace) -> int:
    """One JSON line per stored version of a feed's calls (or of one call): its
    key, first and last fetch, run, change hash, and the raw record exactly as
    the store keeps it (the text written when it was first seen)."""
    from ..store.connect import open_store

    store = open_store(args.db)
    try:
        found = 0
        out = sys.stdout
        for v in store.raw_versions(args.feed_id, args.record_key):
            head = json.dumps(
                {
                    "feed_id": v.feed_id,
                    "record_key": v.record_key,
                    "fetched_at": v.fetched_at,
                    "last_seen": v.last_seen,
                    "run_id": v.run_id,
                    "values_hash": v.values_hash,
                },
                ensure_ascii=False,
            )
            out.write(f'{head[:-1]}, "raw": {v.raw_json}}}\n')
            found += 1
    finally:
        store.close()
    if not found:
        what = args.feed_id + (f" {args.record_key}" if args.record_key else "")
        print(f"cfs raw: no stored versions of {what}", file=sys.stderr)
        return 1
    return 0
