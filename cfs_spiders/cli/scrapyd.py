"""``cfs deploy`` and ``cfs schedule``: scrapyd nodes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..ingest.replay import DEFAULT_REPLAY_DIR
from .common import load_configs, overrides, select


def cmd_deploy(args: argparse.Namespace) -> int:
    import tempfile

    from ..schedule.scrapyd import ScrapydError, build_egg, deploy, deploy_targets

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

    from ..schedule.scrapyd import ScrapydError, print_jobs, schedule_scrapyd

    feeds = select(args, load_configs(args))
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
            settings=overrides(args),
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
