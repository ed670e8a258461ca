"""The two JSON Schemas of the project: the common record and the feed config.

Both are generated from ``vocab.py`` so every closed vocabulary lives in one place,
and written to ``schemas/*.json``, the files that validation, documentation and the
data package read. ``python -m cfs_spiders.config.schema`` rewrites them; a test fails when
the committed files drift from the vocabularies.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from . import vocab
from .schema_html import html_parse_properties
from .schema_keys import record_key_schema, status_crosswalk_schema

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
RECORD_SCHEMA_PATH = SCHEMA_DIR / "record.schema.json"
CONFIG_SCHEMA_PATH = SCHEMA_DIR / "config.schema.json"

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


# ---------------------------------------------------------------- config schema

_STEP_SPECS: list[dict] = [
    {"enum": ["strip", "upper", "lower", "title", "html_text", "collapse_space"]},
    _d(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["regex"],
            "properties": {"regex": {"type": "string"}, "group": {"type": "integer"}},
        },
        "First group of the pattern (whole match without groups); null on no match.",
    ),
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["split"],
        "properties": {"split": {"type": "string"}, "index": {"type": "integer"}},
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["map"],
        "properties": {
            "map": {"type": "object"},
            "default": {"type": ["string", "number", "null"]},
            "keep_unmapped": {"type": "boolean"},
        },
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["null_if"],
        "properties": {"null_if": {"type": "array"}},
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["scale"],
        "properties": {"scale": {"type": "number"}},
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["replace"],
        "properties": {
            "replace": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 2,
                "maxItems": 2,
            }
        },
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["html_dl"],
        "properties": {"html_dl": {"type": "string"}},
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["count"],
        "properties": {"count": {"type": "string"}},
    },
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["template"],
        "properties": {"template": {"type": "string"}},
    },
]

_FIELD_SPEC = {
    "oneOf": [
        _d({"type": "string"}, "Shorthand: the raw field (dotted path for nesting)."),
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "field": _d(
                    {
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string"}},
                        ]
                    },
                    "Raw field, or a list of names: the first non-empty one wins "
                    "(one feed, two export formats).",
                ),
                "fields": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "fallback": _d(
                    {"$ref": "#/$defs/field_spec"},
                    "Spec used when this one yields nothing.",
                ),
                "join": {"type": "string"},
                "const": {"type": ["string", "number", "boolean", "null"]},
                "steps": {"type": "array", "items": {"anyOf": _STEP_SPECS}},
                # timestamps only
                "format": {
                    "oneOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}},
                    ]
                },
                "epoch": {"enum": ["ms", "s"]},
                "epoch_reference": {"type": "string"},
                "ignore_offset": {"type": "boolean"},
                "time_only": {"type": "boolean"},
            },
        },
    ]
}

MAPPABLE = (
    "call_id",
    *[f"{ts}_at" for ts in vocab.TIMESTAMPS],
    "address",
    "cross_street",
    "latitude",
    "longitude",
    "call_type",
    "call_type_code",
    "call_type_initial",
    "priority",
    "status",
    "disposition",
    "source",
    "agency",
    "units",
    "unit_count",
)


def _record_mapping_schema() -> dict:
    ref = {"$ref": "#/$defs/field_spec"}
    props: dict = {name: ref for name in MAPPABLE}
    props["area"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {a: ref for a in vocab.AREA_TYPES},
    }
    return {"type": "object", "additionalProperties": False, "properties": props}


def _parse_schema() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "How records are found in a response (per platform).",
        "properties": {
            "records_path": _d(
                {"type": "array", "items": {"type": "string"}},
                "json: dotted paths tried in order to the list of records ('' = root).",
            ),
            "record_path": _d({"type": "string"}, "xml: path of one record element."),
            "namespaces": {
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
            "fields": _d(
                {"type": "object", "additionalProperties": {"type": "string"}},
                "xml: raw field name -> path under the record ('@attr' for attributes; "
                "'.' for the record's text).",
            ),
            "row_xpath": _d({"type": "string"}, "html_table: XPath of data rows."),
            "columns": _d(
                {"type": "array", "items": {"type": ["string", "null"]}},
                "html_table: raw field names by cell position (null skips a cell).",
            ),
            "min_cells": {"type": "integer", "minimum": 1},
            "cell_class_field": _d(
                {"type": "string"},
                "html_table: raw field that receives the cells' CSS "
                "class (Seattle's only status signal).",
            ),
            "encoding": {"type": "string"},
            "delimiter": {"type": "string"},
            "null_values": {"type": "array", "items": {"type": "string"}},
            **html_parse_properties(),  # schema_html.py
        },
    }


def _request_schema() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "Platform request options.",
        "properties": {
            "page_size": {"type": "integer", "minimum": 1},
            "order": _d({"type": "string"}, "socrata $order / arcgis orderByFields."),
            "where": _d(
                {"type": "string"}, "Fixed filter (socrata $where, arcgis where)."
            ),
            "incremental_field": _d(
                {"type": "string"},
                "Time field for incremental fetches above the last high-water mark.",
            ),
            "overlap_minutes": {"type": "integer", "minimum": 0},
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "cookies": _d({"type": "boolean"}, "Keep cookies (ASP.NET cookie checks)."),
            "max_pages": {"type": "integer", "minimum": 1},
        },
    }


@lru_cache(maxsize=1)
def config_schema() -> dict:
    area_status = _enum(vocab.CHICAGO_STATUS)
    declared = {
        "type": "object",
        "additionalProperties": False,
        "description": "Element availability as the feed's documentation states it.",
        "properties": {e: _enum(vocab.AVAILABILITY) for e in vocab.ELEMENTS},
    }
    element_claim = {
        "type": "object",
        "additionalProperties": False,
        "required": ["status", "source"],
        "properties": {
            "status": area_status,
            "source": {"type": "string"},
            "note": {"type": "string"},
        },
    }
    capture = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "origin"],
        "properties": {
            "kind": _d(
                {"enum": list(vocab.CAPTURE_KINDS)},
                "raw: the feed's own response, byte for byte; raw_reindented: "
                "served content re-indented by a formatter; raw_edited: served "
                "content with a few flagged edits by its keeper (the manifest "
                "excludes them); client_envelope: served values in an envelope "
                "rewritten by a client library; reexport: a scraper's own rows "
                "(cell text kept, markup lost; read with `replay`); partial: a "
                "client re-export that lost fields; none: no capture.",
            ),
            "folder": _d({"type": "string"}, "Folder under shared/captures."),
            "origin": {"type": "string"},
            "note": {"type": "string"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/cfs/cfs/config.schema.json",
        "title": "Feed config",
        "$defs": {"field_spec": _FIELD_SPEC},
        "type": "object",
        "additionalProperties": False,
        "required": [
            "config_version",
            "agency",
            "city",
            "state",
            "title",
            "platform",
            "time_zone",
            "location_policy",
            "liveness",
            "verified_against_capture",
            "capture",
        ],
        "properties": {
            "config_version": {"type": "integer", "minimum": 1},
            "agency": {"type": "string"},
            "city": {"type": "string"},
            "state": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "platform": _enum(vocab.PLATFORMS),
            "urls": {
                "type": "array",
                "items": {"type": "string", "pattern": "^https?://"},
            },
            "documentation_url": {"type": "string"},
            "license": {"type": "string"},
            "time_zone": _d(
                {"type": "string", "minLength": 3},
                "IANA zone of the feed's local times. Required: never assumed.",
            ),
            "location_policy": {
                "type": "object",
                "additionalProperties": False,
                "required": ["address", "coordinates"],
                "properties": {
                    "address": _enum(vocab.ADDRESS_GRANULARITY),
                    "coordinates": _enum(vocab.COORD_GRANULARITY),
                    "note": {"type": "string"},
                },
            },
            "liveness": _enum(vocab.LIVENESS),
            "board": _d(
                _enum(vocab.BOARD_KINDS),
                "What leaving the listing means (active_calls: the call closed).",
            ),
            "update_interval_minutes": {"type": "number", "exclusiveMinimum": 0},
            "retention": {"type": "string"},
            "verified_against_capture": {"type": "boolean"},
            "capture": capture,
            "rows_per": _d(
                {"enum": ["call", "unit", "message"]},
                "unit/message: several rows of one response describe one call and "
                "are merged (units joined).",
            ),
            "record_key": record_key_schema(),
            "status_crosswalk": status_crosswalk_schema(),
            "request": _request_schema(),
            "parse": _parse_schema(),
            "record": _record_mapping_schema(),
            "replay": _d(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["platform"],
                    "properties": {
                        "platform": _enum(vocab.PLATFORMS),
                        "parse": _parse_schema(),
                        "record": _record_mapping_schema(),
                        "record_key": record_key_schema(),
                    },
                },
                "How the bundled capture is read where its format is not the live "
                "one (a re-export): platform, parse and mapping override the live ones.",
            ),
            "declared": declared,
            "thresholds": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "min_records": {"type": "integer", "minimum": 0},
                    "max_fill_drop": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
            "elements": _d(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {e: element_claim for e in vocab.ELEMENTS},
                },
                "Feeds without records (Chicago): each element's status and source.",
            ),
        },
    }


def write() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for path, schema in (
        (RECORD_SCHEMA_PATH, record_schema()),
        (CONFIG_SCHEMA_PATH, config_schema()),
    ):
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
