"""The report's sentences, rebuilt from the raw evidence without the comparison's code.

Used by ``test_report_sentences.py``. The definitions the project documents
(docs/VOCABULARY.md, the report's method section) are written out again here:
which calls.csv columns carry an element, the 95% and 5% rules, the 00 check,
the value forms (a time of day, a count of units), run spacing and durations,
and the words each sentence uses. Inputs: ``calls.csv`` (csv module), the
store's ``runs`` table (sqlite3) and the YAML configs (yaml.safe_load).
"""

from __future__ import annotations

import bisect
import csv
import os
import re
import sqlite3
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import yaml

from cfs_spiders.store.base import RUNS_FROM  # noqa: F401

CHICAGO = "il_chicago_oemc"
ELEMENTS = (
    "id",
    "received_time",
    "stage_times",
    "address",
    "coordinates",
    "call_type",
    "priority",
    "status",
    "disposition",
    "call_source",
    "area",
    "units",
)
LABEL = {
    "id": "call id",
    "received_time": "received time",
    "stage_times": "other stage times",
    "address": "address",
    "coordinates": "coordinates",
    "call_type": "call type",
    "priority": "priority",
    "status": "status",
    "disposition": "disposition",
    "call_source": "call source",
    "area": "area",
    "units": "units",
}
PHRASE = {
    "id": "a call id",
    "received_time": "the time the call was received",
    "stage_times": "dispatch, arrival or closing times",
    "coordinates": "coordinates",
    "call_type": "the call type",
    "priority": "the call's priority",
    "status": "the call's status",
    "disposition": "the disposition (how the call ended)",
    "call_source": "the call's source (911, officer-initiated, ...)",
    "area": "an area (district, beat, ...)",
    "units": "the units sent",
}
CHICAGO_WORDS = {
    "published": "published",
    "published_aggregate": "published only as counts",
    "foia_only": "available only through a FOIA request",
    "withheld": "withheld",
    "not_collected": "not collected",
    "unknown": "unknown (no public source found)",
}
KIND_LABEL = {
    "raw": "publisher response",
    "raw_reindented": "publisher response (re-indented)",
    "raw_edited": "publisher response (a few flagged edits, excluded)",
    "client_envelope": "publisher values in a client library's envelope",
    "reexport": "third-party re-export",
    "partial": "third-party re-export that lost fields",
}
STAGES = ("dispatched", "enroute", "onscene", "closed")
ADDRESS_STEPS = ("exact", "block", "intersection", "street", "area")
ABSENT = {"not_published", "withheld", "foia_only", "published_aggregate"}
TIME_ONLY, COUNT = "time of day only", "count only"
FORM_PHRASE = {
    TIME_ONLY: "a time of day with no date",
    COUNT: "a count of units, not which units",
}
# A place's level for an element: its best feed, in this order.
PLACE_ORDER = ("published", "partial", TIME_ONLY, COUNT, "not in capture")
DAY_S = 24 * 3600


def load_evidence(calls_csv: Path, db: Path, configs_dir: Path) -> dict:
    """calls.csv by feed (sorted by record key), the configs, each feed's runs."""
    with open(calls_csv, newline="", encoding="utf-8") as fh:
        calls = list(csv.DictReader(fh))
    feeds: dict[str, list[dict[str, str]]] = defaultdict(list)
    for c in calls:
        feeds[c["feed_id"]].append(c)
    for rows in feeds.values():
        rows.sort(key=lambda c: c["record_key"])
    configs = {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(configs_dir.glob("*.yaml"))
    }
    runs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with sqlite3.connect(db) as con:
        for feed_id, mode, fetched in con.execute(
            f"SELECT feed_id, mode, fetched_at FROM {RUNS_FROM} WHERE status IN "
            "('ok','degraded') AND records > 0 AND fetched_at IS NOT NULL"
        ):
            runs[feed_id].append((mode, fetched))
    return {"feeds": dict(sorted(feeds.items())), "configs": configs, "runs": runs}


