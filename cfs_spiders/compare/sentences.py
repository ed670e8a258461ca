"""The report's sentences, each computed from the tidy comparison table.

Places (a city or county, from each config's ``city`` and ``state``) are the unit
of every count: a reporter writes "4 of 12 places publish priority", not "6 of 16
feeds". One rule decides whether a place publishes an element, stated once in
``RULE``: at least one of its feeds with stored records carries the element in at
least 95% of them. Feeds are named as detail. A sentence never claims a level
finer than the finest one that holds for the place, and says so when the evidence
behind a place is old or a filtered sample.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from ..config import vocab
from .constants import (
    CHICAGO_FEED_ID,
    COUNT_ONLY,
    ELEMENT_LABELS,
    FEED,
    FORM_LEVELS,
    NOT_IN_CAPTURE,
    PUBLISHED_MIN,
    TIME_OF_DAY_ONLY,
)

RULE = (
    f"A place publishes an element when at least one of its feeds with stored "
    f"records carries it in at least {PUBLISHED_MIN:.0%} of those records; "
    "'for some calls' when a feed carries it in fewer, but more than none."
)
ELEMENT_PHRASES = {
    "id": "a call id",
    "received_time": "the time the call was received",
    "stage_times": "dispatch, arrival or closing times",
    "address": "an address",
    "coordinates": "coordinates",
    "call_type": "the call type",
    "priority": "the call's priority",
    "status": "the call's status",
    "disposition": "the disposition (how the call ended)",
    "call_source": "the call's source (911, officer-initiated, ...)",
    "area": "an area (district, beat, ...)",
    "units": "the units sent",
}
STATUS_WORDS = {
    "published": "published",
    "published_aggregate": "published only as counts",
    "foia_only": "available only through a FOIA request",
    "withheld": "withheld",
    "not_collected": "not collected",
    "unknown": "unknown (no public source found)",
}
ADDRESS_STEPS = ("exact", "block", "intersection", "street", "area")
# A value carried in a coarser form than the element (compare/forms.py).
FORM_PHRASES = {
    TIME_OF_DAY_ONLY: "a time of day with no date",
    COUNT_ONLY: "a count of units, not which units",
}


def index(long: pd.DataFrame) -> dict[tuple[str, str, str], Any]:
    return {(r.feed, r.element, r.metric): r.value for r in long.itertuples()}


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if number != number else number


def measured_feeds(idx: dict) -> list[str]:
    return sorted(
        f
        for (f, e, m), v in idx.items()
        if e == FEED and m == "evidence" and v == "measured"
    )


def places(idx: dict) -> dict[str, list[str]]:
    """Place -> its feeds with stored records."""
    out: dict[str, list[str]] = defaultdict(list)
    for f in measured_feeds(idx):
        out[str(idx.get((f, FEED, "place")) or f)].append(f)
    return dict(sorted(out.items()))


def place_level(idx: dict, feeds: list[str], element: str) -> str:
    """published / partial / none for a place: its best feed, by the one rule."""
    levels = {idx.get((f, element, "measured")) for f in feeds}
    if "published" in levels:
        return "published"
    if "partial" in levels:
        return "partial"
    for form in FORM_LEVELS:
        if form in levels:
            return form
    return NOT_IN_CAPTURE if NOT_IN_CAPTURE in levels else "none"


def place_address_finest(idx: dict, feeds: list[str]) -> str | None:
    """The finest address step that holds for at least 5% of a feed's records."""
    found = [idx.get((f, "address", "finest")) for f in feeds]
    found = [g for g in found if g in ADDRESS_STEPS]
    return min(found, key=ADDRESS_STEPS.index) if found else None


def marked(idx: dict, feeds: list[str]) -> bool:
    """True when every feed of the place rests on old or filtered evidence."""
    return bool(feeds) and all(idx.get((f, FEED, "evidence_marks")) for f in feeds)


def chicago_words(idx: dict, element: str) -> str:
    levels = idx.get((CHICAGO_FEED_ID, element, "levels"))
    if levels:
        parts = []
        for part in str(levels).split("; "):
            step, _, status = part.partition(": ")
            parts.append(f"{step} {STATUS_WORDS.get(status, status)}")
        return "in Chicago: " + ", ".join(parts)
    status = idx.get((CHICAGO_FEED_ID, element, "documented"))
    return f"in Chicago it is {STATUS_WORDS.get(status, 'not recorded')}"


def _names(items: list[str]) -> str:
    return ", ".join(items)


