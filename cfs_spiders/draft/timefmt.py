"""Which values are timestamps, and in what format: inferred, then validated.

Every filled value of a field is tried against the shapes feeds publish: ISO 8601
(with or without an offset), RFC 822, US 12- and 24-hour dates with 2- or 4-digit
years, epoch seconds or milliseconds, a date alone, a time alone. The smallest set
of formats that reads every value is proposed, and then checked with the project's
own parser (``normalize.time.parse_time``), value by value, so the evidence line
(``parsed 41/41 as %m/%d/%Y %H:%M``) says what a replay will do.

A date-only field next to a time-only field (``Date`` + ``Time``) is proposed as a
pair joined by a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from ..normalize.time import parse_time
from .profile import Field, squash

US = [
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y %I:%M:%S %p",
    "%m/%d/%y %I:%M %p",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%y %H:%M",
    "%m/%d/%Y %I:%M:%S %p %z",
    "%m/%d/%Y %H:%M:%S %z",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %I:%M:%S %p",
    "%Y/%m/%d %I:%M:%S %p",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y%m%d%H%M%S",
    "%d-%b-%Y %H:%M:%S",
    "%d-%b-%y %I:%M:%S %p",
    "%b %d %Y %I:%M%p",
    "%b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M %p",
    "%a %b %d %H:%M:%S %Y",
]
DATE_ONLY = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d"]
TIME_24 = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
TIME_12 = re.compile(r"^(0?[1-9]|1[0-2]):[0-5]\d(:[0-5]\d)?\s*[AaPp][Mm]$")
HHMM = re.compile(r"^([01]?\d|2[0-3])[0-5]\d$")
_MIN_S, _MAX_S = 946684800, 2208988800  # 2000-01-01 .. 2040-01-01
_REF = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class TimeGuess:
    """How one field's values read as times."""

    kind: str  # iso | rfc822 | format | epoch | date_only | time_only | time_12h
    label: str
    formats: list[str] = field(default_factory=list)
    epoch: str | None = None
    epoch_reference: str | None = None
    parsed: int = 0
    total: int = 0
    offset: bool = False  # values carry their own UTC offset
    midnight: float = 0.0  # share of parsed values at 00:00:00
    fields: list[str] = field(default_factory=list)  # a date + time pair

    @property
    def rate(self) -> float:
        return self.parsed / self.total if self.total else 0.0

    @property
    def usable(self) -> bool:
        """A dated instant a replay can store."""
        return self.kind in ("iso", "rfc822", "format", "epoch", "time_only") and (
            self.rate >= 0.7
        )

    def options(self) -> dict[str, Any]:
        """The mapping's time options for these values."""
        if self.kind == "epoch":
            opts: dict[str, Any] = {"epoch": self.epoch}
            if self.epoch_reference:
                opts["epoch_reference"] = self.epoch_reference
            return opts
        if self.kind == "time_only":
            return {"time_only": True}
        if self.formats:
            return {
                "format": self.formats[0] if len(self.formats) == 1 else self.formats
            }
        return {}

    def evidence(self) -> str:
        what = (
            self.label
            if not self.fields
            else f"{' + '.join(self.fields)} as {self.label}"
        )
        text = f"parsed {self.parsed}/{self.total} as {what}"
        if self.offset:
            text += " (offset in the value)"
        return text


@lru_cache(maxsize=1)
def twelve_hour_time_only() -> bool:
    """Whether this version's time parser dates ``11:04 PM`` shown without a date
    (the drafter proposes only what a replay can read)."""
    ref = datetime(2020, 6, 1, 23, 30, tzinfo=UTC)
    tv = parse_time("11:04 PM", tz="UTC", time_only_reference=ref)
    return tv.utc is not None and tv.utc.hour == 23


def _iso(value: str) -> datetime | None:
    if not (value[:4].isdigit() and value[4:5] == "-"):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _rfc822(value: str) -> datetime | None:
    if not (value[:3].isalpha() and "," in value[:5]):
        return None
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return stamp if stamp.tzinfo else None