def ts(text: str) -> datetime | None:
    if not text:
        return None
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def carries(element: str, c: dict[str, str]) -> bool:
    if element == "address":
        return c["address_granularity"] not in ("", "withheld", "unknown")
    if element == "coordinates":
        return bool(c["latitude"] and c["longitude"])
    columns = {
        "id": ["call_id"],
        "received_time": ["received_at_utc"],
        "stage_times": [f"{s}_at_utc" for s in STAGES],
        "call_type": ["call_type_raw", "call_type_code_raw"],
        "priority": ["priority_raw"],
        "status": ["status_raw"],
        "disposition": ["disposition_raw"],
        "call_source": ["source_raw"],
        "area": [k for k in c if k.startswith("area_")],
        "units": ["units_raw", "unit_count"],
    }[element]
    return any(c[k] for k in columns)


def coarse(element: str, c: dict[str, str]) -> bool:
    """The value is there in a coarser form than the element: a time of day
    (flagged time_only by the record builder), a count instead of unit ids."""
    if element == "units":
        return not c["units_raw"] and bool(c["unit_count"])
    names = {"received_time": ("received",), "stage_times": STAGES}.get(element)
    if not names:
        return False
    held = [n for n in names if c[f"{n}_at_utc"]]
    return bool(held) and all(f"{n}_at:time_only" in c["time_flags"] for n in held)


def feed_level(ev: dict, feed_id: str, element: str) -> str:
    rows = ev["feeds"][feed_id]
    cfg = ev["configs"][feed_id]
    carrying = [c for c in rows if carries(element, c)]
    full = [c for c in carrying if not coarse(element, c)]
    share = round(len(full) / len(rows), 4)
    policy = (cfg.get("location_policy") or {}).get("address")
    if element == "address" and policy == "withheld" and not full:
        level = "withheld"
    else:
        level = "published" if share >= 0.95 else "partial" if share else "none"
    if carrying and not full:
        level = COUNT if element == "units" else TIME_ONLY
    if element in ((cfg.get("capture") or {}).get("lacks") or ()) and not carrying:
        level = "not in capture"
    return level


def house_numbers(rows: list[dict[str, str]]) -> tuple[int, int]:
    numbers = [
        m.group(1)
        for c in rows
        if c["address_granularity"] == "exact"
        and (m := re.match(r"^\s*(\d+)\s+\S", c["address_raw"]))
    ]
    return sum(1 for n in numbers if len(n) >= 3 and n.endswith("00")), len(numbers)


def feed_finest(rows: list[dict[str, str]]) -> str | None:
    ending, total = house_numbers(rows)
    hundred_blocks = total >= 20 and ending / total >= 0.9
    grains = [c["address_granularity"] or "unknown" for c in rows]
    if hundred_blocks:
        grains = ["block" if g == "exact" else g for g in grains]
    for step in ADDRESS_STEPS:
        if grains.count(step) / len(grains) >= 0.05:
            return step
    return None


def max_age() -> int:
    return int(os.environ.get("CFS_EVIDENCE_MAX_AGE_DAYS") or 730)


def fetch_times(ev: dict, feed_id: str) -> list[datetime]:
    return sorted({ts(f) for _, f in ev["runs"][feed_id]})


def marks(ev: dict, feed_id: str) -> str:
    out = []
    age = (datetime.now(UTC) - fetch_times(ev, feed_id)[-1]).days
    if age > max_age():
        out.append(f"evidence {age // 365} years old")
    capture = ev["configs"][feed_id].get("capture") or {}
    if capture.get("filter"):
        out.append(f"filtered sample: {capture['filter']}")
    return "; ".join(out)


def kind_label(cfg: dict) -> str:
    capture = cfg.get("capture") or {}
    return "filtered sample" if capture.get("filter") else KIND_LABEL[capture["kind"]]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def names(items: list[str]) -> str:
    return ", ".join(items)


