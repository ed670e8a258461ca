"""Timestamps: every value kept raw, as aware UTC and as feed-local time.

Feeds publish time in four shapes: Socrata floating local times, ArcGIS epoch
milliseconds (UTC unless the layer declares another reference), US-format portal
exports, and ISO/RFC-822 strings with an offset (Atom, RSS). Local wall-clock times
are localized with the feed's IANA zone, which every config must declare: no zone is
ever assumed. A local time that falls in the fall-back hour is ambiguous and one in
the spring-forward gap does not exist; both are flagged instead of guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

# Formats tried, in order, when a feed does not list its own.
DEFAULT_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %I:%M:%S %p",
    "%Y/%m/%d %H:%M:%S",
)

_OFFSET_RE = re.compile(r"\s*(Z|[+-]\d{2}:?\d{2})$")
# strptime directives that carry a time of day
_CLOCK_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%T", "%X", "%R", "%c", "%f")


@dataclass(frozen=True, slots=True)
class TimeValue:
    """One published timestamp, normalized.

    ``basis`` says why the UTC value is trusted: an offset in the value
    (``explicit_offset``), the platform's documented UTC (``platform_utc``), or the
    feed's documented zone applied to a wall-clock time (``documented_local``).
    """

    raw: str | None
    utc: datetime | None
    local: datetime | None
    tz: str
    basis: str | None
    flag: str | None = None
    # A value published as a date alone (flag ``date``): no instant is claimed
    # (``utc`` and ``local`` are ``None``) and the local date is kept here as
    # ISO text (``2019-10-18``) instead of reading as local midnight.
    day: str | None = None


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def localize(naive: datetime, tz: str) -> tuple[datetime, str | None]:
    """Attach ``tz`` to a wall-clock time, flagging DST edge cases.

    Returns the aware time (fold=0 for an ambiguous time, the pre-gap offset for a
    non-existent one: both are flagged so no reader mistakes them for certain).
    """
    z = zone(tz)
    first = naive.replace(tzinfo=z, fold=0)
    second = naive.replace(tzinfo=z, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first, None
    # Offsets differ: either the hour repeats (ambiguous) or it never happened.
    round_trip = first.astimezone(UTC).astimezone(z).replace(tzinfo=None)
    if round_trip == naive:
        return first, "ambiguous"
    return first, "nonexistent"


def _from_aware(raw: str, aware: datetime, tz: str, basis: str) -> TimeValue:
    utc = aware.astimezone(UTC)
    return TimeValue(raw, utc, utc.astimezone(zone(tz)), tz, basis)


def _from_naive(raw: str, naive: datetime, tz: str, basis: str) -> TimeValue:
    local, flag = localize(naive, tz)
    return TimeValue(raw, local.astimezone(UTC), local, tz, basis, flag)


def _date_value(raw: str, naive: datetime, tz: str) -> TimeValue:
    """A date without a time of day: flagged ``date``, no instant claimed."""
    return TimeValue(
        raw, None, None, tz, "documented_local", "date", naive.date().isoformat()
    )


def unparsed(raw: object, tz: str) -> TimeValue:
    text = None if raw is None else str(raw)
    flag = None if text in (None, "") else "unparsed"
    return TimeValue(text or None, None, None, tz, None, flag)


def parse_epoch(
    raw: object, tz: str, *, unit: str = "ms", reference: str = "UTC"
) -> TimeValue:
    """Epoch numbers (ArcGIS dates). ``reference`` is the layer's declared time zone."""
    text = None if raw is None else str(raw)
    try:
        number = float(raw)  # type: ignore[arg-type]
        seconds = number / 1000.0 if unit == "ms" else number
        instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except (TypeError, ValueError, OverflowError):
        return unparsed(raw, tz)
    if reference.upper() in ("UTC", "ETC/UTC", "GMT"):
        return _from_aware(text or "", instant, tz, "platform_utc")
    # A layer that declares a local reference stores wall-clock time as if UTC.
    return _from_naive(
        text or "", instant.replace(tzinfo=None), reference, "documented_local"
    )


def parse_time(
    raw: object,
    *,
    tz: str,
    formats: tuple[str, ...] | list[str] | None = None,
    epoch: str | None = None,
    epoch_reference: str = "UTC",
    ignore_offset: bool = False,
    time_only_reference: datetime | None = None,
) -> TimeValue:
    """Parse one published timestamp. Never raises.

    ``ignore_offset`` is for exports that print an offset the publisher does not
    mean (Seattle's old portal CSV prints ``+0000`` on local times); the value is
    then read as documented local time. ``time_only_reference`` (the aware fetch time)
    supplies the date for pages that show only a time of day (``HHMM``, ``3:33 AM``,
    or the feed's ``formats``): the latest such local time not after the fetch. The
    result is flagged ``time_only`` because its date is inferred.
    """
    if raw is None:
        return unparsed(None, tz)
    if epoch:
        return parse_epoch(raw, tz, unit=epoch, reference=epoch_reference)
    text = str(raw).strip()
    if not text:
        return unparsed(None, tz)
    try:
        if time_only_reference is not None:
            return _time_only(text, tz, time_only_reference, formats)
        return _parse_text(text, tz, tuple(formats or DEFAULT_FORMATS), ignore_offset)
    except (ValueError, OverflowError, TypeError, KeyError):
        return unparsed(text, tz)