def _strptime(value: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        return None


def _cover(values: list[str], formats: list[str]) -> list[str]:
    """The fewest formats (at most 3) that read the most values, greedily."""
    left = list(values)
    chosen: list[str] = []
    while left and len(chosen) < 3:
        best, best_n = None, 0
        for fmt in formats:
            if fmt in chosen:
                continue
            n = sum(1 for v in left if _strptime(v, fmt) is not None)
            if n > best_n:
                best, best_n = fmt, n
        if best is None:
            break
        chosen.append(best)
        left = [v for v in left if _strptime(v, best) is None]
    return chosen


def validate(
    texts: list[str], options: dict[str, Any], tz: str
) -> tuple[int, float, bool]:
    """(values the project's parser reads, share at midnight, any offset)."""
    fmts = options.get("format")
    formats = [fmts] if isinstance(fmts, str) else fmts
    ok = midnight = 0
    offset = False
    for value in texts:
        tv = parse_time(
            value,
            tz=tz,
            formats=formats,
            epoch=options.get("epoch"),
            epoch_reference=options.get("epoch_reference", "UTC"),
            time_only_reference=_REF if options.get("time_only") else None,
        )
        if tv.utc is None:
            continue
        ok += 1
        offset = offset or tv.basis == "explicit_offset"
        local = tv.local
        if local is not None and (local.hour, local.minute, local.second) == (0, 0, 0):
            midnight += 1
    return ok, (midnight / ok if ok else 0.0), offset


def _epoch(f: Field) -> str | None:
    numbers = []
    for v in f.values:
        if v is None or v == "":
            continue
        if isinstance(v, bool):
            return None
        try:
            numbers.append(float(v))
        except (TypeError, ValueError):
            return None
    if not numbers:
        return None
    if all(_MIN_S <= x <= _MAX_S for x in numbers):
        return "s"
    if all(_MIN_S * 1000 <= x <= _MAX_S * 1000 for x in numbers):
        return "ms"
    return None


def infer_time(f: Field, tz: str, *, name_says_time: bool = False) -> TimeGuess | None:
    """How ``f`` reads as times, or None when it does not."""
    texts = f.filled
    if not texts:
        return None
    total = len(texts)
    if f.numeric_share >= 0.99:
        unit = _epoch(f)
        if unit:
            g = TimeGuess("epoch", f"epoch {unit}", epoch=unit, total=total)
            opts = g.options()
            g.parsed, g.midnight, _ = validate(texts, opts, tz)
            return g
        if name_says_time and all(HHMM.match(t) for t in texts):
            g = TimeGuess("time_only", "HHMM, no date", total=total)
            g.parsed, _, _ = validate(texts, g.options(), tz)
            return g
        return None
    sample = list(dict.fromkeys(texts))[:3000]
    if all(TIME_24.match(t) for t in sample):
        g = TimeGuess("time_only", "time of day, no date", total=total)
        g.formats = ["%H:%M:%S" if sample[0].count(":") == 2 else "%H:%M"]
        g.parsed, _, _ = validate(texts, {"time_only": True}, tz)
        return g
    if all(TIME_12.match(t) for t in sample):
        if not twelve_hour_time_only():
            return TimeGuess(
                "time_12h", "12-hour time of day, no date", total=total, parsed=0
            )
        g = TimeGuess("time_only", "12-hour time of day, no date", total=total)
        g.formats = ["%I:%M:%S %p" if sample[0].count(":") == 2 else "%I:%M %p"]
        g.parsed, _, _ = validate(texts, {"time_only": True}, tz)
        return g
    iso = [t for t in sample if _iso(t) is not None]
    rfc = [t for t in sample if t not in iso and _rfc822(t) is not None]
    rest = [t for t in sample if t not in iso and t not in rfc]
    if len(iso) + len(rfc) + len(rest) == 0:
        return None
    if not rest and iso and all(len(t) <= 10 for t in iso):
        return TimeGuess(
            "date_only",
            "a date without a time",
            ["%Y-%m-%d"],
            total=total,
            parsed=total,
            midnight=1.0,
        )
    formats: list[str] = []
    if rest:
        formats = _cover(rest, US)
        read = sum(1 for v in rest if any(_strptime(v, x) for x in formats))
        if not formats or read < 0.5 * len(rest):
            dates = _cover(rest, DATE_ONLY)
            if (
                dates
                and all(any(_strptime(v, x) for x in dates) for v in rest)
                and not iso
            ):
                return TimeGuess(
                    "date_only",
                    "a date without a time",
                    dates,
                    total=total,
                    parsed=total,
                    midnight=1.0,
                )
            if len(rest) > 0.3 * len(sample):
                return None
            formats = []
    if iso and not rest:
        kind, label = "iso", "ISO 8601"
    elif rfc and not rest and not iso:
        kind, label = "rfc822", "RFC 822"
    else:
        kind = "format"
        label = " or ".join(formats) if formats else "ISO 8601"
        if iso and formats:
            label += " (and ISO 8601)"
    g = TimeGuess(kind, label, formats, total=total)
    g.parsed, g.midnight, g.offset = validate(texts, g.options(), tz)
    if g.midnight >= 0.98 and total >= 3:
        g.kind, g.label = "date_only", "a date (every time is 00:00)"
    return g


def _stem(name: str) -> str:
    return re.sub(r"(date|time|dttm|dt|tm)", "", squash(name))


def find_pairs(
    guesses: dict[str, TimeGuess], fields: dict[str, Field], tz: str
) -> list[TimeGuess]:
    """Date-only + time-only fields of the same records, joined with a space."""
    dates = [n for n, g in guesses.items() if g.kind == "date_only"]
    times = [n for n, g in guesses.items() if g.kind == "time_only" and g.formats]
    out = []
    for d in dates:
        for t in times:
            if _stem(d) != _stem(t):
                continue
            fd, ft = fields[d], fields[t]
            joined = [
                f"{a} {b}"
                for a, b in zip(fd.texts, ft.texts, strict=True)
                if a is not None and b is not None
            ]
            if len(joined) < 0.9 * max(len(fd.filled), 1):
                continue
            dfmts = guesses[d].formats or ["%Y-%m-%d"]
            fmt = f"{dfmts[0]} {guesses[t].formats[0]}"
            g = TimeGuess("format", fmt, [fmt], total=len(joined), fields=[d, t])
            g.parsed, g.midnight, g.offset = validate(joined, g.options(), tz)
            if g.rate >= 0.9:
                out.append(g)
    return out


def wall_clock_match(
    epoch_field: Field, unit: str, text_field: Field, text_guess: TimeGuess, tz: str
) -> float:
    """Share of records where an epoch's UTC wall clock equals a text time read
    as local: the layer stores local time as if it were UTC (Oakland)."""
    fmts = text_guess.options().get("format")
    formats = [fmts] if isinstance(fmts, str) else fmts
    same = total = 0
    for e, t in zip(epoch_field.texts, text_field.texts, strict=True):
        if e is None or t is None:
            continue
        total += 1
        ev = parse_time(e, tz=tz, epoch=unit)
        tv = parse_time(t, tz=tz, formats=formats)
        if ev.utc is None or tv.local is None:
            continue
        if ev.utc.replace(tzinfo=None) == tv.local.replace(tzinfo=None):
            same += 1
    return same / total if total else 0.0
