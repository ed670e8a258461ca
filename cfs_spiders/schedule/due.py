"""When a feed is due, and when a failing one is tried again.

A feed is *due* when its configured ``update_interval_minutes`` (60 when the config
gives none) has passed since its last successful run, as the store records it
(``feed_state.last_success_at``). A feed that keeps failing is backed off: after
``n`` failures in a row the next attempt waits ``interval * 2**(n-1)``, at most
``max_backoff`` (6 hours by default). A feed locked by a run in progress
(``locks.py``) is not due.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config.loader import FeedConfig
from ..normalize.time import parse_iso
from ..store.sqlite import Store

DEFAULT_INTERVAL_MINUTES = 60.0
# cron fires on the minute, a run finishes some seconds after it started: a feed
# this close to due is due, or a 5-minute feed would be crawled every 6 minutes.
GRACE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return parse_iso(str(value), naive_zone="UTC")  # the store writes UTC


def interval(cfg: FeedConfig) -> timedelta:
    minutes = cfg.get("update_interval_minutes") or DEFAULT_INTERVAL_MINUTES
    return timedelta(minutes=float(minutes))


def backoff(
    cfg: FeedConfig, failures: int, max_backoff: timedelta = MAX_BACKOFF
) -> timedelta:
    """Wait before the next attempt after ``failures`` failed runs in a row."""
    if failures <= 0:
        return interval(cfg)
    return min(
        interval(cfg) * (2 ** min(failures - 1, 20)), max(max_backoff, interval(cfg))
    )


def due_at(
    cfg: FeedConfig, state: dict[str, Any] | None, max_backoff: timedelta = MAX_BACKOFF
) -> datetime | None:
    """When the feed is next due; None when it has never run (due now)."""
    state = state or {}
    last_ok = _time(state.get("last_success_at"))
    due = last_ok + interval(cfg) if last_ok else None
    failures = int(state.get("consecutive_failures") or 0)
    attempt = _time(state.get("last_attempt_at"))
    if failures and attempt:
        retry = attempt + backoff(cfg, failures, max_backoff)
        due = max(due, retry) if due else retry
    return due


def locked(
    state: dict[str, Any] | None, now: datetime, owner: str | None = None
) -> bool:
    state = state or {}
    until = _time(state.get("lock_until"))
    return (
        bool(state.get("lock_owner"))
        and state.get("lock_owner") != owner
        and (until is None or until >= now)
    )


def due_feeds(
    configs: Iterable[FeedConfig],
    store: Store,
    now: datetime | None = None,
    *,
    grace: timedelta = GRACE,
    max_backoff: timedelta = MAX_BACKOFF,
) -> list[FeedConfig]:
    """The feeds due at ``now`` and not locked by a run in progress."""
    now = now or now_utc()
    states = store.feed_states()
    out = []
    for cfg in configs:
        if not cfg.has_feed or cfg.get("ended"):  # a retired dataset: nothing new
            continue
        state = states.get(cfg.feed_id)
        when = due_at(cfg, state, max_backoff)
        if (when is None or when <= now + grace) and not locked(state, now):
            out.append(cfg)
    return sorted(out, key=lambda c: c.feed_id)


def still_due(
    cfg: FeedConfig,
    store: Store,
    now: datetime | None = None,
    *,
    grace: timedelta = GRACE,
    max_backoff: timedelta = MAX_BACKOFF,
) -> bool:
    """Due by the state read *after* taking the lock: another process may have run
    the feed between the look at the store and the lock."""
    when = due_at(cfg, store.feed_state(cfg.feed_id), max_backoff)
    return when is None or when <= (now or now_utc()) + grace