# ----------------------------------------------------------- the sentences
def place_map(ev: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for feed_id in ev["feeds"]:
        cfg = ev["configs"][feed_id]
        out[f"{cfg['city']}, {cfg['state']}"].append(feed_id)
    return dict(sorted(out.items()))


def place_level(ev: dict, feeds: list[str], element: str) -> str:
    levels = {feed_level(ev, f, element) for f in feeds}
    return next((lv for lv in PLACE_ORDER if lv in levels), "none")


def chicago_words(ev: dict, element: str) -> str:
    spec = ev["configs"][CHICAGO]["elements"].get(element) or {"status": "unknown"}
    if spec.get("levels"):
        steps = [f"{k} {CHICAGO_WORDS[v]}" for k, v in spec["levels"].items()]
        return "in Chicago: " + ", ".join(steps)
    return f"in Chicago it is {CHICAGO_WORDS[spec['status']]}"


def timestamp_conflicts(ev: dict, feeds: list[str]) -> list[str]:
    single: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for f in feeds:
        rows = ev["feeds"][f]
        held = [
            s
            for s in ("received", *STAGES)
            if sum(1 for c in rows if c[f"{s}_at_utc"]) / len(rows) >= 0.95
        ]
        if len(held) == 1:
            single[ev["configs"][f]["agency"]].append((f, held[0]))
    return [
        f"The feeds of {agency} each give one timestamp but disagree on which it "
        f"is ({', '.join(f'{f} gives it as {s}' for f, s in pairs)}); each feed is "
        "counted as mapped, and the two cannot both be right."
        for agency, pairs in sorted(single.items())
        if len({s for _, s in pairs}) > 1
    ]


def timing(ev: dict, feed_id: str) -> dict:
    """Run spacing, why durations are withheld, and the two durations."""
    cfg, rows = ev["configs"][feed_id], ev["feeds"][feed_id]
    times = fetch_times(ev, feed_id)
    gaps = [
        (b - a).total_seconds() / 60 for a, b in zip(times, times[1:], strict=False)
    ]
    spacing = round(statistics.median(gaps), 1) if gaps else None
    cadence = cfg.get("update_interval_minutes")
    reason = None
    if len(times) < 3:
        reason = f"only {len(times)} run(s) saw the feed (at least 3)"
    elif cadence and spacing and spacing > 2 * cadence:
        reason = (
            f"runs a median {spacing:g} minutes apart, more than 2x the "
            f"{float(cadence):g}-minute cadence"
        )
    on, on_up, delay, delay_low = [], [], [], []
    if cfg["board"] in ("active_calls", "recent_window"):
        for c in rows:
            first, last = ts(c["first_seen_utc"]), ts(c["last_seen_utc"])
            gone = ts(c["disappeared_at_utc"])
            if first and last and gone and (gone - last).total_seconds() <= DAY_S:
                on.append((last - first).total_seconds())
                on_up.append((gone - first).total_seconds())
    if len(times) >= 2:
        for c in rows:
            first, received = ts(c["first_seen_utc"]), ts(c["received_at_utc"])
            if not first or not received or first <= times[0]:
                continue
            before = times[bisect.bisect_left(times, first) - 1]
            if (first - before).total_seconds() > DAY_S:
                continue
            delay.append((first - received).total_seconds())
            delay_low.append(max(0.0, (before - received).total_seconds()))

    def med(values: list[float]) -> float | None:
        return round(statistics.median(values) / 60, 1) if values else None

    return {
        "times": times,
        "spacing": spacing,
        "reason": reason,
        "on": (med(on), med(on_up), len(on)),
        "delay": (med(delay_low), med(delay), len(delay)),
    }


def disagreement_pairs(ev: dict) -> list[tuple[str, str, str, str]]:
    """(feed, element, documented, measured) where the measured level differs
    from the config's ``declared:`` block (the levels read from the documentation)."""
    pairs = []
    for f in ev["feeds"]:
        declared = ev["configs"][f].get("declared") or {}
        for e in ELEMENTS:
            measured = feed_level(ev, f, e).replace("none", "not_published")
            doc = declared.get(e)
            if measured == "not in capture" or not doc:
                continue
            if measured in (TIME_ONLY, COUNT):
                agree = doc in ("partial", measured)
            else:
                agree = doc == measured or (doc in ABSENT and measured in ABSENT)
            if not agree:
                pairs.append((f, e, doc, measured))
    return pairs


def expected_findings(ev: dict) -> list[str]:
    places = place_map(ev)
    n = len(places)
    old = sorted(p for p, fs in places.items() if all(marks(ev, f) for f in fs))
    finest = {
        p: min(
            (g for f in fs if (g := feed_finest(ev["feeds"][f]))),
            key=ADDRESS_STEPS.index,
            default=None,
        )
        for p, fs in places.items()
        if place_level(ev, fs, "address") != "none"
    }
    exact = sorted(p for p, g in finest.items() if g == "exact")
    block = [p for p, g in finest.items() if g in ("exact", "block")]
    out = [
        f"{len(block)} of {n} places publish an address at block level or finer for "
        f"at least 5% of calls; {len(exact)} of them an exact house number "
        f"({names(exact) or 'none'}); {chicago_words(ev, 'address')}."
    ]
    for f, rows in ev["feeds"].items():
        ending, total = house_numbers(rows)
        if total >= 20 and ending / total >= 0.9:
            cfg = ev["configs"][f]
            out.append(
                f"{cfg['city']}, {cfg['state']} ({f}) is counted at block level "
                "although its config documents exact addresses: exact lowered to "
                f"block: {ending} of {total} house numbers classed exact end in 00 "
                "(hundred blocks)."
            )
    for e in ELEMENTS:
        if e == "address":
            continue
        level = {p: place_level(ev, fs, e) for p, fs in places.items()}
        full = sorted(p for p, lv in level.items() if lv == "published")
        part = [p for p, lv in level.items() if lv == "partial"]
        extras = [f"{len(part)} more for some calls"] if part else []
        for form in (TIME_ONLY, COUNT):
            only = sorted(p for p, lv in level.items() if lv == form)
            if only:
                extras.append(
                    f"{len(only)} more with only {FORM_PHRASE[form]}: {names(only)}"
                )
        more = f" ({'; '.join(extras)})" if extras else ""
        caveat = [p for p in full if p in old]
        warn = (
            f"; for {len(caveat)} of them the only evidence is old or a filtered sample"
            if caveat
            else ""
        )
        out.append(
            f"{len(full)} of {n} places publish {PHRASE[e]} for at least 95% of "
            f"calls{more}{warn}; {chicago_words(ev, e)}."
        )
    if old:
        out.append(
            f"For {len(old)} of {n} places every feed's evidence is older than the "
            f"age limit or a filtered sample ({names(old)}): what they publish now "
            "may differ."
        )
    for p, fs in places.items():
        out += [f"{p}: {s}" for s in timestamp_conflicts(ev, fs)]
    for f, rows in ev["feeds"].items():
        cfg = ev["configs"][f]
        place = f"{cfg['city']}, {cfg['state']}"
        labelled = [
            c["address_raw"]
            for c in rows
            if c["address_granularity"] == "block"
            and re.search(r"\bBLOCK\s+(?:OF\s+)?\d+\s+\S", c["address_raw"], re.I)
        ]
        if labelled:
            out.append(
                f"{place} ({f}): {len(labelled)} block-level addresses still carry "
                f"a house number inside the block label, e.g. '{labelled[0]}'."
            )
        gaps = [
            (r - s).total_seconds() / 3600
            for c in rows
            if (s := ts(c["first_seen_utc"]))
            and (r := ts(c["received_at_utc"]))
            and s < r
        ]
        if gaps:
            out.append(
                f"{place} ({f}): {len(gaps)} calls were received up to "
                f"{round(max(gaps), 2):g} hours after the capture's recorded time: "
                "that time is not when these rows were fetched (the capture spans a "
                "period), so their first seen is a lower bound."
            )
    out += expected_durations(ev)
    pairs = disagreement_pairs(ev)
    count, feeds = len(pairs), len({p[0] for p in pairs})
    if count:
        out.append(
            f"On {count} element(s) of {feeds} feed(s), what arrived differs from "
            "the levels the project read from the publisher's documentation (linked "
            "in the feed table): the documentation may be out of date, or the "
            "project's reading of it wrong."
        )
    return out


def expected_durations(ev: dict) -> list[str]:
    out, withheld = [], []
    leaving = {
        "active_calls": "the call closed (or was removed)",
        "recent_window": "the call rolled off the window of recent calls, not "
        "that it closed",
    }
    for f in ev["feeds"]:
        t = timing(ev, f)
        if t["reason"]:
            if t["on"][2] or t["delay"][2]:
                withheld.append(f"{f} ({t['reason']})")
            continue
        window = (
            f"runs from {iso(t['times'][0])} to {iso(t['times'][-1])}, a median "
            f"{t['spacing']} minutes apart"
        )
        low, high, k = t["on"]
        if k:
            out.append(
                f"{f}: calls that left the listing had been on it between {low} and "
                f"{high} minutes (medians, {k} calls; {window}); leaving means "
                f"{leaving.get(ev['configs'][f]['board'], 'the call left')}."
            )
        low, high, k = t["delay"]
        if k:
            out.append(
                f"{f}: calls new to the listing had been received between {low} and "
                f"{high} minutes before they were first seen (medians, {k} calls; "
                f"{window})."
            )
    if withheld:
        out.append(
            "Time on listing and publication delay are not quoted for "
            f"{len(withheld)} feed(s), because the runs could not measure them: "
            + "; ".join(withheld)
            + "."
        )
    return out


def expected_places(ev: dict) -> dict[str, str]:
    out = {}
    for place, feeds in place_map(ev).items():
        level = {e: place_level(ev, feeds, e) for e in ELEMENTS}

        def at(lv: str, level: dict = level) -> list[str]:
            return [LABEL[e] for e in ELEMENTS if level[e] == lv]

        times = [t for f in feeds for t in fetch_times(ev, f)]
        modes = sorted({"+".join(sorted({m for m, _ in ev["runs"][f]})) for f in feeds})
        kinds = sorted({kind_label(ev["configs"][f]) for f in feeds})
        text = (
            f"{len(feeds)} feed(s) with stored records ({names(feeds)}), evidence "
            f"from {iso(min(times))[:10]} to {iso(max(times))[:10]} "
            f"({names(modes)}; {names(kinds)}). Published for at least 95% of "
            f"calls: {names(at('published')) or 'nothing'}."
        )
        if at("partial"):
            text += f" For some calls: {names(at('partial'))}."
        if at("none"):
            text += f" Not published: {names(at('none'))}."
        if at("not in capture"):
            text += (
                " Not in capture (unknown whether published): "
                f"{names(at('not in capture'))}."
            )
        for form in (TIME_ONLY, COUNT):
            if at(form):
                text += f" Only {FORM_PHRASE[form]}: {names(at(form))}."
        for conflict in timestamp_conflicts(ev, feeds):
            text += f" {conflict}"
        finest = [g for f in feeds if (g := feed_finest(ev["feeds"][f]))]
        if finest:
            text += f" Finest address: {min(finest, key=ADDRESS_STEPS.index)}."
        cautions = [f"{f}: {m}" for f in feeds if (m := marks(ev, f))]
        if cautions:
            text += " Caution: " + "; ".join(cautions) + "."
        out[place] = text
    return out
