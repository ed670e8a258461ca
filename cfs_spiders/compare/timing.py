"""Time on feed and publication delay, read off the times of consecutive runs."""

from __future__ import annotations

import bisect
import statistics
from datetime import datetime
from typing import Any

from ..config.loader import FeedConfig
from ..normalize.time import parse_iso
from .constants import MAX_RUN_GAP_S

# Durations read off runs say how often the runs looked, not how the feed behaves,
# when the runs are far apart or few: withheld (in the report and the sentences)
# when the median spacing exceeds this multiple of the documented cadence, or when
# fewer runs than this saw the feed.
MAX_SPACING_TO_CADENCE = 2.0
MIN_TIMING_RUNS = 3


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
    times = sorted(t for t in (_ts(f) for f in fetches) if t is not None)
    out.update(timing_quality(cfg, times))
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


def timing_quality(cfg: FeedConfig, times: list[datetime]) -> dict[str, Any]:
    """How well the runs could measure durations: spacing, window, and why not.

    ``timing_withheld`` names the reason the durations must not be quoted (too few
    runs, or runs spaced more than twice the cadence apart); ``leaving_means``
    says what a call leaving the listing is evidence of.
    """
    gaps = [
        (b - a).total_seconds() / 60 for a, b in zip(times, times[1:], strict=False)
    ]
    spacing = round(statistics.median(gaps), 1) if gaps else None
    cadence = cfg.get("update_interval_minutes")
    reason = None
    if len(times) < MIN_TIMING_RUNS:
        reason = f"only {len(times)} run(s) saw the feed (at least {MIN_TIMING_RUNS})"
    elif cadence and spacing and spacing > MAX_SPACING_TO_CADENCE * float(cadence):
        reason = (
            f"runs a median {spacing:g} minutes apart, more than "
            f"{MAX_SPACING_TO_CADENCE:g}x the {float(cadence):g}-minute cadence"
        )
    leaving = {
        "active_calls": "the call closed (or was removed)",
        "recent_window": "the call rolled off the window of recent calls, not that "
        "it closed",
    }.get(cfg.board)
    return {
        "run_spacing_median_minutes": spacing,
        "run_spacing_min_minutes": round(min(gaps), 1) if gaps else None,
        "run_spacing_max_minutes": round(max(gaps), 1) if gaps else None,
        "timing_window_first": times[0].strftime("%Y-%m-%dT%H:%M:%SZ")
        if times
        else None,
        "timing_window_last": times[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
        if times
        else None,
        "timing_withheld": reason,
        "leaving_means": leaving,
    }
