"""What each raw field holds, across every record of every snapshot.

A profile is the evidence the role guesses are made from: how full a field is,
how many distinct values it has and whether they repeat within one snapshot, what
the values look like (numbers, codes, words), and three examples. Nested JSON is
flattened to the dotted paths the mapping reads (``properties.CALL_DATE``,
``geometry.coordinates.1``); lists of objects are noted but not flattened (the
mapping reads one value per element).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ID_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_:/.#]{2,39}$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
MAX_DEPTH = 3


def tokens(name: str) -> list[str]:
    """Words of a field name: ``Master_Incident_Number`` -> master incident number."""
    spaced = _CAMEL.sub(" ", _last(name))
    return [t for t in re.split(r"[^0-9A-Za-z]+", spaced.lower()) if t]


def _last(name: str) -> str:
    """The part of a name that says what it is: the last path part, or the
    label of a virtual ``content[Call Type:]`` field."""
    m = re.search(r"\[([^\]]*)\]$", name)
    return m.group(1) if m else name.split(".")[-1]


def squash(name: str) -> str:
    """The last path part, lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", _last(name).lower())


def headerless(name: str) -> bool:
    """A column named by its position only (an HTML table without a header)."""
    return re.fullmatch(r"col_\d+", name) is not None


def blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, dict | list) and not value


def flatten(raw: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Dotted path -> scalar value (lists of up to 4 scalars by index)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or (prefix and "." in key):
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < MAX_DEPTH:
            out.update(flatten(value, f"{path}.", depth + 1))
        elif isinstance(value, list) and value and depth < MAX_DEPTH:
            if all(not isinstance(v, dict | list) for v in value) and len(value) <= 4:
                for i, v in enumerate(value):
                    out[f"{path}.{i}"] = v
            else:
                out[path] = value
        else:
            out[path] = value
    return out


def text(value: Any) -> str | None:
    if blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return None
    return value.strip() if isinstance(value, str) else str(value)


@dataclass
class Field:
    """One raw field's values, aligned with the profile's records."""

    name: str
    values: list[Any]
    snapshot_of: list[int] = field(repr=False)

    @cached_property
    def texts(self) -> list[str | None]:
        return [text(v) for v in self.values]

    @cached_property
    def filled(self) -> list[str]:
        return [t for t in self.texts if t is not None]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def fill(self) -> float:
        return len(self.filled) / self.n if self.n else 0.0

    @cached_property
    def distinct(self) -> int:
        return len(set(self.filled))

    @property
    def constant(self) -> bool:
        """One value in three or more records (fewer say nothing)."""
        return self.distinct <= 1 and len(self.filled) >= 3

    @cached_property
    def is_list_of_objects(self) -> bool:
        return any(
            isinstance(v, list) and v and isinstance(v[0], dict) for v in self.values
        )

    @cached_property
    def uniqueness(self) -> float:
        """Share of filled values that are unique within their snapshot."""
        by_snap: dict[int, Counter[str]] = {}
        for t, s in zip(self.texts, self.snapshot_of, strict=True):
            if t is not None:
                by_snap.setdefault(s, Counter())[t] += 1
        filled = sum(sum(c.values()) for c in by_snap.values())
        if not filled:
            return 0.0
        distinct = sum(len(c) for c in by_snap.values())
        return distinct / filled

    @cached_property
    def numeric_share(self) -> float:
        vals = self.filled
        if not vals:
            return 0.0
        return sum(1 for v in vals if _NUMBER.match(v)) / len(vals)

    @cached_property
    def id_shape_share(self) -> float:
        vals = self.filled
        if not vals:
            return 0.0
        ok = sum(
            1
            for v in vals
            if _ID_SHAPE.match(v) and any(c.isdigit() for c in v) and "." not in v[-3:]
        )
        return ok / len(vals)

    @cached_property
    def wordy_share(self) -> float:
        """Share of values made of letters (words), not codes or numbers."""
        vals = self.filled
        if not vals:
            return 0.0
        return sum(1 for v in vals if sum(c.isalpha() for c in v) >= 3) / len(vals)

    @cached_property
    def mean_length(self) -> float:
        vals = self.filled
        return sum(len(v) for v in vals) / len(vals) if vals else 0.0

    def examples(self, k: int = 3) -> list[str]:
        seen: list[str] = []
        for t in self.filled:
            if t not in seen:
                seen.append(t)
            if len(seen) == k:
                break
        return seen

    @cached_property
    def is_sequential(self) -> bool:
        """Consecutive integers within each snapshot: a row counter, not an id."""
        ints: dict[int, list[int]] = {}
        for t, s in zip(self.texts, self.snapshot_of, strict=True):
            if t is None:
                continue
            if not t.isdigit():
                return False
            ints.setdefault(s, []).append(int(t))
        if not ints:
            return False
        steps = total = 0
        for values in ints.values():
            values = sorted(values)
            for a, b in zip(values, values[1:], strict=False):
                total += 1
                steps += b - a == 1
        return total > 0 and steps / total >= 0.9


@dataclass
class Profile:
    """Every raw field of one schema group of snapshots."""

    records: list[dict[str, Any]]
    snapshot_of: list[int]
    fields: dict[str, Field]
    names: list[str]  # snapshot names in this group
    lists_of_objects: list[str] = field(default_factory=list)
    # virtual field -> (raw field, <dt> label): values read by an html_dl step
    virtual: dict[str, tuple[str, str]] = field(default_factory=dict)
    dl_bases: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.records)

    def get(self, name: str) -> Field | None:
        return self.fields.get(name)