def _parse_text(
    text: str, tz: str, formats: tuple[str, ...], ignore_offset: bool
) -> TimeValue:
    if text[:4].isdigit() and text[4:5] == "-":
        # ISO 8601 (Socrata floating, Atom with offset): the C parser, fast path.
        try:
            value = read_iso(text)
        except ValueError:
            value = None
        if value is not None:
            if len(text) == 10:  # "2019-10-18": a date, not local midnight
                return _date_value(text, value, tz)
            if value.tzinfo is None:
                return _from_naive(text, value, tz, "documented_local")
            if not ignore_offset:
                return _from_aware(text, value, tz, "explicit_offset")
            return _from_naive(text, value.replace(tzinfo=None), tz, "documented_local")
    if not ignore_offset and text[:3].isalpha() and "," in text[:5]:
        # RFC 822 (RSS pubDate), e.g. "Fri, 09 May 2025 15:42:00 -0400".
        try:
            aware = parsedate_to_datetime(text)
            if aware.tzinfo is not None:
                return _from_aware(text, aware, tz, "explicit_offset")
        except (TypeError, ValueError, IndexError):
            pass
    body = _OFFSET_RE.sub("", text).rstrip() if ignore_offset else text
    for fmt in formats:
        try:
            naive = datetime.strptime(body, fmt)
        except ValueError:
            continue
        if not any(d in fmt for d in _CLOCK_DIRECTIVES):
            return _date_value(text, naive, tz)
        if naive.tzinfo is not None:
            if not ignore_offset:
                return _from_aware(text, naive, tz, "explicit_offset")
            naive = naive.replace(tzinfo=None)
        return _from_naive(text, naive, tz, "documented_local")
    return unparsed(text, tz)


# A time of day on a 12-hour clock: "3:33 AM", "11:04 p.m.", "7:27:05PM".
_CLOCK_12H = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp])\.?\s*[Mm]\.?$")


# HHMM or H:MM on a 24-hour clock (Caddo's "1513"); nothing else.
_CLOCK_24H = re.compile(r"^(\d{1,2}):?(\d{2})$")


def _time_of_day(
    text: str, formats: tuple[str, ...] | list[str] | None
) -> tuple[int, int, int] | None:
    """(hour, minute, second) of a time shown without a date, or None.

    The feed's own ``formats`` (``%I:%M %p``) are tried first; without them a
    12-hour clock with AM/PM, then 3-4 digits (``HHMM``, ``H:MM``) on a 24-hour
    clock. Anything else is not a time of day.
    """
    for fmt in formats or ():
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.hour, parsed.minute, parsed.second
    if formats:
        return None
    m = _CLOCK_12H.match(text)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m.group(4) in "Pp" else 0)
        return hour, minute, int(m.group(3) or 0)
    m = _CLOCK_24H.match(text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), 0


def _time_only(
    text: str,
    tz: str,
    reference: datetime,
    formats: tuple[str, ...] | list[str] | None = None,
) -> TimeValue:
    clock = _time_of_day(text, formats)
    if clock is None:
        return unparsed(text, tz)
    hour, minute, second = clock
    ref_local = reference.astimezone(zone(tz))
    naive = datetime(
        ref_local.year, ref_local.month, ref_local.day, hour, minute, second
    )
    if naive > ref_local.replace(tzinfo=None) + timedelta(minutes=5):
        naive -= timedelta(days=1)  # shown before midnight, fetched after it
    value = _from_naive(text, naive, tz, "documented_local")
    return TimeValue(
        value.raw, value.utc, value.local, tz, value.basis, value.flag or "time_only"
    )


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``: the one time format of every export."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value.year < 1000:  # strftime does not pad such a year: keep its text
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    # the same text as strftime("%Y-%m-%dT%H:%M:%SZ"), a few times faster
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


# ------------------------------------------------------------- ISO 8601 stamps
read_iso = datetime.fromisoformat  # the one ISO 8601 reader (naive or aware)


class NaiveTimestampError(ValueError):
    """An ISO 8601 stamp without an offset where no zone was named for it."""


def parse_iso(value: str | datetime, *, naive_zone: str | None = None) -> datetime:
    """An ISO 8601 stamp (text, or a datetime as YAML reads one) as aware UTC.

    The rule for naive input (no offset, no ``Z``): refused with
    ``NaiveTimestampError``, unless the caller names the zone the stamp is in,
    ``naive_zone`` (an IANA name). The project's own stamps (store, run reports,
    high-water marks) are written in UTC, so their readers pass ``"UTC"``; a
    capture time in a manifest names no zone and is refused. Text that is not ISO
    8601 raises ``ValueError``.
    """
    stamp = (
        value
        if isinstance(value, datetime)
        else read_iso(str(value).replace("Z", "+00:00"))
    )
    if stamp.tzinfo is None:
        if naive_zone is None:
            raise NaiveTimestampError(f"{value!r} has no offset: say which zone")
        stamp = stamp.replace(tzinfo=zone(naive_zone))
    return stamp.astimezone(UTC)


def iso_local(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
