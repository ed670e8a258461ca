"""What each feed publishes, measured from the store, beside what Chicago withholds.

The comparison is built in one direction only: a tidy table of
``(feed, element, metric, value)`` rows is computed first (``measure``), and every
export is derived from it, so the wide CSV, the withheld table, the report and the
long CSV can never disagree with each other.

Two kinds of evidence sit side by side for every element of every feed:

- ``documented``: the level the project read from the feed's documentation (the
  config's ``declared:`` key, kept under that name so no config changes; never the
  publisher's own words), linked per element in ``documentation_url``; for Chicago, the ``elements:`` block of ``il_chicago_oemc.yaml`` and the
  source of each claim);
- ``measured``: what arrived, from the stored calls (``elements.HAS`` decides when a
  record carries an element, the same definition as the run reports' fill rates).

``availability`` is the measured level where the store holds records and the
documented level otherwise; ``evidence`` says which one a row shows.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..config import vocab
from ..config.loader import FeedConfig
from ..records.elements import AREA_FIELDS, EXAMPLE_FIELDS, HAS, STAGE_FIELDS
from ..store.base import feed_key_of
from ..store.sqlite import Store
from .constants import (
    ABSENT,
    CHICAGO_TO_AVAILABILITY,
    FEED,
    FINEST_MIN_SHARE,
    FORM_LEVELS,
    LONG_COLUMNS,
    NO_DATA,
    NO_FEED,
    NOT_IN_CAPTURE,
    PUBLISHED_MIN,
    TIME_RESOLUTIONS,
)
from .evidence import (
    address_check_rows,
    evidence_facts,
    feed_runs,
    lowers_exact_to_block,
    rounded_house_numbers,
)
from .forms import FORMS, form_level, form_words, split_by_form, timestamp_stages
from .timing import _ts, feed_timing

log = logging.getLogger(__name__)

# Columns read from the store (everything the measures use, nothing else).
_TIME_RAW = tuple(
    f"{ts}_at_raw" for ts in ("received", "dispatched", "enroute", "onscene", "closed")
)
_CALL_COLUMNS = tuple(
    dict.fromkeys(
        (
            "record_key",
            "call_id",
            "received_at_utc",
            "time_flags",
            *_TIME_RAW,
            *STAGE_FIELDS,
            "address_raw",
            "cross_street_raw",
            "address_granularity",
            "latitude",
            "longitude",
            "coord_granularity",
            "call_type_raw",
            "call_type_code_raw",
            "priority_raw",
            "status_raw",
            "status_basis",
            "disposition_raw",
            "source_raw",
            *AREA_FIELDS,
            "units_raw",
            "unit_count",
            "first_seen",
            "last_seen",
            "disappeared_at",
        )
    )
)


# --------------------------------------------------------------------- helpers
def _present(value: Any) -> bool:
    return (
        value is not None
        and value != ""
        and not (isinstance(value, float) and value != value)
    )


_EPOCH = re.compile(r"^-?\d{9,}(\.\d+)?$")
_CLOCK = re.compile(r"\d{1,2}:\d{2}|T\d{2}")


def time_resolution(
    raw: str | None, utc: str | None, flags: str | None, name: str = "received_at"
) -> str | None:
    """The unit a published time is given in: seconds, minutes, time_only or date.

    ``seconds`` needs non-zero seconds somewhere: a feed whose times all end in
    ``:00`` (``2018-01-09T09:26:00.000``) publishes minutes, whatever its format.
    """
    if not _present(raw):
        return None
    if flags and f"{name}:time_only" in flags:
        return "time_only"
    text = str(raw).strip()
    if not _EPOCH.match(text) and not _CLOCK.search(text):
        return "date"
    parsed = _ts(utc)
    if parsed is None:
        return "unparsed"
    return "seconds" if parsed.second else "minutes"


def _decimals(value: Any) -> int:
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0
    return len(text.split(".", 1)[1].rstrip("0"))


def _example(element: str, rec: dict[str, Any]) -> str:
    """A record's value for an element, as one short readable string."""
    if element == "coordinates":
        return f"{rec['latitude']}, {rec['longitude']}"
    if element == "address":
        parts = [rec.get("address_raw"), rec.get("cross_street_raw")]
        return " / ".join(str(p) for p in parts if _present(p))
    if element in ("stage_times", "area"):
        fields = (
            [f.replace("_utc", "_raw") for f in STAGE_FIELDS]
            if element == "stage_times"
            else AREA_FIELDS
        )
        return "; ".join(
            f"{f.removeprefix('area_').removesuffix('_at_raw')}={rec[f]}"
            for f in fields
            if _present(rec.get(f))
        )
    if element == "units" and not _present(rec.get("units_raw")):
        return f"{rec.get('unit_count')} units"
    for field in EXAMPLE_FIELDS[element]:
        if _present(rec.get(field)):
            return str(rec[field])
    return ""