def build_profile(
    snapshots: list[tuple[str, list[dict[str, Any]]]], indexes: list[int]
) -> Profile:
    """The profile of the snapshots at ``indexes`` (one schema group)."""
    flat: list[dict[str, Any]] = []
    snap_of: list[int] = []
    names = []
    for i in indexes:
        name, records = snapshots[i]
        names.append(name)
        for raw in records:
            flat.append(flatten(raw))
            snap_of.append(i)
    keys: list[str] = []
    for rec in flat:
        for k in rec:
            if k not in keys:
                keys.append(k)
    fields = {k: Field(k, [rec.get(k) for rec in flat], snap_of) for k in keys}
    lists = [k for k, f in fields.items() if f.is_list_of_objects]
    for k in lists:
        del fields[k]
    profile = Profile(flat, snap_of, fields, names, lists)
    _definition_lists(profile)
    return profile


_DT = re.compile(r"<dt>\s*(.*?)\s*</dt>", re.I | re.S)


def _definition_lists(profile: Profile) -> None:
    """Fields holding an HTML ``<dl>`` (Portland's Atom content) become one
    virtual field per label, read with the mapping's own ``html_dl`` step."""
    from ..records.mapping import compile_step

    for name, f in list(profile.fields.items()):
        sample = [t for t in f.filled[:200]]
        if not sample:
            continue
        unescaped = [html.unescape(t) if "&lt;" in t else t for t in sample]
        with_dl = [u for u in unescaped if "<dt" in u.lower()]
        if len(with_dl) < 0.5 * len(sample):
            continue
        labels = list(dict.fromkeys(m for u in with_dl for m in _DT.findall(u)))
        for label in labels:
            step = compile_step({"html_dl": label})
            vname = f"{name}[{label}]"
            profile.fields[vname] = Field(
                vname,
                [step(v) if v is not None else None for v in f.values],
                f.snapshot_of,
            )
            profile.virtual[vname] = (name, label)
        if labels:
            del profile.fields[name]
            profile.dl_bases[name] = labels


def schema_groups(snapshots: list[tuple[str, list[dict[str, Any]]]]) -> list[list[int]]:
    """Snapshots grouped by their field names (one export format each)."""
    groups: list[tuple[set[str], list[int]]] = []
    for i, (_, records) in enumerate(snapshots):
        keys = {k for r in records[:500] for k in flatten(r)}
        for gkeys, members in groups:
            union = gkeys | keys
            if union and len(gkeys & keys) / len(union) >= 0.5:
                gkeys |= keys
                members.append(i)
                break
        else:
            groups.append((keys, [i]))
    return [members for _, members in groups]
