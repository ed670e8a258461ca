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
from .schema_json import (
    json_half_parse_properties,
    json_half_request_properties,
    json_half_top_properties,
)
from .schema_keys import record_key_schema, status_crosswalk_schema
from .schema_steps import step_specs

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


from .record_schema import record_fields, record_schema  # noqa: E402,F401

# ---------------------------------------------------------------- config schema

# The mapping steps' forms (config/schema_steps.py).
_STEP_SPECS = step_specs()


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
            **json_half_parse_properties(),  # schema_json.py
        },
    }


def _request_schema() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "Platform request options.",
        "properties": {
            "page_size": {"type": "integer", "minimum": 1},
            "order": _d(
                {"type": "string"},
                "socrata $order / arcgis orderByFields; the row id (:id, or "
                "tie_breaker) is appended when missing, so paging never skips a row.",
            ),
            "tie_breaker": _d(
                {"type": "string"},
                "arcgis: the layer's object id field (default OBJECTID).",
            ),
            "where": _d(
                {"type": "string"}, "Fixed filter (socrata $where, arcgis where)."
            ),
            "incremental_field": _d(
                {"type": "string"},
                "Time field for incremental fetches above the last high-water mark.",
            ),
            "overlap_minutes": {"type": "integer", "minimum": 0},
            "future_slack_minutes": _d(
                {"type": "integer", "minimum": 0},
                "A record time later than the fetch time plus this (default 15) is "
                "flagged as future-dated and never becomes the high-water mark.",
            ),
            "full_listing_every_minutes": _d(
                {"type": "number", "minimum": 0},
                "Incremental polls of a live listing (active_calls, recent_window) "
                "read the whole listing when the last complete one is older than "
                "this (default 60), so calls that left it are seen to leave.",
            ),
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "cookies": _d({"type": "boolean"}, "Keep cookies (ASP.NET cookie checks)."),
            "max_pages": {"type": "integer", "minimum": 1},
            **json_half_request_properties(),
        },
    }


# Every URL of a config that reaches HTML (links in the Datasette metadata and the
# report): http(s), with a host, no white space or quote.
HTTP_URL = r"^https?://[^\s/?#\"'<>]+[^\s\"'<>]*$"


@lru_cache(maxsize=1)
def config_schema() -> dict:
    area_status = _enum(vocab.CHICAGO_STATUS)
    declared = {
        "type": "object",
        "additionalProperties": False,
        "description": "Element availability as the feed's documentation states it.",
        "properties": {e: _enum(vocab.AVAILABILITY) for e in vocab.ELEMENTS},
    }
    citation = _d(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "title", "accessed", "quote"],
            "properties": {
                "url": {"type": "string", "pattern": "^https?://"},
                "title": {"type": "string", "minLength": 1},
                "accessed": {"type": "string", "format": "date"},
                "quote": _d(
                    {"type": "string", "minLength": 1},
                    "The document's exact words that support the claim.",
                ),
                "note": {"type": "string"},
            },
        },
        "A public document a reporter can cite: URL, title, date accessed, words.",
    )
    element_claim = {
        "type": "object",
        "additionalProperties": False,
        "required": ["status", "source"],
        "properties": {
            "status": area_status,
            "source": {"type": "string"},
            "note": {"type": "string"},
            "levels": _d(
                {
                    "type": "object",
                    "additionalProperties": area_status,
                    "propertyNames": {"minLength": 1},
                },
                "Status per precision step (address: exact, block, ...), finest "
                "first: Chicago's address is withheld exact but FOIA-only by block.",
            ),
            "citations": {"type": "array", "items": citation},
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
            "origin_url": _d(
                {"type": "string", "pattern": "^https?://"},
                "Where the capture came from (the re-exporting repository).",
            ),
            "lacks": _d(
                {"type": "array", "items": _enum(vocab.ELEMENTS), "uniqueItems": True},
                "Elements this capture cannot carry (a column the re-export "
                "dropped): the comparison reads them `not in capture`, never "
                "`not published`.",
            ),
            "filter": _d(
                {"type": "string", "minLength": 1},
                "Set when the capture is a filtered sample of the feed (one beat, "
                "one call type): what it was filtered on.",
            ),
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
                "items": {"type": "string", "pattern": HTTP_URL},
            },
            "urls_by_year": _d(
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": "^[0-9]{4}$"},
                    "additionalProperties": {"type": "string", "pattern": HTTP_URL},
                },
                "A feed published as one dataset per year: year -> URL. The current "
                "year's (in the feed's time zone) is fetched; until the config lists "
                "a new year, the latest listed before it. Replaces urls.",
            ),
            "documentation_url": _d(
                {"type": "string", "pattern": HTTP_URL},
                "http(s) only: it becomes a link in the Datasette metadata and the "
                "report (a javascript: or data: URL would run there).",
            ),
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
            "ended": _d(
                {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"},
                "When the publisher stopped updating the dataset (year or date): "
                "scheduled polls (--due, watch, schedule) skip it; `cfs crawl FEED` "
                "still reads it.",
            ),
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
            **json_half_top_properties(),
            "declared": declared,
            "thresholds": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "min_records": {"type": "integer", "minimum": 0},
                    "max_fill_drop": {"type": "number", "minimum": 0, "maximum": 1},
                    "quiet_period_minutes": _d(
                        {"type": "number", "minimum": 0},
                        "active_calls: how long the board may be empty before that "
                        "is a fault (default 360); an empty listing before then is "
                        "complete and closes its calls.",
                    ),
                },
            },
            "as_of": _d(
                {"type": "string", "format": "date"},
                "Date the config's claims about the publisher were last checked.",
            ),
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
