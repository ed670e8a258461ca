"""One mapping for files in several export formats; names for unnamed columns.

Saved responses of one feed are sometimes in two shapes (Seattle's portal CSV
with ``Incident Number`` beside the API's JSON with ``incident_number``; Monroe's
two scraper tables). Roles are proposed per shape and merged: plain fields into
a list (the first one present wins), anything else as a ``fallback`` chain, with
every shape's time formats on the element (the record builder reads the time
options of the element, not of a fallback).
"""

from __future__ import annotations

import copy
from typing import Any

from .proposal import Proposal, Roles

TIME_OPTIONS = ("format", "epoch", "epoch_reference", "ignore_offset", "time_only")
# a name for an unnamed column, by the element it was found to hold
COLUMN_NAMES = {
    "call_id": "incident",
    "received_at": "received",
    "dispatched_at": "dispatched",
    "enroute_at": "enroute",
    "onscene_at": "onscene",
    "closed_at": "closed",
    "updated_at": "updated",
    "address": "location",
    "cross_street": "cross_street",
    "call_type": "type",
    "call_type_code": "type_code",
    "priority": "priority",
    "status": "status",
    "disposition": "disposition",
    "source": "source",
    "agency": "agency",
    "units": "units",
    "unit_count": "unit_count",
}


def _formats(spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return []
    f = spec.get("format")
    return [f] if isinstance(f, str) else list(f or [])


def _strip_time(spec: Any) -> Any:
    if isinstance(spec, dict):
        rest = {k: v for k, v in spec.items() if k not in TIME_OPTIONS}
        if set(rest) == {"field"} and isinstance(rest["field"], str):
            return rest["field"]
        return rest
    return spec


def merge_specs(specs: list[Any]) -> Any:
    """One spec reading what each shape's spec reads."""
    unique = []
    for s in specs:
        if s not in unique:
            unique.append(s)
    if len(unique) == 1:
        return unique[0]
    bare = [_strip_time(s) for s in unique]
    formats = list(dict.fromkeys(f for s in unique for f in _formats(s)))
    other = {}
    for s in unique:
        if isinstance(s, dict):
            other.update({k: s[k] for k in TIME_OPTIONS if k in s and k != "format"})
    if all(isinstance(b, str) for b in bare):
        merged: dict[str, Any] = {"field": list(dict.fromkeys(bare))}
    else:
        merged = bare[0] if isinstance(bare[0], dict) else {"field": bare[0]}
        merged = copy.deepcopy(merged)
        node = merged
        for b in bare[1:]:
            node["fallback"] = b if isinstance(b, dict) else {"field": b}
            node = node["fallback"]
    if formats:
        merged["format"] = formats[0] if len(formats) == 1 else formats
    merged.update(other)
    return merged


def merge_roles(groups: list[Roles], names: list[str]) -> Roles:
    """The roles of several schema groups as one."""
    if len(groups) == 1:
        return groups[0]
    out = Roles()
    elements: list[str] = []
    for g in groups:
        elements += [e for e in g.proposals if e not in elements]
    for element in elements:
        props = [g.proposals.get(element) for g in groups]
        present = [p for p in props if p is not None]
        spec = merge_specs([p.spec for p in present])
        evidence = "; ".join(
            f"{name}: {p.evidence}"
            for name, p in zip(names, props, strict=True)
            if p is not None
        )
        fields = list(dict.fromkeys(f for p in present for f in p.fields))
        merged = Proposal(element, spec, evidence, fields, present[0].score)
        merged.alternatives = present[0].alternatives
        out.proposals[element] = merged
        missing = [n for n, p in zip(names, props, strict=True) if p is None]
        if missing and element in ("call_id", "received_at", "address", "call_type"):
            out.warnings.append(
                f"{element}: found in some files only (not in {', '.join(missing)})"
            )
    for g, name in zip(groups, names, strict=True):
        out.warnings += [f"{name}: {w}" for w in g.warnings]
        for k, v in g.unused.items():
            out.unused.setdefault(k, v)
    keys = [g.record_key for g in groups if g.record_key]
    if keys and "call_id" not in out.proposals:
        out.record_key = list(dict.fromkeys(f for k in keys for f in k))
        out.record_key_evidence = "; ".join(
            g.record_key_evidence for g in groups if g.record_key
        )
    kinds = [g.rows_per for g in groups if g.rows_per]
    if kinds:
        out.rows_per = "unit" if "unit" in kinds else kinds[0]
        out.rows_per_evidence = "; ".join(
            g.rows_per_evidence for g in groups if g.rows_per
        )
    out.address_policy = groups[0].address_policy
    out.coord_policy = next(
        (g.coord_policy for g in groups if g.coord_policy[0] != "none"),
        groups[0].coord_policy,
    )
    return out


def _rename(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, str):
        return names.get(node, node)
    if isinstance(node, list):
        return [_rename(x, names) for x in node]
    if isinstance(node, dict):
        return {
            k: (_rename(v, names) if k in ("field", "fields", "fallback") else v)
            for k, v in node.items()
        }
    return node


def name_columns(columns: list[str], roles: Roles) -> list[str]:
    """Columns of a headerless table named after the elements found in them."""
    names: dict[str, str] = {}
    taken = set(columns)
    for element, prop in roles.proposals.items():
        base = COLUMN_NAMES.get(element) or element.replace("area.", "")
        for f in prop.fields:
            if f.startswith("col_") and f not in names and base not in taken:
                names[f] = base
                taken.add(base)
    for prop in roles.proposals.values():
        prop.spec = _rename(prop.spec, names)
        prop.fields = [names.get(f, f) for f in prop.fields]
        for alt in prop.alternatives:
            alt.spec = _rename(alt.spec, names)
            alt.fields = [names.get(f, f) for f in alt.fields]
    roles.unused = {names.get(k, k): v for k, v in roles.unused.items()}
    return [names.get(c, c) for c in columns]
