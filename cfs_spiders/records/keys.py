"""Stable keys for calls published without an id, and the run's key churn.

A feed without a call id names, in its config's ``record_key``, the mapped
elements whose values identify a call (``vocab.KEY_ELEMENTS``): the dated
``received_at`` (its UTC text, so a time shown as ``HHMM`` is keyed with the date
it was inferred to have, and the same minute tomorrow is another call), the
agency, the location as published (``address_raw``: a feed that leaves it empty
and names only cross streets, which change, keys on the empty value). Elements that change while a call lives (call type,
status, units, cross street, later stage times: ``vocab.KEY_ELEMENTS_MUTABLE``)
would split one call in two when they change; the config schema refuses them
unless the config allows them by name and says why.

Key churn measures what a key still gets wrong: in a run, the calls that left
the listing while a near-identical call (same received or dispatched time, same
agency, and the same location or the same call type) appeared under another key.
A re-typed or re-addressed call keyed on the changed element shows up there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..config import vocab

__all__ = ["KeySpec", "key_churn", "near_identical"]

# The record field that holds each key element's value.
_FIELD = {
    "received_at": "received_at_utc",
    "dispatched_at": "dispatched_at_utc",
    "enroute_at": "enroute_at_utc",
    "onscene_at": "onscene_at_utc",
    "closed_at": "closed_at_utc",
    "updated_at": "updated_at_utc",
    "agency": "agency_raw",
    "address": "address_raw",
    "latitude": "latitude",
    "longitude": "longitude",
    "call_type_initial": "call_type_initial_raw",
    "source": "source_raw",
    "call_type": "call_type_raw",
    "call_type_code": "call_type_code_raw",
    "priority": "priority_raw",
    "status": "status_raw",
    "disposition": "disposition_raw",
    "units": "units_raw",
    "unit_count": "unit_count",
    "cross_street": "cross_street_raw",
}
for _area in vocab.AREA_TYPES:
    _FIELD[f"area_{_area}"] = f"area_{_area}"


class KeySpec:
    """The elements of a config's ``record_key`` (list or object form)."""

    def __init__(self, spec: Any) -> None:
        if isinstance(spec, Mapping):
            names = list(spec.get("fields") or [])
            allowed = set(spec.get("allow_mutable") or [])
        else:
            names = list(spec or [])
            allowed = set()
        mutable = [n for n in names if n in vocab.KEY_ELEMENTS_MUTABLE]
        refused = [n for n in mutable if n not in allowed]
        if refused:
            raise ValueError(
                f"record_key: {', '.join(refused)} change while a call lives; "
                "allow them by name (allow_mutable, with a reason) or leave them out"
            )
        unknown = [n for n in names if n not in _FIELD]
        if unknown:
            raise ValueError(f"record_key: unknown element(s) {unknown}")
        self.names: tuple[str, ...] = tuple(names)

    def __bool__(self) -> bool:
        return bool(self.names)

    def values(self, record: Mapping[str, Any]) -> list[Any]:
        out = []
        for name in self.names:
            value = record.get(_FIELD[name])
            if value is None and name.endswith("_at"):
                # a date published without a clock is keyed by its day
                value = record.get(f"{name}_local")
            out.append(value)
        return out

    def key(self, record: Mapping[str, Any]) -> tuple[str, bool]:
        """(key, complete): ``k:`` + a hash of the named elements' values, and
        whether every one of them had a value."""
        values = self.values(record)
        text = "\x1f".join(
            f"{n}={'' if v is None else v}"
            for n, v in zip(self.names, values, strict=True)
        )
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
        return "k:" + digest, all(v is not None and v != "" for v in values)


def _when(rec: Mapping[str, Any]) -> Any:
    return rec.get("received_at_utc") or rec.get("dispatched_at_utc")


def near_identical(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two calls a key may have split: the same time and agency, and the same
    location or the same call type (one of them changed)."""
    when = _when(a)
    if not when or when != _when(b) or a.get("agency_raw") != b.get("agency_raw"):
        return False
    same_place = bool(a.get("address")) and a.get("address") == b.get("address")
    same_type = bool(a.get("call_type_raw")) and (
        a.get("call_type_raw") == b.get("call_type_raw")
    )
    return same_place or same_type


def key_churn(
    gone: Iterable[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """(gone key, new key) for each call that left while a near-identical call
    appeared; each new call pairs at most once."""
    by_when: dict[Any, list[Mapping[str, Any]]] = {}
    for rec in new:
        if _when(rec):
            by_when.setdefault(_when(rec), []).append(rec)
    pairs, used = [], set()
    for old in gone:
        for cand in by_when.get(_when(old), ()):
            key = cand["record_key"]
            if (
                key not in used
                and key != old["record_key"]
                and near_identical(old, cand)
            ):
                pairs.append((old["record_key"], key))
                used.add(key)
                break
    return pairs
