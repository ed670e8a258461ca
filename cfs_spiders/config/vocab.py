"""Closed vocabularies of the common record, in one place.

Codes are those of the project's domain reference, documented in
``docs/VOCABULARY.md`` (generated from this module); the record JSON Schema, the
config schema, the normalizers and the exports all read them from here, so a code
is added or renamed once.
"""

from __future__ import annotations

from collections.abc import Iterable

ADDRESS_GRANULARITY = (
    "exact",
    "block",
    "intersection",
    "street",
    "area",
    "withheld",
    "unknown",
)
# A linear order, finest first, for sorting and display only. Precision itself is
# a partial order (``finer_or_equal``): compare two codes with that, not with this.
ADDRESS_RANK = {g: i for i, g in enumerate(ADDRESS_GRANULARITY)}
# What the published string is (``address_form``), before the feed's policy is
# applied: the same codes, because a string's form and the precision it can mean
# are both read on one scale.
ADDRESS_FORMS = ADDRESS_GRANULARITY

# The precision of a location is a partial order, not a line. A block (a hundred
# numbers of one street) and an intersection (the corner of two streets) are both
# coarser than an exact address and finer than the street, but neither is finer
# than the other. ``withheld`` and ``unknown`` carry no location: every location
# code is finer than both, and they are not comparable with each other. Each code
# maps to the codes immediately coarser than it.
_ADDRESS_COARSER: dict[str, tuple[str, ...]] = {
    "exact": ("block", "intersection"),
    "block": ("street",),
    "intersection": ("street",),
    "street": ("area",),
    "area": ("withheld", "unknown"),
    "withheld": (),
    "unknown": (),
}


def _coarser_closure() -> dict[str, frozenset[str]]:
    closure: dict[str, frozenset[str]] = {}
    for code in ADDRESS_GRANULARITY:
        seen: set[str] = {code}
        todo = list(_ADDRESS_COARSER[code])
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo.extend(_ADDRESS_COARSER[nxt])
        closure[code] = frozenset(seen)
    return closure


# code -> every code at least as coarse as it (itself included)
ADDRESS_AT_LEAST_AS_COARSE = _coarser_closure()


def finer_or_equal(a: str, b: str) -> bool | None:
    """Whether address precision ``a`` is at least as fine as ``b``.

    ``True`` when ``a`` is finer than or equal to ``b``, ``False`` when it is
    strictly coarser, ``None`` when the two are not comparable (``block`` and
    ``intersection``; ``withheld`` and ``unknown``). A comparison that needs "the
    finest published" must treat ``None`` as "neither", never as a tie broken
    by ``ADDRESS_RANK``. Unknown codes raise ``KeyError``.
    """
    if b in ADDRESS_AT_LEAST_AS_COARSE[a]:
        return True
    if a in ADDRESS_AT_LEAST_AS_COARSE[b]:
        return False
    return None


def finest_address(codes: Iterable[str]) -> list[str]:
    """The minimal elements of ``codes`` under ``finer_or_equal``, in
    ``ADDRESS_GRANULARITY`` order: one code, or several incomparable ones (a feed
    that publishes blocks and intersections has both as its finest)."""
    present = {c for c in codes if c in ADDRESS_AT_LEAST_AS_COARSE}
    return [
        c
        for c in ADDRESS_GRANULARITY
        if c in present and not any(o != c and finer_or_equal(o, c) for o in present)
    ]


COORD_GRANULARITY = (
    "exact",
    "snapped_intersection",
    "block_point",
    "blurred",
    "centroid",
    "none",
)
COORD_RANK = {g: i for i, g in enumerate(COORD_GRANULARITY)}

CALL_TYPE_CATEGORIES = (
    "violent_crime",
    "weapons_shots",
    "sex_offense",
    "domestic",
    "property_crime",
    "drugs_vice",
    "other_crime",
    "warrant",
    "disturbance",
    "suspicious",
    "alarm",
    "traffic_collision",
    "traffic_enforcement",
    "traffic_hazard_parking",
    "mental_health",
    "welfare_check",
    "medical",
    "fire",
    "hazard_rescue",
    "missing_person",
    "assist_public",
    "animal",
    "officer_agency_assist",
    "proactive_patrol",
    "administrative",
    "call_problem",
    "juvenile_status",
    "unmapped",
)
CATEGORY_BASIS = ("crosswalk", "rule", "similar", "unmapped")
# How sure a category is: the crosswalk row's or rule's own confidence, or that of
# a similar-example match (``category_confidence``; null when unmapped).
CATEGORY_CONFIDENCE = ("high", "medium", "low")

