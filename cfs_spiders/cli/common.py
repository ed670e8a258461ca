"""What every command shares: configs, feed selection, replay folder, -s settings."""

from __future__ import annotations

import argparse
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from ..config.loader import FeedConfig, load_all, load_named, validate_feed_id
from ..ingest.replay import DEFAULT_REPLAY_DIR


def load_configs(args: argparse.Namespace) -> dict[str, FeedConfig]:
    """The configs a command works on: the named feeds' only when it names
    feeds (``select`` reports a name without a valid config), else all."""
    directory = Path(args.configs) if args.configs else None
    names = getattr(args, "feeds", None)
    if names and not getattr(args, "all", False):
        configs, errors = load_named(list(names), directory)
    else:
        configs, errors = load_all(directory)
    for err in errors:
        print(f"config error: {err}", file=sys.stderr)
    return configs


def select(
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


def online(configs: list[FeedConfig], timeout: float = 3.0) -> bool:
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


def replay_folder(args: argparse.Namespace, feeds: list[FeedConfig]) -> Path | None:
    if args.replay is not None:
        return Path(args.replay) if args.replay else DEFAULT_REPLAY_DIR
    if getattr(args, "live", False):
        return None
    if getattr(args, "auto", False):
        if online(feeds):
            return None
        print(
            "cfs: no feed host is reachable: replaying the bundled captures "
            f"from {DEFAULT_REPLAY_DIR}",
            file=sys.stderr,
        )
        return DEFAULT_REPLAY_DIR
    return None


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """Scrapy settings given as ``-s NAME=VALUE``."""
    out = {}
    for item in getattr(args, "set", None) or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"cfs: -s expects NAME=VALUE, not {item!r}")
        out[name] = value
    return out
