"""What a feed's numbers rest on, and the checks that can overrule its config.

A reporter quoting "Dallas publishes the call's address" needs to know what was
looked at: a live fetch last week, or a third-party re-export from 2018 that only
kept one beat. This module turns the store's runs and the config's ``capture:``
block into per-feed evidence facts (run mode, evidence window, capture kind and
origin, last live fetch, age), and runs the evidence checks on the stored
addresses and times that may correct what the config says (house numbers that all
end in 00 are hundred blocks, whatever the documented policy).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any

from ..config.loader import FeedConfig
from ..store.base import feed_key_of
from ..store.sqlite import Store
from .timing import _ts

# Evidence older than this many days is marked in the heatmap and the sentences.
EVIDENCE_MAX_AGE_DAYS = 730
# A feed's "exact" house numbers are hundred blocks when at least this share of
# them end in 00 (1 in 100 would by chance), over at least this many records.
ROUNDED_00_MIN_SHARE = 0.9
ROUNDED_00_MIN_N = 20

# The capture kinds of docs/VOCABULARY.md (``vocab.CAPTURE_KINDS``) in a reader's
# words: was this the publisher's own response, or someone else's copy of it?
CAPTURE_KIND_LABELS = {
    "raw": "publisher response",
    "raw_reindented": "publisher response (re-indented)",
    "raw_edited": "publisher response (a few flagged edits, excluded)",
    "client_envelope": "publisher values in a client library's envelope",
    "reexport": "third-party re-export",
    "partial": "third-party re-export that lost fields",
    "none": "no capture",
}
FILTERED = "filtered sample"

_HOUSE = re.compile(r"^\s*(\d+)\s+\S")
# A block label that still carries a house number: "-1000 BLOCK 1170 GULF BLVD".
_BLOCK_WITH_NUMBER = re.compile(r"\bBLOCK\s+(?:OF\s+)?\d+\s+\S", re.IGNORECASE)
_REPO = re.compile(r"^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)\s")


def max_age_days() -> int:
    """The configured age limit (``CFS_EVIDENCE_MAX_AGE_DAYS``), else the default."""
    raw = os.environ.get("CFS_EVIDENCE_MAX_AGE_DAYS")
    if not raw:
        return EVIDENCE_MAX_AGE_DAYS
    try:
        days = int(raw)
    except ValueError as exc:
        raise ValueError(
            f"CFS_EVIDENCE_MAX_AGE_DAYS must be a whole number of days, got {raw!r}"
        ) from exc
    if days <= 0:
        raise ValueError(f"CFS_EVIDENCE_MAX_AGE_DAYS must be positive, got {days}")
    return days


def feed_runs(store: Store, feed_id: str) -> list[dict[str, Any]]:
    """The feed's successful runs that stored records: mode and fetch time."""
    return store.query(
        "SELECT mode, fetched_at FROM runs WHERE feed_key = "
        f"{feed_key_of(store.placeholder)} AND status IN ('ok', 'degraded') AND records > 0 "
        "AND fetched_at IS NOT NULL ORDER BY fetched_at",
        (feed_id,),
    )


def capture_label(cfg: FeedConfig) -> str:
    """publisher response / third-party re-export / filtered sample (config)."""
    capture = cfg.get("capture") or {}
    if capture.get("filter"):
        return FILTERED
    return CAPTURE_KIND_LABELS.get(capture.get("kind"), capture.get("kind") or "")


def origin_url(cfg: FeedConfig) -> str | None:
    """The capture's origin link: ``capture.origin_url``, else the GitHub
    repository its ``origin`` names (``owner/name path @ commit``)."""
    capture = cfg.get("capture") or {}
    if capture.get("origin_url"):
        return capture["origin_url"]
    match = _REPO.match(str(capture.get("origin") or ""))
    return f"https://github.com/{match.group(1)}" if match else None


