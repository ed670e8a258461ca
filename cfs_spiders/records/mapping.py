"""Declarative mapping from a raw record to element values.

A config maps each common element to a raw field (``call_id: incident_number``) or
to a small spec: ``field``/``fields`` + ``join``, ``const``, and a list of ``steps``
(regex extract, split, value map, null_if, scale, replace, html_dl, count, template,
pluck, case and whitespace). Specs are compiled once per feed into plain functions,
so the per-record cost is a few dictionary lookups. Timestamp options (``format``,
``epoch``...) are read by ``builder.py``; here a timestamp is just its raw value.

``unpack`` (:func:`compile_unpack`) is for feeds that pack several elements into
one text (``MUNICIPALITY; ADDRESS; UNITS``): the text is cut once per record into
named parts, which the mapping then reads like published fields, so each element
keeps its own steps and the stored raw record stays as published.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ..normalize.text import to_text

Getter = Callable[[dict[str, Any]], Any]
Step = Callable[[Any], Any]

_TAG_RE = re.compile(r"<[^>]+>")
# ``flags`` of a regex step or an unpack regex. Without ``dotall`` a ``.`` does not
# match a line break (Python's default), so ``(.*)`` stops at the first one.
REGEX_FLAGS = {
    "dotall": re.DOTALL,
    "ignorecase": re.IGNORECASE,
    "multiline": re.MULTILINE,
}
_SPACE_RE = re.compile(r"\s+")
_MISSING = object()


def spec_paths(spec: Any) -> list[str]:
    """The raw fields a mapping spec reads (none for a constant)."""
    if isinstance(spec, str):
        return [spec]
    if not isinstance(spec, dict) or "const" in spec:
        return []
    paths: list[str] = []
    if "field" in spec:
        field_ = spec["field"]
        paths.extend([field_] if isinstance(field_, str) else field_)
    paths.extend(spec.get("fields") or ())
    if "fallback" in spec:
        paths.extend(spec_paths(spec["fallback"]))
    return paths


def get_path(raw: dict[str, Any], path: str) -> Any:
    """A raw field by name, or a dotted path into nested JSON (``a.b.0``)."""
    if path in raw:
        return raw[path]
    node: Any = raw
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        # an index: one optional minus and decimal digits (``--0`` or ``²`` is
        # no index: int() would refuse it)
        elif isinstance(node, list) and part.removeprefix("-").isdecimal():
            idx = int(part)
            node = node[idx] if -len(node) <= idx < len(node) else _MISSING
        else:
            return None
        if node is _MISSING:
            return None
    return node


def _html_dl(label: str) -> Step:
    """Value of a ``<dt>label</dt><dd>value</dd>`` pair in (escaped) HTML."""
    pattern = re.compile(
        r"<dt>\s*" + re.escape(label) + r"\s*</dt>\s*<dd>(.*?)</dd>", re.I | re.S
    )

    def step(value: Any) -> Any:
        text = to_text(value)
        if text is None:
            return None
        m = pattern.search(html.unescape(text) if "&lt;" in text else text)
        return html.unescape(m.group(1)).strip() if m else None

    return step


def compile_step(spec: Any) -> Step:
    """One transform step from its config form."""
    if spec == "strip":
        return lambda v: v.strip() if isinstance(v, str) else v
    if spec == "upper":
        return lambda v: v.upper() if isinstance(v, str) else v
    if spec == "lower":
        return lambda v: v.lower() if isinstance(v, str) else v
    if spec == "title":
        return lambda v: v.title() if isinstance(v, str) else v
    if spec == "collapse_space":
        return lambda v: _SPACE_RE.sub(" ", v).strip() if isinstance(v, str) else v
    if spec == "html_text":
        return lambda v: (
            _SPACE_RE.sub(" ", html.unescape(_TAG_RE.sub(" ", v))).strip()
            if isinstance(v, str)
            else v
        )
    if not isinstance(spec, dict):
        raise ValueError(f"unknown step {spec!r}")
    if "regex" in spec:
        rx = compile_regex(spec["regex"], spec.get("flags"))
        group = spec.get("group")

        def regex(v: Any) -> Any:
            text = to_text(v)
            if text is None:
                return None
            m = rx.search(text)
            if not m:
                return None
            if group is not None:
                return m.group(group)
            return m.group(1) if rx.groups else m.group(0)

        return regex
    if "split" in spec:
        sep, index = spec["split"], spec.get("index", 0)

        def split(v: Any) -> Any:
            text = to_text(v)
            if text is None:
                return None
            parts = text.split(sep)
            return parts[index].strip() if -len(parts) <= index < len(parts) else None

        return split
    if "map" in spec:
        table = {str(k).strip().upper(): v for k, v in spec["map"].items()}
        keep = spec.get("keep_unmapped", "default" not in spec)
        default = spec.get("default")

        def map_(v: Any) -> Any:
            text = to_text(v)
            if text is None:
                return None
            hit = table.get(text.strip().upper(), _MISSING)
            if hit is _MISSING:
                return v if keep else default
            return hit

        return map_
    if "null_if" in spec:
        nulls = {str(x).strip().upper() for x in spec["null_if"]}
        return lambda v: (
            None if to_text(v) is None or to_text(v).strip().upper() in nulls else v
        )
    if "scale" in spec:
        # decimal arithmetic on the published digits: 29561602 at 1e-6 is
        # 29.561602, as the source implies (binary floats would give
        # 29.561601999999997)
        factor = Decimal(
            repr(spec["scale"])
            if isinstance(spec["scale"], float)
            else str(spec["scale"])
        )

        def scale(v: Any) -> Any:
            if isinstance(v, bool) or v is None:
                return None
            try:
                number = Decimal(repr(v) if isinstance(v, float) else str(v).strip())
                return float(number * factor)
            except (InvalidOperation, ValueError, OverflowError):
                return None  # not a number (or a signalling NaN)

        return scale
    if "replace" in spec:
        old, new = spec["replace"]
        return lambda v: v.replace(old, new) if isinstance(v, str) else v
    if "html_dl" in spec:
        return _html_dl(spec["html_dl"])
    if "count" in spec:
        sep = spec["count"] or None

        def count(v: Any) -> Any:
            text = to_text(v)
            if not text or not text.strip():
                return None
            return len([p for p in text.split(sep) if p.strip()])

        return count
    if "template" in spec:
        template = spec["template"]
        return lambda v: None if v is None else template.replace("{}", to_text(v) or "")
    if "pluck" in spec:
        return _pluck(spec["pluck"], spec.get("join", " "))
    raise ValueError(f"unknown step {spec!r}")


def compile_regex(pattern: str, flags: list[str] | None = None) -> re.Pattern[str]:
    """A config regex with its named ``flags`` (``dotall``, ``ignorecase``,
    ``multiline``)."""
    value = 0
    for name in flags or ():
        value |= REGEX_FLAGS[name]
    return re.compile(pattern, value)


def _pluck(key: str, sep: str) -> Step:
    """``key`` of each object of a list (PulsePoint's ``Unit: [{"UnitID": ...}]``),
    joined by ``sep``; of one object, its ``key``. Empty and missing values are
    left out; text is left alone."""

    def pluck(v: Any) -> Any:
        items = v if isinstance(v, list) else [v] if isinstance(v, dict) else None
        if items is None:
            return v
        parts = [
            to_text(get_path(item, key))
            for item in items
            if isinstance(item, dict)
            and _blank_to_none(get_path(item, key)) is not None
        ]
        parts = [p.strip() for p in parts if p and p.strip()]
        return sep.join(parts) if parts else None

    return pluck


def compile_spec(spec: Any) -> Getter:
    """A function raw record -> element value (None when absent)."""
    if isinstance(spec, str):
        path = spec

        def simple(raw: dict[str, Any]) -> Any:
            value = raw.get(path, _MISSING)
            if value is _MISSING:
                value = get_path(raw, path)
            return _blank_to_none(value)

        return simple
    if "const" in spec:
        base: Getter = lambda raw, c=spec["const"]: c  # noqa: E731
    elif "fields" in spec:
        paths, sep = spec["fields"], spec.get("join", " ")

        def base(raw: dict[str, Any]) -> Any:
            parts = [to_text(_blank_to_none(get_path(raw, p))) for p in paths]
            parts = [p.strip() for p in parts if p and p.strip()]
            return sep.join(parts) if parts else None

    elif "field" in spec:
        names = [spec["field"]] if isinstance(spec["field"], str) else spec["field"]

        def base(raw: dict[str, Any]) -> Any:
            for name in names:
                value = _blank_to_none(get_path(raw, name))
                if value is not None:
                    return value
            return None

    else:
        base = lambda raw: None  # noqa: E731
    steps = [compile_step(s) for s in spec.get("steps", [])]
    fallback = compile_spec(spec["fallback"]) if "fallback" in spec else None
    if not steps and fallback is None:
        return base

    def with_steps(raw: dict[str, Any]) -> Any:
        value = base(raw)
        for step in steps:
            if value is None:
                break
            value = step(value)
        value = _blank_to_none(value)
        if value is None and fallback is not None:
            return fallback(raw)
        return value

    return with_steps


def _blank_to_none(value: Any) -> Any:
    """Blank text is no value; so is an empty object or list (a client that
    destroyed a timestamp leaves ``{}``, as Fairfax's PulsePoint capture does)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, dict | list) and not value:
        return None
    return value


def compile_mapping(record_spec: dict[str, Any]) -> dict[str, Getter]:
    """Element name -> getter; typed areas become ``area_<type>``."""
    getters: dict[str, Getter] = {}
    for name, spec in record_spec.items():
        if name == "area":
            for area_type, area_spec in spec.items():
                getters[f"area_{area_type}"] = compile_spec(area_spec)
        else:
            getters[name] = compile_spec(spec)
    return getters


def compile_unpack(
    specs: list[dict[str, Any]] | None,
) -> Callable[[dict[str, Any]], dict]:
    """A function raw record -> the record seen by the mapping: the published
    fields plus the named parts of each packed field (a part shadows a published
    field of the same name). Without ``unpack`` it returns the record itself.

    ``split`` cuts the text at a separator into ``into`` (names in order; ``null``
    skips a part). With more parts than names the last name keeps the rest; with
    ``from: right`` parts are counted from the end (the first name keeps the
    rest), for texts whose leading part may be missing. ``regex`` fills the
    pattern's named groups instead. Parts are stripped; blank parts are None.
    """
    if not specs:
        return lambda raw: raw
    cutters = [_unpacker(spec) for spec in specs]

    def unpack(raw: dict[str, Any]) -> dict[str, Any]:
        view = dict(raw)
        for cut in cutters:
            view.update(cut(raw))
        return view

    return unpack


def unpacked_names(specs: list[dict[str, Any]] | None) -> set[str]:
    """The names ``unpack`` gives its parts (they are not published fields)."""
    names: set[str] = set()
    for spec in specs or ():
        if "into" in spec:
            names.update(n for n in spec["into"] if n)
        elif "regex" in spec:
            names.update(compile_regex(spec["regex"], spec.get("flags")).groupindex)
    return names


def _unpacker(spec: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    source = spec["field"]
    if "regex" in spec:
        rx = compile_regex(spec["regex"], spec.get("flags"))
        names = list(rx.groupindex)

        def by_regex(raw: dict[str, Any]) -> dict[str, Any]:
            text = to_text(_blank_to_none(get_path(raw, source)))
            m = rx.search(text) if text is not None else None
            if m is None:
                return dict.fromkeys(names)
            return {n: _blank_to_none((m.group(n) or "").strip()) for n in names}

        return by_regex
    sep, into = spec["split"], list(spec["into"])
    right = spec.get("from", "left") == "right"
    limit = len(into) - 1

    def by_split(raw: dict[str, Any]) -> dict[str, Any]:
        text = to_text(_blank_to_none(get_path(raw, source)))
        if text is None:
            parts: list[str] = []
        elif right:
            parts = text.rsplit(sep, limit)
            parts = [""] * (len(into) - len(parts)) + parts
        else:
            parts = text.split(sep, limit)
        out = {}
        for i, name in enumerate(into):
            if name:
                part = parts[i].strip() if i < len(parts) else ""
                out[name] = part or None
        return out

    return by_split
