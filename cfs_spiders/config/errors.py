"""Config errors a new user can act on.

JSON Schema reports a wrong step as a failure of the whole ``oneOf`` it sits in
(``record.units: {...} is not of type 'string'``): true, but it names the top of
the alternatives, not the key that is wrong. :func:`explain` turns one validation
error into ``(key path, message)`` where

- the path is the deepest key that fails (``record.units.steps[1]``): inside a
  ``oneOf``/``anyOf`` it follows the alternative that got furthest into the value;
- the message says what was expected there, read from the schema itself (the
  allowed step names and forms, the allowed keys, the enum values), so it cannot
  drift from what the validator accepts;
- and it suggests the nearest valid form (``difflib``): a name written as a
  mapping (``{html_text: true}`` -> ``html_text``), a misspelt key or value.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_MAX_LISTED = 16


def key_path(parts: Iterable[Any]) -> str:
    """``record.units.steps[1]`` from a JSON Schema path."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _show(value: Any) -> str:
    """A value as the user wrote it, short (YAML-ish flow style)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.replace('"', "")
    return text if len(text) <= 80 else text[:77] + "..."


def _names(values: Iterable[Any]) -> str:
    items = [str(v) for v in values]
    more = len(items) - _MAX_LISTED
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" (and {more} more)" if more > 0 else "")


def _close(word: str, candidates: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


# ---------------------------------------------------------------- descending


def _depth(error: ValidationError) -> int:
    return len(error.absolute_path)


def deepest(error: ValidationError) -> ValidationError:
    """The error to report: inside a ``oneOf``/``anyOf``, the one of the
    alternative the value was meant to be (repeatedly). That is the alternative
    that got deepest into the value; failing that, the only one whose type fits,
    or the one that knows most of the value's keys. When none stands out, the
    ``oneOf`` itself is reported (and its alternatives described)."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        branch = _meant(error)
        if branch is None:
            return error
        candidates = [e for e in error.context if e.schema_path[0] == branch]
        error = best_match(candidates) or candidates[0]
    return error


def _meant(error: ValidationError) -> int | None:
    """Index of the alternative the value was meant to be, or None."""
    here = _depth(error)
    deeper = [e for e in error.context if _depth(e) > here]
    if deeper:
        top = max(_depth(e) for e in deeper)
        return min(e.schema_path[0] for e in deeper if _depth(e) == top)
    branches: dict[int, list[ValidationError]] = {}
    for e in error.context:
        branches.setdefault(e.schema_path[0], []).append(e)
    fitting = [
        b
        for b, errs in branches.items()
        if not any(e.validator in ("type", "enum") and _depth(e) == here for e in errs)
    ]
    if len(fitting) == 1:
        return fitting[0]
    if not isinstance(error.instance, dict) or not fitting:
        return None
    alternatives = error.validator_value

    def known(b: int) -> int:
        props = alternatives[b].get("properties", {}) if b < len(alternatives) else {}
        return sum(1 for k in error.instance if k in props)

    best = max(fitting, key=known)
    ties = [b for b in fitting if known(b) == known(best)]
    return best if known(best) > 0 and len(ties) == 1 else None


# ---------------------------------------------------------------- describing


def _form(alternative: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """(how to write it, names it allows, keys it requires) of one alternative."""
    if "enum" in alternative:
        names = [str(v) for v in alternative["enum"] if v is not None]
        return f"one of the names {_names(names)}", names, []
    kinds = alternative.get("type")
    if kinds == "object" or "properties" in alternative:
        required = list(alternative.get("required") or [])
        if required:
            key = required[0]
            others = [k for k in alternative.get("properties", {}) if k != key]
            extra = f" (with {_names(others)})" if others else ""
            return f"{{{key}: ...}}{extra}", [], required
        keys = list(alternative.get("properties", {}))
        return f"a mapping of {_names(keys)}", [], []
    if isinstance(kinds, list):
        return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds), [], []
    if isinstance(kinds, str):
        word = _TYPE_WORDS.get(kinds, kinds)
        about = alternative.get("description")
        return (f"{word} ({about.rstrip('.')})" if about else word), [], []
    return "a value", [], []


