"""Config schema parts for call identity and status words.

``record_key`` (the mapped elements that identify a call where a feed has no id)
and ``status_crosswalk`` (a feed's own status words), kept apart from
``schema.py`` so each module stays readable; ``schema.config_schema`` uses both.
"""

from __future__ import annotations

from . import vocab


def _d(spec: dict, text: str) -> dict:
    return {**spec, "description": text}


def _enum(values: tuple[str, ...], nullable: bool = False) -> dict:
    return {"enum": [*values, None] if nullable else list(values)}


def record_key_schema() -> dict:
    """A key for feeds without a call id, from mapped elements (not raw fields).

    A list of elements that do not change while a call lives (``received_at`` as
    its dated UTC text, ``agency``, ``address``, a typed area ...); an element that
    does change (``vocab.KEY_ELEMENTS_MUTABLE``: call type, status, units, cross
    street, later stage times) is refused unless the object form allows it by
    name and says why.
    """
    fixed = {"enum": list(vocab.KEY_ELEMENTS)}
    return _d(
        {
            "oneOf": [
                {"type": "array", "items": fixed, "minItems": 1, "uniqueItems": True},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["fields", "allow_mutable", "reason"],
                    "properties": {
                        "fields": {
                            "type": "array",
                            "items": {
                                "enum": [
                                    *vocab.KEY_ELEMENTS,
                                    *vocab.KEY_ELEMENTS_MUTABLE,
                                ]
                            },
                            "minItems": 1,
                            "uniqueItems": True,
                        },
                        "allow_mutable": {
                            "type": "array",
                            "items": {"enum": list(vocab.KEY_ELEMENTS_MUTABLE)},
                            "minItems": 1,
                        },
                        "reason": {"type": "string", "minLength": 1},
                    },
                },
            ]
        },
        "Mapped elements whose values identify a call where the feed has no id.",
    )


def status_crosswalk_schema() -> dict:
    return _d(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["values"],
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "of": _d(
                    {"enum": ["call", "unit"]},
                    "Whose state the words describe (default: unit where "
                    "rows_per is unit).",
                ),
                "note": {"type": "string"},
                "values": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": _enum(vocab.STATUSES),
                },
            },
        },
        "The feed's own status words, read before the general table.",
    )