def _distinct(element: str, records: list[dict[str, Any]]) -> int:
    fields = EXAMPLE_FIELDS[element]
    if element == "units":
        fields = ("units_raw", "unit_count")
    return len({tuple(r.get(f) for f in fields) for r in records})


def measured_level(
    fill_rate: float | None, *, address_policy: str | None = None, element: str = ""
) -> str:
    """published (>= 0.95), partial (> 0), not_published (0); withheld by policy."""
    if fill_rate is None:
        return NO_DATA
    if element == "address" and address_policy == "withheld" and fill_rate == 0:
        return "withheld"
    if fill_rate >= PUBLISHED_MIN:
        return "published"
    return "partial" if fill_rate > 0 else "not_published"


def agreement(declared: str | None, measured: str) -> str:
    """agree / disagree / no data / not documented.

    Levels that all mean "no record-level value" (not_published, withheld,
    foia_only, published_aggregate) agree with each other; published and partial
    agree only with themselves.
    """
    if measured in (NO_DATA, NO_FEED, NOT_IN_CAPTURE):
        return measured
    if not declared:
        return "not documented"
    if measured in FORM_LEVELS:  # documentation read as "partial" for this form
        return "agree" if declared in ("partial", measured) else "disagree"
    if declared == measured or (declared in ABSENT and measured in ABSENT):
        return "agree"
    return "disagree"


# --------------------------------------------------------------------- loading
def _feed_calls(store: Store, feed_id: str) -> list[dict[str, Any]]:
    cols = ", ".join(_CALL_COLUMNS)
    return store.query(
        f"SELECT {cols} FROM calls WHERE feed_key = {feed_key_of(store.placeholder)} "
        "ORDER BY record_key",
        (feed_id,),
    )


def _feed_runs(store: Store, feed_id: str) -> list[str]:
    """Fetch times of the feed's successful runs that stored records, in order."""
    rows = store.query(
        "SELECT DISTINCT fetched_at FROM runs WHERE feed_key = "
        f"{feed_key_of(store.placeholder)} AND status IN ('ok', 'degraded') AND records > 0 "
        "AND fetched_at IS NOT NULL ORDER BY fetched_at",
        (feed_id,),
    )
    return [r["fetched_at"] for r in rows]


def _observation_count(store: Store, feed_id: str) -> int:
    rows = store.query(
        "SELECT COUNT(*) AS n FROM observations JOIN calls USING (call_key) "
        "WHERE feed_key = "
        f"{feed_key_of(store.placeholder)}",
        (feed_id,),
    )
    return int(rows[0]["n"]) if rows else 0


# ------------------------------------------------------------------- measuring
Row = tuple[str, str, str, Any]


def _feed_facts(cfg: FeedConfig) -> list[tuple[str, Any]]:
    d = cfg.data
    policy = d.get("location_policy") or {}
    return [
        ("place", f"{d.get('city')}, {d.get('state')}"),
        ("agency", d.get("agency")),
        ("city", d.get("city")),
        ("state", d.get("state")),
        ("title", d.get("title")),
        ("platform", d.get("platform")),
        ("liveness", d.get("liveness")),
        ("board", cfg.board),
        ("update_interval_minutes", d.get("update_interval_minutes")),
        ("documentation_url", d.get("documentation_url")),
        ("live_urls", " ".join(d.get("urls") or ()) or None),
        ("license", d.get("license")),
        ("verified_against_capture", bool(d.get("verified_against_capture"))),
        ("capture_kind", (d.get("capture") or {}).get("kind")),
        ("location_policy_address", policy.get("address")),
        ("location_policy_coordinates", policy.get("coordinates")),
    ]


def _granularity_rows(
    feed: str, element: str, values: list[str], vocabulary: Iterable[str]
) -> list[Row]:
    counts = Counter(values)
    n = len(values)
    rows: list[Row] = []
    finest = None
    for g in vocabulary:
        share = counts.get(g, 0) / n
        rows.append((feed, element, f"share_{g}", round(share, 4)))
        if (
            finest is None
            and share >= FINEST_MIN_SHARE
            and g not in ("withheld", "unknown", "none", "unparsed")
        ):
            finest = g
    rows.append((feed, element, "finest", finest))
    return rows