def findings(long: pd.DataFrame) -> list[str]:
    """The report's findings: places counted, feeds as detail, evidence marked."""
    idx = index(long)
    by_place = places(idx)
    n = len(by_place)
    out: list[str] = []
    if not n:
        return ["No feed has stored records yet: nothing was measured."]
    old = sorted(p for p, fs in by_place.items() if marked(idx, fs))
    fine = {
        p: place_address_finest(idx, fs)
        for p, fs in by_place.items()
        if place_level(idx, fs, "address") != "none"
    }
    exact = sorted(p for p, g in fine.items() if g == "exact")
    block = sorted(p for p, g in fine.items() if g in ("exact", "block"))
    out.append(
        f"{len(block)} of {n} places publish an address at block level or finer for "
        f"at least 5% of calls; {len(exact)} of them an exact house number "
        f"({_names(exact) or 'none'}); {chicago_words(idx, 'address')}."
    )
    for f in measured_feeds(idx):
        note = idx.get((f, "address", "correction"))
        if note:
            place = idx.get((f, FEED, "place"))
            out.append(
                f"{place} ({f}) is counted at block level although its config "
                f"documents exact addresses: {note}."
            )
    for element in vocab.ELEMENTS:
        if element == "address":
            continue
        full = sorted(
            p
            for p, fs in by_place.items()
            if place_level(idx, fs, element) == "published"
        )
        part = sorted(
            p
            for p, fs in by_place.items()
            if place_level(idx, fs, element) == "partial"
        )
        extras = [f"{len(part)} more for some calls"] if part else []
        for form in FORM_LEVELS:
            only = sorted(
                p for p, fs in by_place.items() if place_level(idx, fs, element) == form
            )
            if only:
                extras.append(
                    f"{len(only)} more with only {FORM_PHRASES[form]}: {_names(only)}"
                )
        more = f" ({'; '.join(extras)})" if extras else ""
        caveat = [p for p in full if p in old]
        warn = (
            f"; for {len(caveat)} of them the only evidence is old or a filtered sample"
            if caveat
            else ""
        )
        out.append(
            f"{len(full)} of {n} places publish {ELEMENT_PHRASES[element]} for at "
            f"least {PUBLISHED_MIN:.0%} of calls{more}{warn}; "
            f"{chicago_words(idx, element)}."
        )
    if old:
        out.append(
            f"For {len(old)} of {n} places every feed's evidence is older than the "
            f"age limit or a filtered sample ({_names(old)}): what they publish now "
            "may differ."
        )
    out += _check_sentences(idx)
    out += _duration_sentences(idx)
    disagree = sorted(
        {f for (f, e, m), v in idx.items() if m == "agreement" and v == "disagree"}
    )
    if disagree:
        count = sum(
            1 for (f, e, m), v in idx.items() if m == "agreement" and v == "disagree"
        )
        out.append(
            f"On {count} element(s) of {len(disagree)} feed(s), what arrived differs "
            "from the levels the project read from the publisher's documentation "
            "(linked in the feed table): the documentation may be out of date, or "
            "the project's reading of it wrong."
        )
    return out


def timestamp_conflicts(idx: dict, feeds: list[str]) -> list[str]:
    """Feeds of one agency, each with one timestamp, that name different stages."""
    single: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for f in feeds:
        stages = idx.get((f, FEED, "timestamps"))
        if stages and ";" not in str(stages):
            single[str(idx.get((f, FEED, "agency")))].append((f, str(stages)))
    out = []
    for agency, pairs in sorted(single.items()):
        if len({s for _, s in pairs}) > 1:
            named = ", ".join(f"{f} gives it as {s}" for f, s in pairs)
            out.append(
                f"The feeds of {agency} each give one timestamp but disagree on "
                f"which it is ({named}); each feed is counted as mapped, and the "
                "two cannot both be right."
            )
    return out


def _check_sentences(idx: dict) -> list[str]:
    out = []
    for place, feeds in places(idx).items():
        out += [f"{place}: {s}" for s in timestamp_conflicts(idx, feeds)]
    for f in measured_feeds(idx):
        n = int(_num(idx.get((f, "address", "block_label_with_number_n"))))
        if n:
            out.append(
                f"{idx.get((f, FEED, 'place'))} ({f}): {n} block-level addresses "
                "still carry a house number inside the block label, e.g. "
                f"'{idx.get((f, 'address', 'block_label_with_number_example'))}'."
            )
        note = idx.get((f, FEED, "first_seen_before_received_note"))
        if note:
            out.append(f"{idx.get((f, FEED, 'place'))} ({f}): {note}.")
    return out


