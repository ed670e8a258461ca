"""A call's history as spans: the rules, without SQL or Scrapy.

The store keeps no row per sighting. It keeps, per call:

- **versions**: maximal runs of sightings with the same published values (the
  change hash of the raw record), as ``Version(start, end, value)``: the call was
  seen with ``value`` at ``start`` and at ``end`` and, between them, at no sighting
  with another value. A new version is the first sighting or a change.
- **presence** (live listings only): maximal runs of sightings with no complete
  listing between two of them that lacked the call, as ``Span(start, end)``. The
  call was on every complete listing from ``start`` to ``end``.

These functions apply one sighting (or one listing) to a call's spans, in any
order: runs committed out of order (concurrent writers, re-imported history) give
the spans runs in order would. Where a sighting falls inside a run it breaks, the
new boundaries are the neighbouring sightings the store still knows: the ends of
spans, and the complete listings that held the call (``inner``). On a live listing
every sighting of a whole run is such a listing, so the answer is exact. A
sighting known only from a partial read (an incremental fetch, a failed run), or
on a feed without listings, is remembered only as a span end: a later, earlier-
dated sighting that breaks its run takes the nearest end as the boundary.

Times are ISO 8601 UTC text of one format (they compare as strings).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace

# times strictly between two times at which the call is known to have been seen
Inner = Callable[[str, str], list[str]]
# whether a complete listing lies strictly between two times
ListingBetween = Callable[[str, str], bool]


@dataclass(frozen=True)
class Version:
    start: str
    end: str
    value: bytes | str  # the change hash (any comparable value will do here)


@dataclass(frozen=True)
class Span:
    start: str
    end: str


def _no_inner(a: str, b: str) -> list[str]:
    return []


def add_version(
    versions: list[Version], t: str, value: bytes | str | None, inner: Inner = _no_inner
) -> list[Version]:
    """The call's versions after a sighting at ``t`` with ``value`` (``None``: a
    sighting without values, e.g. an id on a listing: it only extends the version
    in force at ``t``). ``versions`` are sorted by start and never overlap.

    A sighting at the very time of another with a different value (a duplicate in
    one fetch) changes nothing: the first one written stands.
    """
    starts = [v.start for v in versions]
    i = bisect_right(starts, t) - 1  # the version in force at t, if any
    prev = versions[i] if i >= 0 else None
    nxt = versions[i + 1] if i + 1 < len(versions) else None
    out = list(versions)
    if value is None or (prev is not None and prev.value == value):
        if prev is not None and t > prev.end:
            out[i] = replace(prev, end=t)
        return out
    if prev is not None and t <= prev.end:  # inside prev's run: it breaks it
        if t in (prev.start, prev.end):
            return out
        left_end = max([prev.start, *inner(prev.start, t)])
        right_start = min([*inner(t, prev.end), prev.end])
        out[i : i + 1] = [
            Version(prev.start, left_end, prev.value),
            Version(t, t, value),
            Version(right_start, prev.end, prev.value),
        ]
        return out
    if nxt is not None and nxt.value == value:  # the next run started earlier
        out[i + 1] = replace(nxt, start=t)
        return out
    out.insert(i + 1, Version(t, t, value))
    return out


def add_presence(
    spans: list[Span], t: str, listing_between: ListingBetween
) -> list[Span]:
    """The call's presence after a sighting at ``t``: it joins the span before
    (after) it unless a complete listing lies between them."""
    starts = [s.start for s in spans]
    i = bisect_right(starts, t) - 1
    if i >= 0 and spans[i].start <= t <= spans[i].end:
        return list(spans)
    prev = spans[i] if i >= 0 else None
    nxt = spans[i + 1] if i + 1 < len(spans) else None
    start, end, lo, hi = t, t, i + 1, i + 1
    if prev is not None and not listing_between(prev.end, t):
        start, lo = prev.start, i
    if nxt is not None and not listing_between(t, nxt.start):
        end, hi = nxt.end, i + 2
    out = list(spans)
    out[lo:hi] = [Span(start, end)]
    return out


def cut_presence(spans: list[Span], listing: str, inner: Inner) -> list[Span]:
    """The call's presence after a complete listing at ``listing`` that did not
    hold it: a span around that time is cut in two at the nearest known
    sightings (``inner``: the listings inside the span, which held the call)."""
    out = []
    for s in spans:
        if s.start < listing < s.end:
            out.append(Span(s.start, max([s.start, *inner(s.start, listing)])))
            out.append(Span(min([*inner(listing, s.end), s.end]), s.end))
        else:
            out.append(s)
    return out


def present_at(spans: list[Span], t: str) -> bool:
    return any(s.start <= t <= s.end for s in spans)
