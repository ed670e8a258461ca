"""The common record's JSON Schema, generated from ``vocab.py`` (see ``schema.py``)."""

from __future__ import annotations

from functools import lru_cache

from . import vocab

_STR = {"type": ["string", "null"]}
_NUM = {"type": ["number", "null"]}
_INT = {"type": ["integer", "null"]}


def _enum(values: tuple[str, ...], nullable: bool = False) -> dict:
    spec: dict = {"enum": list(values)}
    if nullable:
        spec["enum"] = [*values, None]
    return spec


def _d(spec: dict, text: str) -> dict:
    return {**spec, "description": text}


def record_fields() -> dict[str, dict]:
    """Every field of the common record, in export order, with its schema."""
    f: dict[str, dict] = {
        "feed_id": _d({"type": "string"}, "Feed id: the config file name."),
        "call_id": _d(_STR, "Call id as published (null when the feed has none)."),
        "record_key": _d(
            {"type": "string"},
            "Stable key within the feed: the call id, or a content hash where the "
            "feed publishes no id.",
        ),
    }
    for ts in vocab.TIMESTAMPS:
        f[f"{ts}_at_raw"] = _d(_STR, f"{ts} time exactly as published.")
        f[f"{ts}_at_utc"] = _d(_STR, f"{ts} time, ISO 8601 UTC.")
        f[f"{ts}_at_local"] = _d(_STR, f"{ts} time, ISO 8601 with the feed's offset.")
    f["time_zone"] = _d({"type": "string"}, "The feed's IANA time zone (declared).")
    f["tz_basis"] = _d(_enum(vocab.TZ_BASIS, True), "Why the UTC time is trusted.")
    f["time_flags"] = _d(
        _STR,
        "Semicolon-separated `element:flag` (ambiguous, nonexistent, unparsed, "
        "time_only, date). `date`: published as a date without a time of day; "
        "its `_utc` is null and its `_local` is the date (YYYY-MM-DD).",
    )
    f["address_raw"] = _d(_STR, "Location as published.")
    f["cross_street_raw"] = _d(_STR, "Cross-street field as published.")
    f["address"] = _d(_STR, "Cleaned location text.")
    f["address_granularity"] = _d(
        _enum(vocab.ADDRESS_GRANULARITY),
        "The finest the published location can mean under the feed's documented "
        "policy (block and intersection are not comparable: vocab.finer_or_equal).",
    )
    f["address_basis"] = _d(_STR, "Which rule decided the granularity.")
    f["address_form"] = _d(
        _enum(vocab.ADDRESS_FORMS),
        "What the published location string is (exact address, block, "
        "intersection, street, area, withheld, unknown), before the feed's "
        "location policy; `address_granularity` is what it can mean under it.",
    )
    f["latitude"] = _d(_NUM, "Latitude as published (WGS84).")
    f["longitude"] = _d(_NUM, "Longitude as published (WGS84).")
    f["coord_granularity"] = _d(
        _enum(vocab.COORD_GRANULARITY), "Precision of the coordinates."
    )
    f["call_type_code_raw"] = _d(_STR, "Call-type code as published.")
    f["call_type_raw"] = _d(_STR, "Call type as published (final where both exist).")
    f["call_type_initial_raw"] = _d(_STR, "Initial call type as published.")
    f["call_type_category"] = _d(
        _enum(vocab.CALL_TYPE_CATEGORIES), "Common call-type category."
    )
    f["category_basis"] = _d(
        _enum(vocab.CATEGORY_BASIS),
        "crosswalk, rule, similar (nearest labelled example) or unmapped.",
    )
    f["apco_code"] = _d(_STR, "APCO common incident type, where the crosswalk has one.")
    f["category_confidence"] = _d(
        _enum(vocab.CATEGORY_CONFIDENCE, True),
        "How sure the category is (the crosswalk row's, the rule's, or a similar "
        "example's confidence); null when unmapped.",
    )
    f["crosswalk_version"] = _d(
        _STR, "Version of the feed's call-type crosswalk consulted (null: none)."
    )
    f["category_matched_example"] = _d(
        _STR, "The labelled example a similar-example category came from."
    )
    f["category_similarity"] = _d(
        _NUM, "Similarity (0..1) of that example to the published call type."
    )
    f["priority_raw"] = _d(_STR, "Priority as published.")
    f["status_raw"] = _d(_STR, "Status as published.")
    f["status"] = _d(_enum(vocab.STATUSES), "Common status.")
    f["status_basis"] = _d(_enum(vocab.STATUS_BASIS), "How the status was known.")
    f["disposition_raw"] = _d(_STR, "Disposition as published.")
    f["disposition_category"] = _d(
        _enum(vocab.DISPOSITIONS), "Common disposition (most severe first)."
    )
    f["source_raw"] = _d(_STR, "Call source as published.")
    f["call_source"] = _d(_enum(vocab.CALL_SOURCES), "How the call reached police.")
    f["call_source_basis"] = _d(_enum(vocab.CALL_SOURCE_BASIS), "How it was known.")
    f["is_officer_initiated"] = _d(
        {"type": ["boolean", "null"]}, "True for on-view work."
    )
    f["agency_raw"] = _d(_STR, "Responding agency as published.")
    for area in vocab.AREA_TYPES:
        f[f"area_{area}"] = _d(_STR, f"Area of type {area}, as published.")
    f["units_raw"] = _d(_STR, "Units as published (joined across unit rows).")
    f["unit_count"] = _d(_INT, "Number of units.")
    f["source_url"] = _d({"type": "string"}, "URL of the response.")
    f["fetched_at"] = _d(
        {"type": "string"},
        "When the response was fetched (ISO UTC); in replay, the "
        "recorded capture time.",
    )
    f["run_id"] = _d({"type": "string"}, "The run that fetched it.")
    f["config_version"] = _d({"type": "integer"}, "Version of the feed config.")
    f["raw"] = _d(
        {"type": ["object", "array"]},
        "The record as published (a list of rows where one call spans several rows).",
    )
    return f


@lru_cache(maxsize=1)
def record_schema() -> dict:
    fields = record_fields()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/cfs/cfs/record.schema.json",
        "title": "Call-for-service record",
        "description": "One call as published by one feed, mapped onto the common "
        "elements (docs/VOCABULARY.md).",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "feed_id",
            "record_key",
            "address_granularity",
            "coord_granularity",
            "call_type_category",
            "category_basis",
            "status",
            "status_basis",
            "disposition_category",
            "call_source",
            "call_source_basis",
            "source_url",
            "fetched_at",
            "run_id",
            "config_version",
            "raw",
        ],
        "properties": fields,
    }
