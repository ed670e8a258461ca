"""The draft config as commented YAML: every guessed line says why.

PyYAML cannot write comments, so the document is written line by line, each
value in YAML flow style (``{field: X, format: "%m/%d/%Y"}``), and then read back
with ``yaml.safe_load`` and compared with what was meant: a comment or a quoting
slip can never change the config silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .proposal import Proposal, Roles

ELEMENT_ORDER = (
    "call_id",
    "received_at",
    "dispatched_at",
    "enroute_at",
    "onscene_at",
    "closed_at",
    "updated_at",
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
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ./()-]*$")
COMMENT_COLUMN = 44


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and not text.endswith((" ", ".")):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """``value`` in YAML flow style, quoted where YAML would misread it."""
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _comment(text: str) -> str:
    """One comment line: no line breaks (a value may hold them)."""
    return re.sub(r"[\r\n\t]+", " ", str(text)).rstrip()


@dataclass
class Doc:
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def line(self, indent: int, key: str, value: Any = None, note: str = "") -> None:
        head = f"{'  ' * indent}{scalar(key)}:"
        if value is not None:
            head += f" {flow(value)}"
        if note:
            pad = max(COMMENT_COLUMN - len(head), 2)
            head += " " * pad + f"# {_comment(note)}"
        self.lines.append(head)

    def comment(self, indent: int, text: str) -> None:
        self.lines.append(f"{'  ' * indent}# {_comment(text)}")


@dataclass
class Meta:
    feed_id: str
    agency: str
    city: str
    state: str
    title: str
    urls: list[str]
    time_zone: str
    platform: str
    platform_note: str
    liveness: tuple[str, str, str]
    origin: str
    sources: list[str]
    notes: dict[str, str] = field(default_factory=dict)  # top key -> comment


def _element(doc: Doc, indent: int, key: str, prop: Proposal, out: dict) -> None:
    out[key] = prop.spec
    doc.line(indent, key, prop.spec, prop.evidence)
    for alt in prop.alternatives:
        doc.comment(indent, f"  or: {key}: {flow(alt.spec)}  # {alt.evidence}")


def render(
    meta: Meta, parse: dict[str, Any], parse_notes: dict[str, str], roles: Roles
) -> tuple[str, dict[str, Any]]:
    """(YAML text, the data it must load as)."""
    doc = Doc()
    d: dict[str, Any] = {}
    doc.lines += [
        f"# Drafted by `cfs new` from {', '.join(meta.sources)}.",
        "# Every line with a comment is a guess and says why. Check each one against",
        "# the capture (the table `cfs new` printed, or `cfs crawl "
        f"{meta.feed_id} --replay`),",
        "# fix what is wrong, then set verified_against_capture: true.",
    ]

    def top(key: str, value: Any, note: str = "") -> None:
        d[key] = value
        doc.line(0, key, value, note or meta.notes.get(key, ""))

    top("config_version", 1)
    top("agency", meta.agency)
    top("city", meta.city)
    top("state", meta.state)
    top("title", meta.title)
    top("platform", meta.platform, meta.platform_note)
    d["urls"] = list(meta.urls)
    doc.line(0, "urls", None, meta.notes.get("urls", ""))
    for url in meta.urls:
        doc.lines.append(f"  - {scalar(url)}")
    top("time_zone", meta.time_zone, "given with --time-zone")
    d["location_policy"] = {
        "address": roles.address_policy[0],
        "coordinates": roles.coord_policy[0],
    }
    doc.line(0, "location_policy")
    doc.line(1, "address", roles.address_policy[0], roles.address_policy[1])
    doc.line(1, "coordinates", roles.coord_policy[0], roles.coord_policy[1])
    live, board, why = meta.liveness
    top("liveness", live, why)
    top(
        "board",
        board,
        meta.notes.get("board")
        or (
            "guess: active_calls if a call leaves the listing when it closes"
            if board == "recent_window"
            else "guess"
        ),
    )
    top(
        "update_interval_minutes",
        1440 if live == "history" else 5,
        "guess: how often the publisher updates it",
    )
    top("verified_against_capture", False, "until a person has checked the draft")
    d["capture"] = {"kind": "raw", "origin": meta.origin}
    doc.line(0, "capture")
    doc.line(1, "kind", "raw", "say reexport if the files are a scraper's output")
    doc.line(1, "origin", meta.origin)
    if roles.rows_per:
        top("rows_per", roles.rows_per, roles.rows_per_evidence)
    if roles.record_key:
        top("record_key", roles.record_key, roles.record_key_evidence)
    if parse:
        d["parse"] = parse
        doc.line(0, "parse")
        for key, value in parse.items():
            if isinstance(value, dict) and value and key in ("fields", "namespaces"):
                doc.line(1, key, None, parse_notes.get(key, ""))
                for k, v in value.items():
                    doc.line(2, k, v)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                doc.line(1, key, None, parse_notes.get(key, ""))
                for item in value:
                    doc.lines.append(f"    - {flow(item)}")
            else:
                doc.line(1, key, value, parse_notes.get(key, ""))
    record: dict[str, Any] = {}
    d["record"] = record
    doc.line(0, "record")
    for element in ELEMENT_ORDER:
        prop = roles.proposals.get(element)
        if prop is not None:
            _element(doc, 1, element, prop, record)
    areas = [(k, p) for k, p in roles.proposals.items() if k.startswith("area.")]
    if areas:
        record["area"] = {}
        doc.line(1, "area")
        for key, prop in areas:
            _element(doc, 2, key.split(".", 1)[1], prop, record["area"])
    if roles.unused:
        doc.lines.append("# Not mapped:")
        for name, why in roles.unused.items():
            doc.lines.append(f"#   {name}: {_comment(why)}")
    if roles.warnings:
        doc.lines.append("# Warnings:")
        for w in roles.warnings:
            doc.lines.append(f"#   {_comment(w)}")
    text = "\n".join(doc.lines) + "\n"
    loaded = yaml.safe_load(text)
    if loaded != d:  # pragma: no cover - a rendering bug, never the user's input
        raise AssertionError(f"rendered YAML does not load as meant:\n{text}")
    return text, d