def evidence_facts(
    cfg: FeedConfig, runs: list[dict[str, Any]], now: datetime | None = None
) -> dict[str, Any]:
    """Run mode, evidence window, capture kind and origin, last live fetch, age."""
    now = now or datetime.now(UTC)
    modes = sorted({str(r["mode"] or "unknown") for r in runs})
    fetched = sorted(t for t in (_ts(r["fetched_at"]) for r in runs) if t)
    live = sorted(
        t for t in (_ts(r["fetched_at"]) for r in runs if r["mode"] == "live") if t
    )
    capture = cfg.get("capture") or {}
    label = capture_label(cfg)
    age = (now - fetched[-1]).days if fetched else None
    limit = max_age_days()
    marks = []
    if age is not None and age > limit:
        marks.append(f"evidence {age // 365} years old")
    if label == FILTERED:
        marks.append(f"filtered sample: {capture['filter']}")
    return {
        "run_mode": "+".join(modes) if modes else None,
        "evidence_first": _iso(fetched[0]) if fetched else None,
        "evidence_last": _iso(fetched[-1]) if fetched else None,
        "evidence_age_days": age,
        "capture_kind_label": label,
        "capture_filter": capture.get("filter"),
        "capture_origin": capture.get("origin"),
        "capture_origin_url": origin_url(cfg),
        "last_live_fetch": _iso(live[-1]) if live else None,
        "evidence_marks": "; ".join(marks) or None,
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------- evidence checks
def rounded_house_numbers(calls: list[dict[str, Any]]) -> tuple[int, int]:
    """(house numbers ending in 00, house numbers) among addresses classed exact."""
    numbers = []
    for c in calls:
        if c.get("address_granularity") != "exact":
            continue
        match = _HOUSE.match(str(c.get("address_raw") or ""))
        if match:
            numbers.append(match.group(1))
    return sum(1 for n in numbers if len(n) >= 3 and n.endswith("00")), len(numbers)


def lowers_exact_to_block(ending_00: int, total: int) -> bool:
    """True when the house numbers are hundred blocks, not exact addresses."""
    return total >= ROUNDED_00_MIN_N and ending_00 / total >= ROUNDED_00_MIN_SHARE


def block_labels_with_number(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Block-level addresses whose text still carries a house number."""
    return [
        c
        for c in calls
        if c.get("address_granularity") == "block"
        and _BLOCK_WITH_NUMBER.search(str(c.get("address_raw") or ""))
    ]


def seen_before_received(calls: list[dict[str, Any]]) -> tuple[int, float | None]:
    """(calls first seen before they were received, largest gap in hours)."""
    gaps = []
    for c in calls:
        first, received = _ts(c.get("first_seen")), _ts(c.get("received_at_utc"))
        if first and received and first < received:
            gaps.append((received - first).total_seconds() / 3600)
    return len(gaps), (round(max(gaps), 2) if gaps else None)


def address_check_rows(feed: str, calls: list[dict[str, Any]]) -> list[tuple]:
    """The address and capture-time checks as (feed, element, metric, value)."""
    rows: list[tuple] = []
    ending, total = rounded_house_numbers(calls)
    rows.append((feed, "address", "exact_ending_00_n", ending))
    rows.append((feed, "address", "exact_house_numbers_n", total))
    if lowers_exact_to_block(ending, total):
        rows.append(
            (
                feed,
                "address",
                "correction",
                f"exact lowered to block: {ending} of {total} house numbers "
                "classed exact end in 00 (hundred blocks)",
            )
        )
    flagged = block_labels_with_number(calls)
    rows.append((feed, "address", "block_label_with_number_n", len(flagged)))
    if flagged:
        rows.append(
            (
                feed,
                "address",
                "block_label_with_number_example",
                flagged[0]["address_raw"],
            )
        )
    n, hours = seen_before_received(calls)
    rows.append((feed, "feed", "first_seen_before_received_n", n))
    if n:
        rows.append(
            (
                feed,
                "feed",
                "first_seen_before_received_note",
                f"{n} calls were received up to {hours:g} hours after the capture's "
                "recorded time: that time is not when these rows were fetched (the "
                "capture spans a period), so their first seen is a lower bound",
            )
        )
    return rows
