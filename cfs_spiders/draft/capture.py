"""When each saved response was captured, and what that says about the feed.

A replayed snapshot is stamped with its capture time (the fetch time of every
record in it), so the manifest needs one per file. In order of trust:
``--captured-at``; the file's own timestamp (an archive's poll times, an Atom
feed's ``<updated>``, an RSS ``lastBuildDate``, a JSON envelope's
``last_updated``, a page's "Last updated:" line, a ``data_as_of`` column); else
the newest record time, which can only be earlier than the fetch. The manifest
note says which. A time without an offset is read in the feed's zone and the
note says so: no zone is ever assumed silently.

The capture times also give the draft's guess of liveness: records spanning days
or ending days before the capture are a history, not a live board.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..normalize.time import localize, parse_time
from .detect import Capture, DraftError
from .profile import flatten, text

_PAGE_STAMP = re.compile(
    r"(last\s+updated|data\s+as\s+of|updated|as\s+of)\s*:?\s*(?:&nbsp;|\s)*"
    r"(\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)",
    re.I,
)
_PAGE_FORMATS = [
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y %I:%M:%S %p",
]
_ENVELOPE_KEYS = re.compile(
    r"^(last_?updated|updated(_at)?|generated(_at)?|as_?of"
    r"|data_as_of|timestamp|fetched(_at)?|retrieved(_at)?)$",
    re.I,
)
_AS_OF_COLUMN = re.compile(r"^(data_)?as_?of$", re.I)


@dataclass
class CaptureTime:
    at: datetime
    note: str


def parse_given(value: str, tz: str) -> CaptureTime:
    """A --captured-at value: ISO 8601; without an offset it is read in ``tz``."""
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DraftError(
            f"--captured-at {value!r}: expected ISO 8601, e.g. 2024-05-18T19:03:00Z"
        ) from None
    if stamp.tzinfo is None:
        local, _ = localize(stamp, tz)
        return CaptureTime(
            local, f"given with --captured-at, without offset: read in {tz}"
        )
    return CaptureTime(stamp, "given with --captured-at")


def _aware(value: str, tz: str) -> tuple[datetime, bool] | None:
    tv = parse_time(value, tz=tz)
    if tv.utc is None:
        return None
    return tv.utc, tv.basis == "explicit_offset"


def own_timestamp(cap: Capture, tz: str) -> CaptureTime | None:
    """The capture time the file states about itself, if it states one."""
    if cap.format == "xml":
        root = cap.data
        for child in root.iter():
            local = child.tag.rsplit("}", 1)[-1]
            if (
                local in ("updated", "lastBuildDate", "pubDate")
                and (child.text or "").strip()
            ):
                got = _aware(child.text.strip(), tz)
                if got:
                    label = "<updated>" if local == "updated" else f"<{local}>"
                    return CaptureTime(got[0], f"the feed's own {label}")
            if child is not root and local in ("entry", "item"):
                break
    if cap.format == "json" and isinstance(cap.data, dict):
        for key, value in cap.data.items():
            if isinstance(value, str) and _ENVELOPE_KEYS.match(key):
                tv = parse_time(value, tz=tz)
                if tv.utc is not None and tv.basis == "explicit_offset":
                    return CaptureTime(tv.utc, f"the response's own `{key}`")
    if cap.format == "html":
        page = re.sub(r"<[^>]+>", " ", cap.text).replace("&nbsp;", " ")
        m = _PAGE_STAMP.search(page)
        if m:
            stamp = " ".join(m.group(2).split())
            tv = parse_time(stamp, tz=tz, formats=_PAGE_FORMATS)
            if tv.utc is not None:
                label = " ".join(m.group(1).split())
                return CaptureTime(
                    tv.utc, f"the page's own '{label}' line ({stamp}), read in {tz}"
                )
    return None


def as_of_column(records: list[dict[str, Any]], tz: str) -> CaptureTime | None:
    """A dataset's ``data_as_of`` column: the newest value."""
    best = None
    name = None
    for raw in records[:5000]:
        for key, value in flatten(raw).items():
            if not _AS_OF_COLUMN.match(key):
                continue
            t = text(value)
            tv = parse_time(t, tz=tz, formats=["%Y/%m/%d %I:%M:%S %p"]) if t else None
            if tv and tv.utc and (best is None or tv.utc > best):
                best, name = tv.utc, key
    if best is None:
        return None
    return CaptureTime(best, f"the newest `{name}` in the file, read in {tz}")


def newest_record(times: list[datetime]) -> CaptureTime | None:
    if not times:
        return None
    return CaptureTime(
        max(times),
        "no capture time in the file: the newest record's time stands in "
        "(the fetch was at or after it)",
    )


def liveness(
    snapshot_times: list[list[datetime]], captured: list[datetime]
) -> tuple[str, str, str]:
    """(liveness, board, evidence) guessed from record times and capture times."""
    spans, lags = [], []
    for times, at in zip(snapshot_times, captured, strict=True):
        if times:
            spans.append(max(times) - min(times))
            lags.append(at - max(times))
    if not spans:
        return "live", "recent_window", "guess: no record times to go by"
    span, lag = max(spans), max(lags)
    hours = span.total_seconds() / 3600
    if span > timedelta(days=3) or lag > timedelta(days=2):
        return (
            "history",
            "history",
            f"guess: records span {hours / 24:.0f} days, the newest "
            f"{lag.total_seconds() / 86400:.1f} days before the capture",
        )
    return (
        "live",
        "recent_window",
        f"guess: records span {hours:.1f} h, the newest "
        f"{max(lag.total_seconds(), 0) / 60:.0f} min before the capture",
    )


def board_kind(listings: list[dict[str, datetime]]) -> tuple[str, str] | None:
    """What leaving the listing means, from successive snapshots (call id ->
    time, in capture order): on an active-calls board calls leave when they
    close, so some leave while older ones stay; a window of the latest calls
    always drops its oldest."""
    early = total = 0
    for a, b in zip(listings, listings[1:], strict=False):
        if not a or not b:
            continue
        staying = [t for k, t in a.items() if k in b]
        oldest_staying = min(staying) if staying else None
        for k, t in a.items():
            if k in b:
                continue
            total += 1
            early += oldest_staying is not None and t > oldest_staying
    if total < 3:
        return None
    if early >= 0.2 * total:
        return "active_calls", (
            f"{early} of {total} calls left the listing while older ones stayed: "
            "calls leave when they close"
        )
    return "recent_window", (
        f"the {total} calls that left the listing were always its oldest: a window "
        "of the latest calls"
    )


def now() -> datetime:
    return datetime.now(UTC)
