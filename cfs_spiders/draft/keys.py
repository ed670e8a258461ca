"""The call id, or a record key where the feed publishes none; rows per call.

A call id is unique per record within a snapshot (or per call, when the feed
publishes a row per unit or per status message), stable across snapshots (the
same id comes back with the same values), and id-like in name and shape. Row
counters (consecutive integers, ``OBJECTID``), content hashes and keys a scraper
glued together from an id and a status (``190722950-Advised``) are not call ids.

Where no id exists, the key is made of stable fields only: the received time, the
location and the agency; never the call type, status or units, which change
during a call's life (a changed key would split one call in two).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ..config import vocab
from .names import id_name_score
from .profile import Field, Profile, headerless
from .proposal import Proposal, Roles, pct, pick


def stability(profile: Profile, f: Field) -> float | None:
    """Mean share of a record's other values unchanged when its id comes back in
    a later snapshot (None when no id is seen twice)."""
    first: dict[str, int] = {}
    scores = []
    for i, (t, snap) in enumerate(zip(f.texts, f.snapshot_of, strict=True)):
        if t is None:
            continue
        j = first.get(t)
        if j is None:
            first[t] = i
            continue
        if profile.snapshot_of[j] == snap:
            continue
        a = {(k, str(v)) for k, v in profile.records[i].items() if k != f.name}
        b = {(k, str(v)) for k, v in profile.records[j].items() if k != f.name}
        if a | b:
            scores.append(len(a & b) / len(a | b))
        if len(scores) >= 500:
            break
    return sum(scores) / len(scores) if scores else None


def _composite_of(a: Field, b: Field) -> float:
    """Share of records where ``a`` is ``b`` with something appended."""
    pairs = [
        (x, y)
        for x, y in zip(a.texts, b.texts, strict=True)
        if x is not None and y is not None
    ]
    if not pairs:
        return 0.0
    glued = sum(1 for x, y in pairs if x != y and x.startswith(y))
    return glued / len(pairs)


def assign_id(profile: Profile, roles: Roles, skip: set[str]) -> None:
    cands: list[Proposal] = []
    fields: dict[str, Field] = {}
    for name, f in profile.fields.items():
        if name in skip or f.fill < 0.5 or f.constant:
            continue
        ns = id_name_score(name)
        bare = headerless(name)
        if bare and f.id_shape_share >= 0.95 and f.distinct >= 0.3 * len(f.filled):
            ns = 0.5  # no name to go by: an id-shaped column of many values
        if ns < 0:
            roles.unused[name] = "a row id or hash, not a call id"
            continue
        if ns <= 0:
            continue
        if f.is_sequential and ns < 1.0:
            roles.unused[name] = "consecutive integers: a row counter, not a call id"
            continue
        shape = f.id_shape_share
        if shape < 0.8 and ns < 1.0:
            continue
        u = f.uniqueness
        if u < 0.3:
            continue
        stab = stability(profile, f)
        score = 0.45 * max(ns, 0.0) + 0.35 * u + 0.1 * shape
        score += 0.1 * (stab if stab is not None else 0.5)
        score *= min(1.0, f.fill / 0.9)
        score += 0.01 * f.distinct / max(1, len(f.filled))  # ties: more distinct
        empty = f.n - len(f.filled)
        evidence = f"{pct(u)} unique within a snapshot, {empty} empty"
        if stab is not None:
            evidence += f", {pct(stab)} of values unchanged when seen again"
        cands.append(Proposal("call_id", name, evidence, [name], score))
        fields[name] = f
    # a unique key glued from a repeating id and another value (id + status)
    for cand in list(cands):
        a = fields[cand.fields[0]]
        if a.uniqueness < 0.999:
            continue
        for other in cands:
            b = fields[other.fields[0]]
            if other is cand or b.uniqueness >= 0.999:
                continue
            share = _composite_of(a, b)
            if share >= 0.95:
                cands.remove(cand)
                roles.unused[a.name] = (
                    f"`{b.name}` with text appended ({pct(share)} of records): "
                    "a scraper's row key"
                )
                other.score += 0.05
                other.evidence += f"; `{a.name}` is it with text appended"
                break
    best = pick("call_id", cands, roles, minimum=0.5)
    roles.add(best)


def assign_rows_per(profile: Profile, roles: Roles) -> None:
    prop = roles.proposals.get("call_id")
    if prop is None or not isinstance(prop.spec, str):
        return
    f = profile.fields.get(prop.spec)
    if f is None or f.uniqueness >= 0.999:
        return
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, (t, snap) in enumerate(zip(f.texts, f.snapshot_of, strict=True)):
        if t is not None:
            groups[(snap, t)].append(i)
    repeated = [g for g in groups.values() if len(g) > 1]
    rows = sum(len(g) for g in repeated)
    units = roles.proposals.get("units")
    kind = "message"
    why = "their other values differ (status or time)"
    if units is not None and isinstance(units.spec, str):
        uf = profile.fields[units.spec]
        differ = sum(1 for g in repeated if len({uf.texts[i] for i in g}) > 1)
        if differ >= 0.5 * len(repeated):
            kind, why = "unit", f"their `{units.spec}` differ"
    roles.rows_per = kind
    roles.rows_per_evidence = (
        f"{rows} rows share an id with another row of the same snapshot "
        f"({len(repeated)} ids); {why}"
    )


def assign_record_key(profile: Profile, roles: Roles) -> None:
    """``record_key`` as mapped elements: the call's time, location and agency
    (``vocab.KEY_ELEMENTS``); elements that change while a call lives are never
    proposed (the config schema refuses them unless allowed by name)."""
    if "call_id" in roles.proposals:
        return
    time = "received_at" if "received_at" in roles.proposals else "dispatched_at"
    wanted = [time, "address", "agency", "area_municipality"]
    elements = [
        e for e in wanted if e in vocab.KEY_ELEMENTS and _proposal(roles, e) is not None
    ]
    if not elements:
        roles.warnings.append(
            "no call id and no stable element for a record key: give record_key by hand"
        )
        return
    fields = [f for e in elements for f in _proposal(roles, e).fields]
    counts = _key_counts(profile, list(dict.fromkeys(fields)))
    shared = sum(n for n in counts.values() if n > 1)
    roles.record_key = elements
    roles.record_key_evidence = (
        f"no call id: {profile.n - shared}/{profile.n} records unique on these "
        "elements, which do not change while a call lives"
    )
    if shared:
        roles.warnings.append(
            f"record_key: {shared} records share a key with another in the same "
            "snapshot and will be stored as one call"
        )


def _proposal(roles: Roles, element: str) -> Proposal | None:
    if element.startswith("area_"):
        return roles.proposals.get("area." + element[5:])
    return roles.proposals.get(element)


def _key_counts(profile: Profile, fields: list[str]) -> Counter:
    return Counter(
        (snap, tuple(profile.fields[f].texts[i] for f in fields if f in profile.fields))
        for i, snap in enumerate(profile.snapshot_of)
    )
