"""Time on feed and publication delay, read off the times of consecutive runs."""

from __future__ import annotations

import bisect
import statistics
from datetime import datetime
from typing import Any

from ..config.loader import FeedConfig
from ..normalize.time import parse_iso
from .constants import MAX_RUN_GAP_S


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:  # the store's stamps are written in UTC
        return parse_iso(str(text), naive_zone="UTC")
    except ValueError:
        return None


def _median_minutes(values: list[float]) -> float | None:
    return round(statistics.median(values) / 60, 1) if values else None


def feed_timing(
    cfg: FeedConfig, calls: list[dict[str, Any]], fetches: list[str]
) -> dict[str, Any]:
    """Observed time on feed and publication delay, where runs measured them.

    Time on feed, over calls that left a live listing (``disappeared_at`` set; only
    ``active_calls``/``recent_window`` boards): last seen - first seen is a lower
    bound, disappeared - first seen an upper bound. Publication delay, over calls
    first seen in a run that was not the feed's first (the first run sees the
    backlog, not new calls): first seen - received is an upper bound; the previous
    run's fetch - received (0 if the call came in after it) a lower bound, since the
    call was not listed then. Each counts a call only when the runs around it were
    at most a day apart; otherwise the gap, not the feed, decides the number.
    """
    out: dict[str, Any] = {
        "time_on_feed_median_minutes": None,
        "time_on_feed_upper_median_minutes": None,
        "time_on_feed_n": 0,
        "publication_delay_median_minutes": None,
        "publication_delay_lower_median_minutes": None,
        "publication_delay_n": 0,
    }
    times = [_ts(f) for f in fetches]
    times = [t for t in times if t is not None]
    if cfg.board in ("active_calls", "recent_window"):
        lower, upper = [], []
        for c in calls:
            first, last = _ts(c["first_seen"]), _ts(c["last_seen"])
            gone = _ts(c["disappeared_at"])
            if (
                first
                and last
                and gone
                and (gone - last).total_seconds() <= MAX_RUN_GAP_S
            ):
                lower.append((last - first).total_seconds())
                upper.append((gone - first).total_seconds())
        out["time_on_feed_median_minutes"] = _median_minutes(lower)
        out["time_on_feed_upper_median_minutes"] = _median_minutes(upper)
        out["time_on_feed_n"] = len(lower)
    if len(times) >= 2:
        upper, lower = [], []
        for c in calls:
            first, received = _ts(c["first_seen"]), _ts(c["received_at_utc"])
            if first is None or received is None or first <= times[0]:
                continue
            i = bisect.bisect_left(times, first)
            previous = times[i - 1]
            if (first - previous).total_seconds() > MAX_RUN_GAP_S:
                continue
            upper.append((first - received).total_seconds())
            lower.append(max(0.0, (previous - received).total_seconds()))
        out["publication_delay_median_minutes"] = _median_minutes(upper)
        out["publication_delay_lower_median_minutes"] = _median_minutes(lower)
        out["publication_delay_n"] = len(upper)
    return out
