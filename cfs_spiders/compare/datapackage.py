"""A Frictionless data package descriptor for every CSV the project exports.

``datapackage.json`` sits beside the CSVs and describes each one (``calls.csv``,
``comparison.csv``, ``comparison_long.csv``, ``withheld.csv``): column names, types,
closed vocabularies as enum constraints, primary keys and a description per column,
so ``frictionless validate output/datapackage.json`` (or any Data Package tool) can
check the files without reading this code. The ``calls.csv`` field descriptions come
from ``schemas/record.schema.json``, the single source of truth for the record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import vocab
from ..config.schema import RECORD_SCHEMA_PATH
from ..exports.calls_csv import CALLS_COLUMNS
from .constants import (
    FEED,
    FORM_LEVELS,
    LONG_COLUMNS,
    NO_DATA,
    NO_FEED,
    NOT_IN_CAPTURE,
    TIME_RESOLUTIONS,
)
from .tables import WITHHELD_COLUMNS, wide_columns

_CSV = {
    "profile": "tabular-data-resource",
    "format": "csv",
    "mediatype": "text/csv",
    "encoding": "utf-8",
}
_FORMULA_NOTE = (
    " Every value is the published (and stored) value, unaltered. To open in a "
    "spreadsheet use the copy beside it named <name>_spreadsheet.csv (not a "
    "resource here): there, text cells a spreadsheet would run as a formula "
    "(starting with = + - @, a tab or a carriage return) carry a leading "
    "apostrophe, and control characters and line breaks are spaces."
)
_LIFECYCLE = {
    "first_seen_utc": "When the project first saw the call (UTC fetch time).",
    "last_seen_utc": "When the project last saw the call (UTC fetch time).",
    "disappeared_at_utc": "Fetch time at which the call was first missing from a "
    "complete live listing (UTC); empty while listed or for history feeds.",
    "last_run_id": "The run that last wrote the call's values.",
}
_DATETIME_SUFFIXES = ("_utc", "_local")


def _json_type(spec: dict[str, Any]) -> str:
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    for name in ("integer", "number", "boolean"):
        if name in types:
            return name
    return "string"


def calls_fields() -> list[dict[str, Any]]:
    """calls.csv fields, typed and described from the record JSON Schema."""
    props = json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]
    fields = []
    for name in CALLS_COLUMNS:
        spec = props.get(name, {})
        field: dict[str, Any] = {"name": name}
        if name in _LIFECYCLE:
            field["type"] = "string" if name == "last_run_id" else "datetime"
            field["description"] = _LIFECYCLE[name]
        else:
            field["description"] = spec.get("description", "")
            if name.endswith(_DATETIME_SUFFIXES) and name != "time_zone":
                field["type"] = "datetime"
            else:
                field["type"] = _json_type(spec)
            enum = [v for v in spec.get("enum", []) if v is not None]
            if enum:
                field["constraints"] = {"enum": enum}
        if name in ("feed_id", "record_key"):
            field["constraints"] = {"required": True}
        fields.append(field)
    return fields


# ----------------------------------------------------------- comparison.csv
_FEED_FACTS: dict[str, tuple[str, str]] = {
    "place": ("string", "The place (city or county, state): the unit findings count."),
    "agency": ("string", "Publishing agency."),
    "city": ("string", "City."),
    "state": ("string", "Two-letter state."),
    "title": ("string", "Feed title."),
    "platform": (
        "string",
        "Publishing platform (socrata, arcgis, ...; none for Chicago).",
    ),
    "liveness": ("string", "live, near_live or history."),
    "board": (
        "string",
        "What leaving the listing means: active_calls, "
        "recent_window, append_only, history.",
    ),
    "update_interval_minutes": ("number", "Documented update cadence, minutes."),
    "evidence": (
        "string",
        "What the row shows: measured from stored records, "
        "documented only (no stored records), or Chicago's config.",
    ),
    "run_mode": (
        "string",
        "How the evidence was fetched: live, replay (a recorded "
        "capture served again) or both (live+replay).",
    ),
    "evidence_first": ("datetime", "First fetch or capture time behind the row (UTC)."),
    "evidence_last": ("datetime", "Last fetch or capture time behind the row (UTC)."),
    "evidence_age_days": ("integer", "Days from evidence_last to this comparison."),
    "capture_kind_label": (
        "string",
        "publisher response, third-party re-export or filtered sample.",
    ),
    "capture_filter": ("string", "What a filtered sample was filtered on."),
    "capture_origin": ("string", "Where the capture came from (repository, commit)."),
    "capture_origin_url": ("string", "Link to the capture's origin."),
    "last_live_fetch": ("datetime", "Last successful live fetch (UTC); empty if none."),
    "evidence_marks": (
        "string",
        "Why the row's evidence needs care: older than the age limit, filtered sample.",
    ),
    "as_of": ("date", "Chicago: date its claims were last checked."),
    "first_seen_before_received_n": (
        "integer",
        "Calls whose first seen (capture time) precedes their received time.",
    ),
    "first_seen_before_received_note": ("string", "What that means for the capture."),
    "records_stored": ("integer", "Calls in the store for this feed."),
    "observations": (
        "integer",
        "Versions of those calls stored: first sightings and changes of what "
        "was published.",
    ),
    "runs": ("integer", "Successful runs that stored records."),
    "received_first": ("datetime", "Earliest received time among stored calls (UTC)."),
    "received_last": ("datetime", "Latest received time among stored calls (UTC)."),
    "seen_first": ("datetime", "First fetch that saw a call of this feed (UTC)."),
    "seen_last": ("datetime", "Last fetch that saw a call of this feed (UTC)."),
    "timestamps": (
        "string",
        "The time stages (received, dispatched, enroute, onscene, closed) the feed "
        "gives for at least 95% of its records, semicolon-separated.",
    ),
    "run_spacing_median_minutes": ("number", "Median minutes between the runs."),
    "run_spacing_min_minutes": ("number", "Shortest gap between runs, minutes."),
    "run_spacing_max_minutes": ("number", "Longest gap between runs, minutes."),
    "timing_window_first": ("datetime", "First run behind the durations (UTC)."),
    "timing_window_last": ("datetime", "Last run behind the durations (UTC)."),
    "timing_withheld": (
        "string",
        "Why the durations are not quoted (too few runs, runs too far apart).",
    ),
    "leaving_means": ("string", "What a call leaving the listing is evidence of."),
    "time_on_feed_median_minutes": (
        "number",
        "Median of last seen minus first seen over calls that left a live "
        "listing (a lower bound on time on the listing), minutes.",
    ),
    "time_on_feed_upper_median_minutes": (
        "number",
        "Median of disappeared minus first seen over the same calls (an "
        "upper bound), minutes.",
    ),
    "time_on_feed_n": ("integer", "Calls behind time_on_feed_median_minutes."),
    "publication_delay_median_minutes": (
        "number",
        "Median of first seen minus received time over calls first seen "
        "in a run after the feed's first run (an upper bound), minutes.",
    ),
    "publication_delay_lower_median_minutes": (
        "number",
        "Median of the previous run's fetch time minus received time (0 "
        "when received after it) over the same calls (a lower bound), minutes.",
    ),
    "publication_delay_n": (
        "integer",
        "Calls behind publication_delay_median_minutes.",
    ),
    "verified_against_capture": (
        "boolean",
        "The config was checked against a real recorded response.",
    ),
    "capture_kind": (
        "string",
        "raw, raw_reindented, raw_edited, client_envelope, reexport, partial or none.",
    ),
    "location_policy_address": ("string", "Documented address precision policy."),
    "location_policy_coordinates": ("string", "Documented coordinate policy."),
    "documentation_url": ("string", "Where the publisher documents the feed."),
    "live_urls": ("string", "The feed's live URLs, space-separated."),
    "license": (
        "string",
        "The publisher's data licence or terms, as the config "
        "records them; empty when the publisher states none.",
    ),
    "disagreements": (
        "string",
        "Elements where what arrived disagrees with the levels the project read from the publisher's documentation.",
    ),
}
_LEVELS = list(vocab.AVAILABILITY)
_ELEMENT_METRICS: dict[str, tuple[str, str, list[str] | None]] = {
    "availability": (
        "string",
        "Availability: measured where records are stored, else the documented level.",
        [*_LEVELS, NO_DATA, NOT_IN_CAPTURE, *FORM_LEVELS],
    ),
    "documented": (
        "string",
        "The level the project read from the publisher's documentation "
        "(documentation_url), not a measurement (Chicago: its cited status).",
        list(dict.fromkeys([*_LEVELS, *vocab.CHICAGO_STATUS])),
    ),
    "measured": (
        "string",
        "Measured from stored records: published (>= 95% "
        "filled in the element's full form), partial, not_published, withheld "
        "(address policy); 'time of day only' or 'count only' when every value "
        "carried is in that coarser form.",
        [*_LEVELS, NO_DATA, NO_FEED, NOT_IN_CAPTURE, *FORM_LEVELS],
    ),
    "agreement": (
        "string",
        "The documented level vs the measured one.",
        ["agree", "disagree", NO_DATA, NO_FEED, NOT_IN_CAPTURE, "not documented"],
    ),
    "documentation_url": (
        "string",
        "Where the documented level was read: the feed's documentation page "
        "(Chicago: the cited pages, semicolon-separated).",
        None,
    ),
    "form_reduced_share": (
        "number",
        "Share of stored records carrying it only in a coarser form (a time of day "
        "without a date; a count of units, not which units); those count at that "
        "level, not as published (0-1).",
        None,
    ),
    "form_note": ("string", "What the coarser form is, when records carry it.", None),
    "fill_rate": (
        "number",
        "Share of stored records carrying the element (0-1).",
        None,
    ),
    "distinct_values": ("integer", "Distinct values among records carrying it.", None),
    "finest": ("string", "Finest granularity carried by at least 5% of records.", None),
    "resolution": (
        "string",
        "Finest time unit published (seconds, minutes, time_only, date).",
        None,
    ),
    "decimals_median": ("number", "Median decimal places of the coordinates.", None),
    "types": ("string", "Area types published, semicolon-separated.", None),
    "example": ("string", "One real value from a stored record.", None),
    "source": ("string", "Chicago: the source of the status claim.", None),
    "levels": (
        "string",
        "Chicago: status per precision step (exact: withheld; ...).",
        None,
    ),
    "citations": (
        "string",
        "Chicago: quoted words, document title, URL and date accessed, '|'-separated.",
        None,
    ),
    "citation_urls": ("string", "Chicago: the cited URLs, semicolon-separated.", None),
    "exact_ending_00_n": ("integer", "House numbers classed exact ending in 00.", None),
    "exact_house_numbers_n": ("integer", "House numbers classed exact.", None),
    "correction": ("string", "A correction of the config the evidence forced.", None),
    "block_label_with_number_n": (
        "integer",
        "Block-level addresses whose text still carries a house number.",
        None,
    ),
    "block_label_with_number_example": ("string", "One such address.", None),
}


def _metric_field(name: str, element: str, metric: str) -> dict[str, Any]:
    if element == FEED:
        kind, text = _FEED_FACTS[metric]
        return {"name": name, "type": kind, "description": text}
    label = element.replace("_", " ")
    if metric == "share_derived":
        return {
            "name": name,
            "type": "number",
            "description": "status: share of records carrying a status whose "
            "status was derived from stage times, not published (0-1).",
            "constraints": {"minimum": 0, "maximum": 1},
        }
    if metric.startswith("share_"):
        level = metric.removeprefix("share_")
        what = "time values" if level in TIME_RESOLUTIONS else "records"
        field = {
            "name": name,
            "type": "number",
            "description": f"{label}: share of {what} at level {level} (0-1).",
            "constraints": {"minimum": 0, "maximum": 1},
        }
        return field
    kind, text, enum = _ELEMENT_METRICS[metric]
    field = {"name": name, "type": kind, "description": f"{label}: {text}"}
    if enum:
        field["constraints"] = {"enum": enum}
    if metric == "fill_rate":
        field["constraints"] = {"minimum": 0, "maximum": 1}
    return field


def comparison_fields() -> list[dict[str, Any]]:
    fields = [
        {
            "name": "feed_id",
            "type": "string",
            "description": "Feed id (config file name); il_chicago_oemc is "
            "Chicago's row.",
            "constraints": {"required": True, "unique": True},
        }
    ]
    fields += [_metric_field(n, e, m) for n, e, m in wide_columns()]
    return fields


def long_fields() -> list[dict[str, Any]]:
    text = {
        "feed": "Feed id (il_chicago_oemc: Chicago).",
        "element": f"Common element, or '{FEED}' for feed-level facts.",
        "metric": "What is measured or documented (see comparison.csv's columns: "
        "the wide column is <element>_<metric>, or the element alone for "
        "availability, or the metric alone for feed facts).",
        "value": "The value, as text.",
    }
    return [{"name": c, "type": "string", "description": text[c]} for c in LONG_COLUMNS]


def withheld_fields() -> list[dict[str, Any]]:
    spec = {
        "element": ("string", "Common element."),
        "element_label": ("string", "Element in words."),
        "chicago_status": ("string", "Chicago's status for the element."),
        "chicago_source": ("string", "Source of Chicago's status."),
        "chicago_levels": ("string", "Chicago's status per precision step."),
        "chicago_citation_urls": ("string", "URLs cited for Chicago's status."),
        "places_publishing_n": (
            "integer",
            "Places with a feed whose stored records carry it for >= 95% of calls.",
        ),
        "places_measured_n": ("integer", "Places with a feed with stored records."),
        "places_publishing": ("string", "Those places, semicolon-separated."),
        "places_partial": (
            "string",
            "Places where a feed carries it for some calls, none for >= 95%.",
        ),
        "places_coarser_form": (
            "string",
            "Places whose feeds carry it only in a coarser form, with the form "
            "(a time of day with no date; a count of units): not counted as "
            "publishing it.",
        ),
        "feeds_publishing_n": (
            "integer",
            "Feeds whose stored records carry it (published or partial).",
        ),
        "feeds_measured_n": ("integer", "Feeds with stored records."),
        "feeds_publishing": (
            "string",
            "Those feeds, semicolon-separated; "
            "'(partial)' when only some records carry it.",
        ),
        "feeds_documenting_without_data": (
            "string",
            "Feeds whose documentation, as the project read it, lists it but have no stored records.",
        ),
        "finest_published": (
            "string",
            "Finest granularity published elsewhere "
            "(address, coordinates, times) or area types.",
        ),
        "finest_published_by": ("string", "Feeds publishing at that granularity."),
        "example_value": ("string", "A real value from a stored record."),
        "example_feed": ("string", "Feed of the example."),
        "example_record_key": ("string", "record_key of the example in calls.csv."),
    }
    fields = []
    for c in WITHHELD_COLUMNS:
        kind, text = spec[c]
        field: dict[str, Any] = {"name": c, "type": kind, "description": text}
        if c == "chicago_status":
            field["constraints"] = {"enum": list(vocab.CHICAGO_STATUS)}
        fields.append(field)
    return fields


def _resource(
    name: str,
    path: str,
    title: str,
    description: str,
    fields: list[dict[str, Any]],
    key: list[str],
) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "title": title,
        "description": description + _FORMULA_NOTE,
        **_CSV,
        "schema": {"fields": fields, "primaryKey": key, "missingValues": [""]},
    }


def build(
    output: Path,
    *,
    configs: dict[str, Any] | None = None,
    created: datetime | None = None,
    version: str | None = None,
    commit: str | None = None,
) -> dict[str, Any]:
    """The descriptor for the CSVs present in ``output`` (paths relative to it).

    ``licenses`` and ``sources`` list each publisher (from the configs), so the
    package says whose data it holds and on what terms, not only its shape.
    """
    resources = []
    if (output / "calls.csv").exists():
        resources.append(
            _resource(
                "calls",
                "calls.csv",
                "Calls",
                "One row per call (feed_id + record_key): the latest values of each "
                "call, mapped onto the common elements, with first/last seen times. "
                "source_url is the response the values came from (the store keeps "
                "each URL once, in its sources table; the feed and run ids once, in "
                "feeds and runs, its other tables holding their integer feed_key "
                "and run_key, and its history tables name a call by its integer "
                "call_key; this file has the ids). The raw records are not in "
                "this file: the store keeps each version's raw record compressed "
                "(observations.raw_deflate with the feed's raw_dicts dictionary); "
                "`cfs raw FEED_ID [RECORD_KEY]` prints them as published.",
                calls_fields(),
                ["feed_id", "record_key"],
            )
        )
    for name, path, title, description, fields, key in (
        (
            "comparison",
            "comparison.csv",
            "Comparison",
            "One row per configured feed and one for Chicago: availability of each "
            "common element, documented beside measured, with the evidence.",
            comparison_fields(),
            ["feed_id"],
        ),
        (
            "comparison_long",
            "comparison_long.csv",
            "Comparison, long form",
            "The comparison as tidy (feed, element, metric, value) rows.",
            long_fields(),
            ["feed", "element", "metric"],
        ),
        (
            "changes",
            "changes.csv",
            "Changes between comparison runs",
            "Which feed's availability changed for which element, and when: one row "
            "per change since the store's first comparison.",
            [
                {
                    "name": "changed_at",
                    "type": "datetime",
                    "description": "The comparison run that saw the change (UTC).",
                },
                {"name": "feed_id", "type": "string", "description": "Feed id."},
                {
                    "name": "element",
                    "type": "string",
                    "description": "Common element.",
                    "constraints": {"enum": list(vocab.ELEMENTS)},
                },
                {
                    "name": "before",
                    "type": "string",
                    "description": "Availability in the previous comparison.",
                },
                {
                    "name": "after",
                    "type": "string",
                    "description": "Availability in this comparison.",
                },
            ],
            ["changed_at", "feed_id", "element"],
        ),
        (
            "withheld",
            "withheld.csv",
            "What Chicago withholds",
            "One row per element: Chicago's status beside the feeds that publish it.",
            withheld_fields(),
            ["element"],
        ),
    ):
        if (output / path).exists():
            resources.append(_resource(name, path, title, description, fields, key))
    return {
        "name": "cfs-calls-for-service",
        "title": "Calls for service: what each city publishes, what Chicago withholds",
        "description": "Public police and fire calls-for-service records, normalized "
        "onto common elements, and a comparison of what each feed publishes with "
        "what Chicago's OEMC withholds. Terms of use are each publisher's: see "
        "documentation_url in comparison.csv.",
        "resources": resources,
        "created": (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": version or "unknown",
        "licenses": _licenses(configs or {}),
        "sources": _sources(configs or {}),
    } | ({"x_git_commit": commit} if commit else {})


def _licenses(configs: dict[str, Any]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for feed_id in sorted(configs):
        text = configs[feed_id].get("license")
        if text and text not in seen:
            seen[text] = {"name": text.split(" (")[0][:60], "title": text}
    return list(seen.values()) or [
        {"name": "unknown", "title": "no licence stated by the publishers"}
    ]


def _sources(configs: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for feed_id in sorted(configs):
        cfg = configs[feed_id]
        source = {"title": f"{cfg.get('agency')}: {cfg.get('title')}"}
        if cfg.get("documentation_url"):
            source["path"] = cfg.get("documentation_url")
        out.append(source)
    return out


def dumps(descriptor: dict[str, Any]) -> bytes:
    return (json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
