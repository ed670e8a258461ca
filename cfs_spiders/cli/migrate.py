"""``cfs migrate``: convert a store written by an earlier cfs, in place."""

from __future__ import annotations

import argparse
import sys


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..store.migrate import migrate

    report = migrate(args.db, vacuum=not args.no_vacuum)
    print(f"cfs migrate: {report.summary()}", file=sys.stderr)
    return 0