def measure_feed(
    cfg: FeedConfig,
    calls: list[dict[str, Any]],
    fetches: list[str],
    observations: int = 0,
    runs: list[dict[str, Any]] | None = None,
) -> list[Row]:
    """Tidy rows for one feed with a platform: facts, evidence, then each element."""
    feed = cfg.feed_id
    n = len(calls)
    rows: list[Row] = [(feed, FEED, k, v) for k, v in _feed_facts(cfg)]
    if runs is None:
        runs = [{"mode": None, "fetched_at": f} for f in fetches]
    rows += [(feed, FEED, k, v) for k, v in evidence_facts(cfg, runs).items()]
    if n:
        rows += address_check_rows(feed, calls)
    received = sorted(c["received_at_utc"] for c in calls if c["received_at_utc"])
    seen_first = min((c["first_seen"] for c in calls), default=None)
    seen_last = max((c["last_seen"] for c in calls), default=None)
    if n:
        evidence = "measured"
    elif cfg.get("verified_against_capture"):
        evidence = "documented only: no stored records"
    else:
        evidence = (
            "documented only: no stored records (config not verified against a capture)"
        )
    rows += [
        (feed, FEED, "evidence", evidence),
        (feed, FEED, "records_stored", n),
        (feed, FEED, "observations", observations),
        (feed, FEED, "runs", len(fetches)),
        (feed, FEED, "received_first", received[0] if received else None),
        (feed, FEED, "received_last", received[-1] if received else None),
        (feed, FEED, "seen_first", seen_first),
        (feed, FEED, "seen_last", seen_last),
        (feed, FEED, "timestamps", timestamp_stages(calls, PUBLISHED_MIN)),
    ]
    rows += [(feed, FEED, k, v) for k, v in feed_timing(cfg, calls, fetches).items()]

    declared = cfg.get("declared") or {}
    lacks = set((cfg.get("capture") or {}).get("lacks") or ())
    policy = (cfg.get("location_policy") or {}).get("address")
    disagreements = []
    doc_url = cfg.get("documentation_url")
    for element in vocab.ELEMENTS:
        has = HAS[element]
        carrying = [c for c in calls if has(c)]
        fill = round(len(carrying) / n, 4) if n else None
        # A value in a coarser form (a time of day, a count) is not the element at
        # full precision: the level is measured on the full-form values only.
        full, reduced = split_by_form(element, carrying)
        full_fill = round(len(full) / n, 4) if n else None
        measured = measured_level(full_fill, address_policy=policy, element=element)
        if reduced and not full:
            measured = form_level(element) or measured
        if element in lacks and not carrying:
            measured = NOT_IN_CAPTURE
        decl = declared.get(element)
        agree = agreement(decl, measured)
        availability = measured if n else (decl or NO_DATA)
        if element in FORMS:
            share = round(len(reduced) / n, 4) if n else None
            note = form_words(element) if reduced else None
            rows += [
                (feed, element, "form_reduced_share", share),
                (feed, element, "form_note", note),
            ]
        rows += [
            (feed, element, "availability", availability),
            (feed, element, "documented", decl),
            (feed, element, "documentation_url", doc_url),
            (feed, element, "measured", measured),
            (feed, element, "agreement", agree),
            (feed, element, "fill_rate", fill),
            (feed, element, "records_with", len(carrying) if n else None),
            (
                feed,
                element,
                "distinct_values",
                _distinct(element, carrying) if n else None,
            ),
        ]
        detail = _element_detail(feed, element, calls, carrying) if n else []
        rows += detail
        if agree == "disagree":
            note = f"{fill:.0%} filled"
            disagreements.append(
                f"{element}: documented {decl}, measured {measured} ({note})"
            )
    rows.append((feed, FEED, "disagreements", "; ".join(disagreements) or None))
    return rows


