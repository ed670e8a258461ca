"""The forms of a mapping step (``record.<element>.steps``), as JSON Schema.

One alternative per step of ``records/mapping.compile_step``: the names
(``strip``, ``html_text``...) and the one-key mappings (``{regex: ...}``,
``{split: ...}``, ``{pluck: ...}``...). ``config/errors.py`` reads these
alternatives to say what a wrong step should have been.
"""

from __future__ import annotations

from .schema_json import REGEX_FLAG_NAMES, json_half_step_specs


def _d(spec: dict, text: str) -> dict:
    return {**spec, "description": text}


def _enum(values: tuple[str, ...]) -> dict:
    return {"enum": list(values)}


def step_specs() -> list[dict]:
    """Every accepted form of one step."""
    return [
        {"enum": ["strip", "upper", "lower", "title", "html_text", "collapse_space"]},
        _d(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["regex"],
                "properties": {
                    "regex": {"type": "string"},
                    "group": {"type": "integer"},
                    "flags": _d(
                        {"type": "array", "items": _enum(REGEX_FLAG_NAMES)},
                        "dotall: `.` also matches a line break (off by default, as in "
                        "Python); ignorecase; multiline: `^`/`$` at every line.",
                    ),
                },
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
        *json_half_step_specs(),
    ]
