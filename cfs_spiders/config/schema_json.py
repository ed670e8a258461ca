"""Config-schema options of the JSON/CSV half of issue 14, kept apart from
``schema.py`` so that other additions merge beside them: the ``pluck`` step, regex
flags, JSON Lines and GeoJSON parsing, record lists and filters, packed fields
(``unpack``), per-day ids (``call_id_scope``), header values from the environment. ``schema.py`` puts them into the config
schema; every option is documented here in its ``description``.
"""

from __future__ import annotations

from . import vocab

# Regex flags a config may name (records.mapping.REGEX_FLAGS compiles them).
REGEX_FLAG_NAMES = ("dotall", "ignorecase", "multiline")


def _enum(values: tuple[str, ...]) -> dict:
    return {"enum": list(values)}


def _d(spec: dict, text: str) -> dict:
    return {**spec, "description": text}


def json_half_step_specs() -> list[dict]:
    """Steps added for nested JSON values."""
    return [
        _d(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["pluck"],
                "properties": {"pluck": {"type": "string"}, "join": {"type": "string"}},
            },
            "From a list of objects, the named key of each, joined (default a "
            "space): `{pluck: UnitID}` on `[{UnitID: E409}, {UnitID: M409}]`.",
        )
    ]


def json_half_parse_properties() -> dict:
    """``parse`` options for JSON, JSON Lines, GeoJSON and record filters."""
    return {
        "format": _d(
            {"enum": ["json", "jsonl"]},
            "json: one JSON document. jsonl: JSON Lines, one record per line "
            "(also chosen by a Content-Type of application/x-ndjson or "
            "application/jsonl).",
        ),
        "geojson": _d(
            {"type": "boolean"},
            "Records are GeoJSON Features (a FeatureCollection or a list): each "
            "record is its `properties`, plus `geometry.x`/`geometry.y` (longitude, "
            "latitude) of a Point and `feature.id`.",
        ),
        "record_lists": _d(
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "json: read every one of these lists (dotted paths) and concatenate "
            "them, e.g. PulsePoint's `active` and `recent`.",
        ),
        "list_field": _d(
            {"type": "string"},
            "With record_lists: raw field that receives the name of the list a "
            "record came from (added by the spider, e.g. `_list`).",
        ),
        "keep_if": _d(
            {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": ["string", "number", "boolean", "null"]},
                },
            },
            "Keep only records whose raw field holds one of the listed values "
            "(one published file, two feeds: `{service: [PD]}`).",
        ),
        "drop_if_blank": _d(
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "Drop records in which every one of these raw fields is empty "
            "(placeholder rows that are not calls); counted in the run report.",
        ),
    }


def json_half_top_properties() -> dict:
    """Top-level config keys: packed fields, per-day ids."""
    unpack_split = {
        "type": "object",
        "additionalProperties": False,
        "required": ["field", "split", "into"],
        "properties": {
            "field": _d({"type": "string"}, "Raw field holding the packed text."),
            "split": _d({"type": "string", "minLength": 1}, "Separator."),
            "into": _d(
                {"type": "array", "items": {"type": ["string", "null"]}, "minItems": 2},
                "Names of the parts in order (null skips a part); the mapping reads "
                "them like raw fields.",
            ),
            "from": _d(
                {"enum": ["left", "right"]},
                "right: count parts from the end (the first name keeps the rest).",
            ),
        },
    }
    unpack_regex = {
        "type": "object",
        "additionalProperties": False,
        "required": ["field", "regex"],
        "properties": {
            "field": {"type": "string"},
            "regex": _d({"type": "string"}, "Named groups become the parts."),
            "flags": {"type": "array", "items": _enum(REGEX_FLAG_NAMES)},
        },
    }
    return {
        "unpack": _d(
            {"type": "array", "items": {"oneOf": [unpack_split, unpack_regex]}},
            "Fields that pack several elements into one text (`MUNICIPALITY; "
            "ADDRESS; UNITS`): cut into named parts that `record` maps like "
            "published fields. The stored raw record stays as published.",
        ),
        "call_id_scope": _d(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["date_of"],
                "properties": {
                    "date_of": _d(
                        _enum(tuple(f"{ts}_at" for ts in vocab.TIMESTAMPS)),
                        "The mapped time whose local date completes the key.",
                    )
                },
            },
            "For ids that restart every day (CHP's `0001`...): the record key is "
            "`<local date of date_of>/<call_id>`; a record whose time did not "
            "parse is keyed `undated/<call_id>/<hash of the record>` and counted "
            "(`record_key:undated`), never keyed by a guessed date.",
        ),
    }


def json_half_request_properties() -> dict:
    return {
        "headers_from_env": _d(
            {"type": "object", "additionalProperties": {"type": "string"}},
            "Header name -> environment variable holding its value (an API token "
            "is never written in a config); a live run without it fails, saying so.",
        ),
    }
