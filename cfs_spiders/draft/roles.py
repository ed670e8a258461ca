"""Field roles, each proposed with its evidence.

The order is the order of certainty: times first (a value either parses or not),
then the call id, the location, and the categorical roles, each of which may only
take a field no earlier role took. Every categorical role is scored on its name
(``names.py``) and on what the project's own normalizers make of the values: the
call-type rules recognise call types, the call-source table recognises ``ONVIEW``
and ``911``, the status and disposition tables their words. A field named like a
call type whose values are call sources is the call source.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..normalize.call_source import classify_source
from ..normalize.call_type import categorize
from ..normalize.disposition import classify_disposition
from ..normalize.status import status_from_raw
from .keys import assign_id, assign_record_key, assign_rows_per
from .names import area_type, role_name_score
from .places import address_evidence, assign_address, assign_coordinates
from .profile import Field, Profile, headerless, squash
from .proposal import Proposal, Roles, pct, pick
from .stages import assign_times

_CODE_DESC = re.compile(r"^\s*([A-Z0-9]{1,6}[A-Z0-9/]*)\s+-\s+\S")


def _share(f: Field, test: Callable[[str], bool]) -> float:
    """Share of records whose value passes ``test`` (each distinct value once)."""
    verdict: dict[str, bool] = {}
    hits = 0
    for v in f.filled:
        ok = verdict.get(v)
        if ok is None:
            ok = verdict[v] = test(v)
        hits += ok
    return hits / len(f.filled) if f.filled else 0.0


def _source_share(f: Field) -> float:
    def test(v: str) -> bool:
        res = classify_source(v)
        return res.basis == "explicit_field" and res.source not in ("unknown", "other")

    return _share(f, test)


def _categorized(f: Field) -> float:
    return _share(f, lambda v: categorize(v).category != "unmapped")


def _distinct_note(f: Field) -> str:
    examples = ", ".join(f.examples(3))
    return f"{f.distinct} distinct ({examples})"


def _candidates(
    profile: Profile,
    role: str,
    skip: set[str],
    value_score: Callable[[Field], float],
    note: Callable[[Field], str] = _distinct_note,
    *,
    need_name: float = 0.4,
) -> list[Proposal]:
    out = []
    for name, f in profile.fields.items():
        if name in skip or f.fill == 0:
            continue
        if f.constant and f.n >= 3 and role in ("call_type", "call_type_initial"):
            continue  # a type that never varies is a discipline or a filter
        ns = role_name_score(role, name)
        vs = value_score(f)
        if headerless(name) and f.constant:
            continue  # an unnamed column of one value (a "Details" link)
        if headerless(name) and vs >= 0.6:
            ns = 0.5  # no name to go by: the values decide
        if ns < 0 or ns < need_name:
            continue
        s = squash(name)
        if "final" in s:
            ns += 0.05
        if role != "call_type_initial" and re.search(r"original|initial|orig", s):
            ns -= 0.15
        score = 0.6 * ns + 0.4 * vs
        out.append(Proposal(role, name, note(f), [name], score * min(1, f.fill / 0.5)))
    return out


def _call_type(profile: Profile, roles: Roles, skip: set[str]) -> None:
    def value(f: Field) -> float:
        addr, _ = address_evidence(f)
        if f.wordy_share < 0.3:
            return 0.3  # codes only
        return max(0.0, 0.5 * f.wordy_share + 0.5 * _categorized(f) - 0.5 * addr)

    def note(f: Field) -> str:
        return (
            f"{f.distinct} distinct, {pct(_categorized(f))} recognised by the "
            f"call-type rules ({', '.join(f.examples(3))})"
        )

    best = pick(
        "call_type", _candidates(profile, "call_type", skip, value, note), roles
    )
    if best is None:
        roles.warnings.append("no field reads as the call type: map it by hand")
        return
    roles.add(best)
    skip = skip | set(best.fields)
    f = profile.fields[best.fields[0]]
    embedded = sum(1 for v in f.filled if _CODE_DESC.match(v))
    if f.filled and embedded >= 0.9 * len(f.filled):
        roles.add(
            Proposal(
                "call_type_code",
                {"field": f.name, "steps": [{"regex": r"^\s*(\S+)\s+-\s"}]},
                f"{embedded}/{len(f.filled)} values start with `CODE - `",
                [f.name],
            )
        )
    else:
        _code(profile, roles, skip, best)
    init = _candidates(
        profile, "call_type_initial", skip, lambda f: f.wordy_share, need_name=0.7
    )
    roles.add(pick("call_type_initial", init, roles))


def _stem(name: str) -> str:
    return re.sub(r"(description|desc|name|text|code|id|cd|no)$", "", squash(name))


def _code(profile: Profile, roles: Roles, skip: set[str], desc: Proposal) -> None:
    d = profile.fields[desc.fields[0]]
    cands = []
    for name, f in profile.fields.items():
        if name in skip or f.fill < 0.5 or f.constant:
            continue
        s = squash(name)
        sibling = _stem(name) == _stem(d.name) and s != squash(d.name)
        if not (
            sibling or re.search(r"(type|nature|incident|call|ten)code$|^code$", s)
        ):
            continue
        short = sum(1 for v in f.filled if " " not in v and len(v) <= 10)
        if short < 0.9 * len(f.filled) or f.distinct > 1.5 * d.distinct + 5:
            continue
        if re.search(r"original|initial|orig", s) != re.search(
            r"original|initial|orig", squash(d.name)
        ):
            continue
        cands.append(
            Proposal(
                "call_type_code",
                name,
                f"short codes beside `{d.name}` ({_distinct_note(f)})",
                [name],
                0.7 + 0.2 * sibling,
            )
        )
    roles.add(pick("call_type_code", cands, roles))


def _short(f: Field) -> float:
    return 1.0 if f.mean_length <= 12 and f.distinct <= 30 else 0.2


def assign_categorical(profile: Profile, roles: Roles, skip: set[str]) -> None:
    # a call source before the call type: Seattle's `Call Type` holds 911/ONVIEW
    sources = []
    for name, f in profile.fields.items():
        if name in skip or f.fill == 0 or f.constant:
            continue
        share = _source_share(f)
        ns = role_name_score("source", name)
        if ns < 0 or (ns == 0 and (share < 0.8 or f.distinct < 3)):
            continue
        if ns == 0 and role_name_score("call_type", name) <= 0:
            continue
        score = 0.5 * ns + 0.5 * share
        note = f"{pct(share)} read as call sources ({', '.join(f.examples(3))})"
        sources.append(Proposal("source", name, note, [name], score))
    src = pick("source", sources, roles, minimum=0.4)
    roles.add(src)
    if src:
        skip = skip | set(src.fields)
    _call_type(profile, roles, skip)
    skip = skip | roles.used

    def status_value(f: Field) -> float:
        if f.numeric_share > 0.9:
            return 0.5
        return _share(f, lambda v: status_from_raw(v) != "unknown")

    def disp_value(f: Field) -> float:
        return _share(f, lambda v: classify_disposition(v) != "unknown")

    for role, value in (
        ("priority", _short),
        ("status", status_value),
        ("disposition", disp_value),
    ):
        roles.add(pick(role, _candidates(profile, role, skip, value), roles))
        skip = skip | roles.used
    _units(profile, roles, skip)
    skip = skip | roles.used
    agency = _candidates(profile, "agency", skip, _short)
    roles.add(pick("agency", agency, roles))
    skip = skip | roles.used
    _areas(profile, roles, skip)


_UNIT_CODE = re.compile(r"^[A-Z]{1,4}-?\d{1,4}[A-Z]?$")


def _unit_codes(f: Field) -> float:
    """Share of values that are lists of unit codes (``E40``, ``A26 L10 M10``)."""
    return _share(
        f, lambda v: all(_UNIT_CODE.match(t) for t in re.split(r"[\s,;]+", v) if t)
    )


def _units(profile: Profile, roles: Roles, skip: set[str]) -> None:
    counts, lists = [], []
    for name, f in profile.fields.items():
        if name in skip or f.fill == 0:
            continue
        ns_list = role_name_score("units", name)
        ns_count = role_name_score("unit_count", name)
        small_ints = f.numeric_share == 1.0 and all(
            t.isdigit() and int(t) < 100 for t in f.filled
        )
        if ns_count > 0 and small_ints:
            counts.append(
                Proposal(
                    "unit_count",
                    name,
                    f"small integers: {_distinct_note(f)}",
                    [name],
                    ns_count,
                )
            )
        elif headerless(name) and not small_ints and _unit_codes(f) >= 0.9:
            lists.append(
                Proposal("units", name, f"unit codes: {_distinct_note(f)}", [name], 0.7)
            )
        elif ns_list > 0 and not small_ints:
            coded = sum(1 for v in f.filled if any(c.isdigit() for c in v))
            score = 0.6 * ns_list + 0.4 * coded / len(f.filled)
            lists.append(
                Proposal(
                    "units", name, f"unit codes: {_distinct_note(f)}", [name], score
                )
            )
    roles.add(pick("units", lists, roles))
    roles.add(pick("unit_count", counts, roles))


def _areas(profile: Profile, roles: Roles, skip: set[str]) -> None:
    by_type: dict[str, list[Proposal]] = {}
    for name, f in profile.fields.items():
        if name in skip or f.fill == 0:
            continue
        kind = area_type(name)
        if kind is None:
            continue
        exact = 1.0 if squash(name) == kind.replace("_", "") else 0.8
        by_type.setdefault(kind, []).append(
            Proposal(
                f"area.{kind}",
                name,
                _distinct_note(f),
                [name],
                exact * min(1.0, f.fill / 0.5),
            )
        )
    for kind, cands in by_type.items():
        best = pick(f"area.{kind}", cands, roles)
        roles.add(best)
        skip = skip | (set(best.fields) if best else set())


def assign_roles(profile: Profile, tz: str) -> Roles:
    """Every role proposed for one schema group of records."""
    roles = Roles()
    assign_times(profile, tz, roles)
    times = roles.used
    assign_id(profile, roles, skip=times)
    assign_address(profile, roles, skip=roles.used)
    assign_coordinates(profile, roles, skip=roles.used)
    assign_categorical(profile, roles, skip=roles.used)
    assign_rows_per(profile, roles)
    assign_record_key(profile, roles)
    for name in profile.lists_of_objects:
        roles.unused[name] = "a list of objects: the mapping reads one value"
    for name, labels in profile.dl_bases.items():
        roles.unused[name] = f"an HTML definition list ({', '.join(labels)})"
    _resolve_virtual(profile, roles)
    return roles


def _resolve_virtual(profile: Profile, roles: Roles) -> None:
    """Virtual ``content[ID:]`` fields become ``{field: content, steps: [...]}``."""

    def resolve(prop: Proposal) -> None:
        spec = prop.spec
        name = spec if isinstance(spec, str) else spec.get("field")
        if not isinstance(name, str) or name not in profile.virtual:
            return
        base, label = profile.virtual[name]
        extra = [] if isinstance(spec, str) else spec.get("steps", [])
        rest = (
            {}
            if isinstance(spec, str)
            else {k: v for k, v in spec.items() if k not in ("field", "steps")}
        )
        prop.spec = {"field": base, "steps": [{"html_dl": label}, *extra], **rest}
        prop.fields = [base]

    for prop in roles.proposals.values():
        resolve(prop)
        for alt in prop.alternatives:
            resolve(alt)