def _alternatives(error: ValidationError) -> str:
    """What a ``oneOf``/``anyOf`` accepts, with the nearest valid form."""
    alternatives = [a for a in error.validator_value if isinstance(a, dict)]
    forms = [_form(a) for a in alternatives]
    names = [n for _, ns, _ in forms for n in ns]
    keys = [k for _, _, ks in forms for k in ks]
    where = "a step" if "steps" in error.absolute_path else "a value"
    if names and keys and all(a.get("required") or "enum" in a for a in alternatives):
        expected = (
            f"expected {where}: one of the names {_names(names)}, or a mapping "
            f"with one of the keys {_names(keys)}"
        )
    else:
        expected = "expected one of: " + "; ".join(f for f, _, _ in forms)
    return f"{_show(error.instance)} is not valid here; {expected}" + _suggest(
        error.instance, names, keys, alternatives
    )


def _suggest(
    value: Any, names: list[str], keys: list[str], alternatives: list[dict]
) -> str:
    if isinstance(value, dict):
        for key in value:
            if key in names:
                return (
                    f". Did you mean `{key}`? It is a name, written alone "
                    f"(not as `{{{key}: ...}}`)"
                )
            near = _close(str(key), keys)
            if near and near != key:
                return f". Did you mean `{{{near}: {_show(value[key])}}}`?"
            if key in keys:
                allowed = _allowed_with(key, alternatives)
                wrong = [k for k in value if k not in allowed]
                if wrong:
                    hint = _close(wrong[0], allowed)
                    tail = f" (did you mean `{hint}`?)" if hint else ""
                    return (
                        f". With `{key}` the keys allowed are {_names(allowed)}; "
                        f"`{wrong[0]}` is not one of them{tail}"
                    )
        return ""
    if isinstance(value, str):
        if value in keys:
            return f". `{value}` needs a value: write `{{{value}: ...}}`"
        near = _close(value, names) or _close(value, keys)
        if near in names:
            return f". Did you mean `{near}`?"
        if near in keys:
            return f". Did you mean `{{{near}: ...}}`?"
    return ""


def _allowed_with(key: str, alternatives: list[dict]) -> list[str]:
    for alt in alternatives:
        if key in (alt.get("required") or []):
            return list(alt.get("properties", {}))
    return [key]


def _unexpected(error: ValidationError) -> tuple[list[Any], str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    allowed = list((error.schema or {}).get("properties", {}))
    extra = [k for k in instance if k not in allowed]
    if not extra:
        return list(error.absolute_path), f"unknown key: {error.message}"
    key = extra[0]
    near = _close(str(key), allowed)
    message = f"unknown key `{key}`"
    if near:
        message += f"; did you mean `{near}`?"
    message += f" The keys allowed here are {_names(allowed)}"
    return [*error.absolute_path, key], message


def explain(error: ValidationError) -> tuple[str, str]:
    """(key path, message) for one validation error of a config."""
    error = deepest(error)
    path = list(error.absolute_path)
    if error.validator in ("oneOf", "anyOf"):
        return key_path(path), _alternatives(error)
    if error.validator == "additionalProperties":
        where, message = _unexpected(error)
        return key_path(where), message
    if error.validator == "enum":
        allowed = [v for v in error.validator_value if v is not None]
        message = (
            f"{_show(error.instance)} is not allowed; expected one of {_names(allowed)}"
        )
        near = _close(str(error.instance), [str(v) for v in allowed])
        if near:
            message += f". Did you mean `{near}`?"
        return key_path(path), message
    if error.validator == "type":
        kinds = error.validator_value
        kinds = [kinds] if isinstance(kinds, str) else kinds
        words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
        return key_path(path), f"expected {words}, got {_show(error.instance)}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return key_path(path), f"missing key `{missing}`"
    return key_path(path), error.message