def _element_detail(
    feed: str, element: str, calls: list[dict[str, Any]], carrying: list[dict[str, Any]]
) -> list[Row]:
    """Granularity, resolution and an example for one element of one feed."""
    rows: list[Row] = []
    example_pool = carrying
    has_ = HAS[element]
    if element == "address":
        grains = [c["address_granularity"] or "unknown" for c in calls]
        if lowers_exact_to_block(*rounded_house_numbers(calls)):
            # Evidence overrules the config: these "exact" numbers are hundred blocks.
            grains = ["block" if g == "exact" else g for g in grains]
        rows += _granularity_rows(feed, element, grains, vocab.ADDRESS_GRANULARITY)
        finest = rows[-1][3]
        example_pool = [
            c for c, g in zip(calls, grains, strict=True) if g == finest and has_(c)
        ]
    elif element == "coordinates":
        grains = [c["coord_granularity"] or "none" for c in calls]
        rows += _granularity_rows(feed, element, grains, vocab.COORD_GRANULARITY)
        decimals = [
            max(_decimals(c["latitude"]), _decimals(c["longitude"])) for c in carrying
        ]
        rows.append(
            (
                feed,
                element,
                "decimals_median",
                statistics.median(decimals) if decimals else None,
            )
        )
    elif element in ("received_time", "stage_times"):
        names = (
            ["received"]
            if element == "received_time"
            else ["dispatched", "enroute", "onscene", "closed"]
        )
        found = [
            time_resolution(
                c[f"{ts}_at_raw"], c[f"{ts}_at_utc"], c["time_flags"], f"{ts}_at"
            )
            for c in calls
            for ts in names
        ]
        found = [f for f in found if f]
        if found:
            rows += _granularity_rows(feed, element, found, TIME_RESOLUTIONS)
            rows[-1] = (feed, element, "resolution", rows[-1][3] or _coarsest(found))
    elif element == "area":
        kinds = [
            f.removeprefix("area_")
            for f in AREA_FIELDS
            if any(_present(c.get(f)) for c in carrying)
        ]
        rows.append((feed, element, "types", ";".join(kinds) or None))
    if example_pool:
        rec = example_pool[0]
        rows.append((feed, element, "example", _example(element, rec)))
        rows.append((feed, element, "example_record_key", rec["record_key"]))
    return rows


def _coarsest(found: list[str]) -> str:
    # Every value under the noise threshold: name the commonest instead of nothing.
    return Counter(found).most_common(1)[0][0]


def measure_chicago(cfg: FeedConfig) -> list[Row]:
    """Chicago's row: a config without a feed, each element's status and source."""
    feed = cfg.feed_id
    # Chicago publishes no listing: the config's liveness/board (required by the
    # schema) would read as if it had one.
    facts = dict(
        _feed_facts(cfg),
        liveness="no public feed",
        board=None,
        update_interval_minutes=None,
    )
    rows: list[Row] = [(feed, FEED, k, v) for k, v in facts.items()]
    rows += [
        (
            feed,
            FEED,
            "evidence",
            "config without a feed: status and source per element",
        ),
        (feed, FEED, "records_stored", 0),
    ]
    elements = cfg.get("elements") or {}
    for element in vocab.ELEMENTS:
        spec = elements.get(element) or {"status": "unknown", "source": None}
        status = spec["status"]
        rows += [
            (feed, element, "availability", CHICAGO_TO_AVAILABILITY[status]),
            (feed, element, "documented", status),
            (feed, element, "documentation_url", citation_urls(spec.get("citations"))),
            (feed, element, "measured", NO_FEED),
            (feed, element, "agreement", NO_FEED),
            (feed, element, "source", spec.get("source")),
            (feed, element, "note", spec.get("note")),
            (feed, element, "levels", format_levels(spec.get("levels"))),
            (feed, element, "citations", format_citations(spec.get("citations"))),
            (feed, element, "citation_urls", citation_urls(spec.get("citations"))),
            (
                feed,
                element,
                "citations_json",
                json.dumps(spec.get("citations") or [], ensure_ascii=False),
            ),
        ]
    rows.append((feed, FEED, "as_of", cfg.get("as_of")))
    return rows


def format_levels(levels: dict[str, str] | None) -> str | None:
    """``exact: withheld; block: foia_only``: a status per precision step."""
    return "; ".join(f"{k}: {v}" for k, v in (levels or {}).items()) or None


def format_citations(citations: list[dict[str, str]] | None) -> str | None:
    """Each citation as ``"quote" (title, url, accessed date)``, joined by ``|``."""
    return (
        " | ".join(
            f"\u201c{c['quote']}\u201d ({c['title']}, {c['url']}, accessed "
            f"{c['accessed']})"
            for c in citations or ()
        )
        or None
    )


def citation_urls(citations: list[dict[str, str]] | None) -> str | None:
    return ";".join(dict.fromkeys(c["url"] for c in citations or ())) or None


def measure(store: Store, configs: dict[str, FeedConfig]) -> pd.DataFrame:
    """The tidy comparison: one (feed, element, metric, value) row per fact."""
    rows: list[Row] = []
    for feed_id in sorted(configs):
        cfg = configs[feed_id]
        if not cfg.has_feed:
            if cfg.get("elements"):
                rows += measure_chicago(cfg)
            continue
        calls = _feed_calls(store, feed_id)
        rows += measure_feed(
            cfg,
            calls,
            _feed_runs(store, feed_id),
            _observation_count(store, feed_id) if calls else 0,
            runs=feed_runs(store, feed_id),
        )
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS), dtype=object)
