"""``cfs list``, ``cfs check`` and ``cfs status``: the feeds and their health."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config.loader import configs_dir, load_all
from ..ingest.replay import DEFAULT_REPLAY_DIR, snapshot_count
from .common import load_configs, select


def cmd_list(args: argparse.Namespace) -> int:
    configs = load_configs(args)
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
    if errors:
        return 1
    if not getattr(args, "live", False):
        return 0
    return check_live_feeds(args, configs)


def check_live_feeds(args: argparse.Namespace, configs: dict) -> int:
    """``cfs check --live``: one small page per feed; 3 when any feed drifted."""
    from ..config.paths import output_dir
    from ..ingest.live_check import check_live
    from ..schedule.orchestrator import build_settings

    feeds = select(args, configs)
    output = Path(args.output) if args.output else None
    settings = build_settings(output=output, jsonl=False)
    results = check_live(
        feeds,
        settings,
        state_file=output_dir(settings) / "check_live.json",
        sample=max(1, args.sample),
    )
    for result in results:
        print("\n".join(result.lines()))
    drifted = [r.feed_id for r in results if r.drift]
    print(f"{len(results)} feeds checked live, {len(drifted)} drifted")
    return 3 if drifted else 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..schedule.health import feed_health

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