CALL_SOURCES = (
    "911",
    "non_emergency_phone",
    "officer_initiated",
    "alarm",
    "text",
    "walk_in",
    "online_report",
    "other_agency",
    "scheduled_or_admin",
    "other",
    "public_unknown",
    "unknown",
)
CALL_SOURCE_BASIS = ("explicit_field", "inferred_from_call_type", "none")

STATUSES = ("pending", "dispatched", "en_route", "on_scene", "closed", "unknown")
STATUS_BASIS = ("explicit", "derived_from_timestamps", "feed_presence", "none")

# Most severe first: when a record holds several, the first wins.
DISPOSITIONS = (
    "arrest",
    "citation",
    "report_written",
    "warning_advised",
    "handled_no_report",
    "referred_other_agency",
    "transport",
    "gone_on_arrival",
    "unable_to_locate",
    "unfounded_no_merit",
    "false_alarm",
    "cancelled",
    "duplicate_linked",
    "no_dispatch_info",
    "open",
    "unknown",
)
DISPOSITION_RANK = {d: i for i, d in enumerate(DISPOSITIONS)}

TZ_BASIS = ("explicit_offset", "platform_utc", "documented_local", "assumed_local")
# Per-value time flags (``time_flags`` holds ``element:flag``). ``time_only``: a
# clock time whose date was inferred from the fetch; ``date``: a date published
# without a time of day (its resolution is the date: no instant is stored).
TIME_FLAGS = ("ambiguous", "nonexistent", "unparsed", "time_only", "date")

# The stage timestamps of a call, in life-cycle order.
TIMESTAMPS = ("received", "dispatched", "enroute", "onscene", "closed", "updated")

# Typed areas: never one untyped "area" string.
AREA_TYPES = (
    "district",
    "division",
    "precinct",
    "sector",
    "beat",
    "zone",
    "reporting_area",
    "neighborhood",
    "keymap",
    "zip",
    "council_district",
    "supervisor_district",
    "battalion",
    "station_area",
    "box",
    "municipality",
)

# Elements a feed without a call id may name in its ``record_key``: values fixed
# for the life of a call. ``KEY_ELEMENTS_MUTABLE`` change while a call lives (a
# call is re-typed, units come and go, stage times fill in): a key holding one
# splits a call in two, so the config schema refuses them unless allowed by name.
KEY_ELEMENTS = (
    "received_at",
    "dispatched_at",
    "agency",
    "address",
    "latitude",
    "longitude",
    "call_type_initial",
    "source",
    *(f"area_{a}" for a in AREA_TYPES),
)
KEY_ELEMENTS_MUTABLE = (
    "call_type",
    "call_type_code",
    "priority",
    "status",
    "disposition",
    "units",
    "unit_count",
    "cross_street",
    "enroute_at",
    "onscene_at",
    "closed_at",
    "updated_at",
)

# Availability levels used by the comparison (measured or declared).
AVAILABILITY = (
    "published",
    "partial",
    "published_aggregate",
    "foia_only",
    "withheld",
    "not_published",
)
# Chicago's element statuses (docs/VOCABULARY.md, "Availability").
CHICAGO_STATUS = (
    "published",
    "published_aggregate",
    "foia_only",
    "withheld",
    "not_collected",
    "unknown",
)

# What a bundled capture is (shared/docs/FEEDS.md sample types: RAW, RAW*, RAW+,
# SEMI, OUT, PARTIAL), so the comparison can say how much to trust it.
CAPTURE_KINDS = (
    "raw",
    "raw_reindented",
    "raw_edited",
    "client_envelope",
    "reexport",
    "partial",
    "none",
)

PLATFORMS = ("socrata", "arcgis", "json", "csv", "xml", "html_table", "none")
LIVENESS = ("live", "near_live", "history")
# What leaving the listing means: on an active-calls board the call closed; on a
# "most recent N" window it only rolled off; a history or append-only feed never
# drops calls by design.
BOARD_KINDS = ("active_calls", "recent_window", "append_only", "history")

# The common elements compared city by city (compare.py, withheld.csv).
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