def _duration_sentences(idx: dict) -> list[str]:
    out = []
    withheld = []
    for f in measured_feeds(idx):
        reason = idx.get((f, FEED, "timing_withheld"))
        has = _num(idx.get((f, FEED, "time_on_feed_n"))) or _num(
            idx.get((f, FEED, "publication_delay_n"))
        )
        if reason:
            if has:
                withheld.append(f"{f} ({reason})")
            continue
        spacing = idx.get((f, FEED, "run_spacing_median_minutes"))
        window = (
            f"runs from {idx.get((f, FEED, 'timing_window_first'))} to "
            f"{idx.get((f, FEED, 'timing_window_last'))}, a median {spacing} "
            "minutes apart"
        )
        n_on = int(_num(idx.get((f, FEED, "time_on_feed_n"))))
        if n_on:
            leaving = idx.get((f, FEED, "leaving_means")) or "the call left"
            out.append(
                f"{f}: calls that left the listing had been on it between "
                f"{idx.get((f, FEED, 'time_on_feed_median_minutes'))} and "
                f"{idx.get((f, FEED, 'time_on_feed_upper_median_minutes'))} minutes "
                f"(medians, {n_on} calls; {window}); leaving means {leaving}."
            )
        n_delay = int(_num(idx.get((f, FEED, "publication_delay_n"))))
        if n_delay:
            out.append(
                f"{f}: calls new to the listing had been received between "
                f"{idx.get((f, FEED, 'publication_delay_lower_median_minutes'))} and "
                f"{idx.get((f, FEED, 'publication_delay_median_minutes'))} minutes "
                f"before they were first seen (medians, {n_delay} calls; {window})."
            )
    if withheld:
        out.append(
            "Time on listing and publication delay are not quoted for "
            f"{len(withheld)} feed(s), because the runs could not measure them: "
            + "; ".join(withheld)
            + "."
        )
    return out


def place_summaries(long: pd.DataFrame) -> dict[str, str]:
    """One generated paragraph per place: feeds, evidence, what it publishes."""
    idx = index(long)
    out = {}
    for place, feeds in places(idx).items():
        full = [
            ELEMENT_LABELS[e]
            for e in vocab.ELEMENTS
            if place_level(idx, feeds, e) == "published"
        ]
        part = [
            ELEMENT_LABELS[e]
            for e in vocab.ELEMENTS
            if place_level(idx, feeds, e) == "partial"
        ]
        none = [
            ELEMENT_LABELS[e]
            for e in vocab.ELEMENTS
            if place_level(idx, feeds, e) == "none"
        ]
        firsts = sorted(str(idx.get((f, FEED, "evidence_first"))) for f in feeds)
        lasts = sorted(str(idx.get((f, FEED, "evidence_last"))) for f in feeds)
        kinds = sorted({str(idx.get((f, FEED, "capture_kind_label"))) for f in feeds})
        modes = sorted({str(idx.get((f, FEED, "run_mode"))) for f in feeds})
        finest = place_address_finest(idx, feeds)
        text = (
            f"{len(feeds)} feed(s) with stored records ({_names(feeds)}), evidence "
            f"from {firsts[0][:10]} to {lasts[-1][:10]} ({_names(modes)}; "
            f"{_names(kinds)}). Published for at least {PUBLISHED_MIN:.0%} of calls: "
            f"{_names(full) or 'nothing'}."
        )
        if part:
            text += f" For some calls: {_names(part)}."
        if none:
            text += f" Not published: {_names(none)}."
        missing = [
            ELEMENT_LABELS[e]
            for e in vocab.ELEMENTS
            if place_level(idx, feeds, e) == NOT_IN_CAPTURE
        ]
        if missing:
            text += f" Not in capture (unknown whether published): {_names(missing)}."
        for form in FORM_LEVELS:
            only = [
                ELEMENT_LABELS[e]
                for e in vocab.ELEMENTS
                if place_level(idx, feeds, e) == form
            ]
            if only:
                text += f" Only {FORM_PHRASES[form]}: {_names(only)}."
        for conflict in timestamp_conflicts(idx, feeds):
            text += f" {conflict}"
        if finest:
            text += f" Finest address: {finest}."
        marks = [
            f"{f}: {idx.get((f, FEED, 'evidence_marks'))}"
            for f in feeds
            if idx.get((f, FEED, "evidence_marks"))
        ]
        if marks:
            text += " Caution: " + "; ".join(marks) + "."
        out[place] = text
    return out
