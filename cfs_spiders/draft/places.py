"""Where the call is: address, cross street, coordinates and their scale.

The address is chosen by its name and by the project's address normalizer
(``normalize.address.classify_address``) on the values: a field whose values the
normalizer reads as house numbers, hundred blocks, intersections or named streets
is a location; call types and unit codes are not. A hundred-block number kept in
its own column (Dallas ``block`` + ``location``) is joined to the street.

Coordinates are numbers in latitude/longitude range; integers far outside it are
tried at a scale (micro-degrees); a text point (``(47.6, -122.3)``, ``POINT (lon
lat)``) is read with a regex step. Projected coordinates (state plane feet) are
left unmapped, said so.
"""

from __future__ import annotations

import re
from collections import Counter

from ..normalize.address import classify_address
from .names import (
    BLOCK_NUMBER,
    LAT_NAMES,
    LON_NAMES,
    address_name_score,
    role_name_score,
)
from .profile import Field, Profile, headerless, squash
from .proposal import Proposal, Roles, pct, pick

STRONG_REASONS = {
    "pattern:house_number",
    "pattern:zero_house_number",
    "pattern:block_of",
    "pattern:blk",
    "pattern:block_no_number",
    "pattern:xx_mask",
    "pattern:xx_mask_full",
    "pattern:range",
    "pattern:range_multi_block",
    "pattern:intersection_amp",
    "pattern:intersection_and",
    "pattern:intersection_at",
    "pattern:intersection_backslash",
    "pattern:intersection_slash",
    "pattern:street_name",
    "pattern:comma_street",
    "pattern:segment_to",
    "pattern:ramp",
    "pattern:mile_marker",
    "usaddress:exact",
    "usaddress:intersection",
}
FINE = {"exact", "block", "intersection"}
_PAREN_POINT = re.compile(r"^\(\s*(-?\d+\.\d+)\s*,\s*(-?\d+\.\d+)\s*\)$")
_PAIR_POINT = re.compile(r"^(-?\d{1,2}\.\d+) (-?\d{1,3}\.\d+)$")
_WKT_POINT = re.compile(r"^POINT\s*\((-?\d+\.?\d*) (-?\d+\.?\d*)\)$", re.I)


def address_evidence(
    f: Field, *, bare_names: bool = False
) -> tuple[float, Counter[str]]:
    """(share of values the normalizer reads as a location, granularity counts).

    ``bare_names``: a field *named* like a street may hold bare street names
    (``NORTHPORT``); those count half."""
    counts: Counter[str] = Counter()
    strong = 0.0
    values = f.filled
    per_value: dict[str, tuple[str, float]] = {}
    for v in values:
        hit = per_value.get(v)
        if hit is None:
            res = classify_address(v)
            weight = 1.0 if res.reason in STRONG_REASONS else 0.0
            if bare_names and res.reason in ("pattern:bare_name", "usaddress:street"):
                weight = 0.5
            hit = (res.granularity, weight)
            per_value[v] = hit
        counts[hit[0]] += 1
        strong += hit[1]
    return (strong / len(values) if values else 0.0), counts


def _describe(counts: Counter[str]) -> str:
    return ", ".join(f"{g} {n}" for g, n in counts.most_common(4))


def assign_address(profile: Profile, roles: Roles, skip: set[str]) -> None:
    cands = []
    evidence: dict[str, tuple[float, Counter[str]]] = {}
    for name, f in profile.fields.items():
        if name in skip or f.fill < 0.2 or f.constant:
            continue
        ns = address_name_score(name)
        if ns < 0:
            continue
        if role_name_score("cross_street", name) > 0:
            continue
        ev, counts = address_evidence(f, bare_names=ns >= 0.8)
        evidence[name] = (ev, counts)
        fine = sum(counts[g] for g in FINE) / max(1, len(f.filled))
        if ns == 0 and ev < (0.6 if headerless(name) else 0.8):
            continue
        if ns == 0 and headerless(name):
            ns = 0.5  # no name to go by: the values decide
        score = 0.45 * ns + 0.4 * ev + 0.1 * fine + 0.05 * f.fill
        text = (
            f"{pct(ev)} read as locations by the address normalizer "
            f"({_describe(counts)})"
        )
        cands.append(Proposal("address", name, text, [name], score))
    best = pick("address", cands, roles, minimum=0.55)
    if best is None:
        roles.warnings.append("no field reads as the address: map it by hand")
        return
    street = profile.fields[best.fields[0]]
    _, counts = evidence[street.name]
    numbers = [
        (n, f)
        for n, f in profile.fields.items()
        if BLOCK_NUMBER.search(squash(n)) and n not in skip and f.fill >= 0.3
    ]
    named_streets = counts["street"] >= 0.5 * max(1, len(street.filled))
    for name, f in numbers:
        digits = [t for t in f.filled if t.isdigit()]
        if named_streets and len(digits) >= 0.8 * len(f.filled):
            best.spec = {"fields": [name, street.name], "join": " "}
            best.fields = [name, street.name]
            best.evidence += (
                f"; the hundred block is in `{name}` ({len(digits)} numbers)"
            )
            break
    roles.add(best)
    _policy(profile, roles, best)
    _cross_street(profile, roles, skip | set(best.fields))


def _policy(profile: Profile, roles: Roles, prop: Proposal) -> None:
    """The address ceiling: ``block`` when the house numbers are all rounded."""
    numbers = []
    for t in profile.fields[prop.fields[-1]].filled:
        m = re.match(r"^(\d{2,6})\s+\S", t)
        if m:
            numbers.append(m.group(1))
    if len(prop.fields) > 1:
        numbers = [t for t in profile.fields[prop.fields[0]].filled if t.isdigit()]
    rounded = sum(1 for n in numbers if n.endswith("00"))
    if len(numbers) >= 20 and rounded >= 0.9 * len(numbers):
        roles.address_policy = (
            "block",
            f"{rounded}/{len(numbers)} house numbers end in 00: rounded to the block",
        )
    else:
        roles.address_policy = (
            "exact",
            "the finest form seen; lower it if the publisher rounds or withholds",
        )


def _cross_street(profile: Profile, roles: Roles, skip: set[str]) -> None:
    cands = []
    for name, f in profile.fields.items():
        if name in skip or f.fill == 0 or f.constant:
            continue
        ns = role_name_score("cross_street", name)
        if ns <= 0:
            continue
        ev, counts = address_evidence(f)
        score = 0.6 * ns + 0.4 * ev
        text = f"{pct(f.fill)} filled; {pct(ev)} read as streets ({_describe(counts)})"
        cands.append(Proposal("cross_street", name, text, [name], score))
    roles.add(pick("cross_street", cands, roles, minimum=0.5))


# ------------------------------------------------------------ coordinates
def _numbers(f: Field) -> list[float]:
    out = []
    for t in f.filled:
        try:
            out.append(float(t))
        except ValueError:
            return []
    return out


def _fits(values: list[float], low: float, high: float) -> float:
    nonzero = [v for v in values if v != 0]
    if not nonzero:
        return 0.0
    return sum(1 for v in nonzero if low <= v <= high) / len(nonzero)


def _coord_name(name: str, lat: bool) -> float:
    s = squash(name)
    if (LAT_NAMES if lat else LON_NAMES).search(s):
        return 1.0
    if re.search(r"(^|\.)coordinates\.[01]$", name):
        return 0.8 if name.endswith(".1" if lat else ".0") else 0.0
    if name.endswith((".y", "_y") if lat else (".x", "_x")) or s == (
        "y" if lat else "x"
    ):
        return 0.6
    return 0.0


def assign_coordinates(profile: Profile, roles: Roles, skip: set[str]) -> None:
    lats, lons = [], []
    projected = []
    for name, f in profile.fields.items():
        if name in skip or f.fill == 0:
            continue
        for lat in (True, False):
            ns = _coord_name(name, lat)
            if ns <= 0:
                continue
            values = _numbers(f)
            if not values:
                continue
            low, high = (-90, 90) if lat else (-180, 180)
            fit = _fits(values, low, high)
            spec: object = name
            note = f"{pct(fit)} in {'latitude' if lat else 'longitude'} range"
            if fit < 0.9:
                scale = _scale(values, low, high)
                if scale is None:
                    projected.append(name)
                    continue
                spec = {"field": name, "steps": [{"scale": scale}]}
                note = f"integers at a scale of {scale:g} degrees"
            zeros = sum(1 for v in values if v == 0)
            if zeros:
                note += f"; {zeros} zero (hidden) values"
            if "geocod" in squash(name):
                ns *= 0.5
                note += "; named as a geocoder's output, not the publisher's"
            prop = Proposal(
                "latitude" if lat else "longitude",
                spec,
                note,
                [name],
                0.6 * ns + 0.4 * fit,
            )
            (lats if lat else lons).append(prop)
    _text_points(profile, skip, lats, lons)
    lat = pick("latitude", lats, roles, minimum=0.6)
    lon = pick("longitude", lons, roles, minimum=0.6)
    if lat is not None and lon is not None:
        roles.add(lat)
        roles.add(lon)
        decimals = _decimals(profile.fields[lat.fields[0]])
        if decimals is not None and decimals <= 3:
            roles.coord_policy = (
                "blurred",
                f"at most {decimals} decimals: about 100 m",
            )
        else:
            roles.coord_policy = ("exact", "as published; lower it if they are blurred")
    for name in projected:
        roles.unused[name] = "numbers outside degree range: projected coordinates?"


def _scale(values: list[float], low: float, high: float) -> float | None:
    for factor in (1e-5, 1e-6, 1e-7):
        if (
            _fits([v * factor for v in values], low, high) >= 0.99
            and max(abs(v * factor) for v in values) > 1
        ):
            return factor
    return None


def _decimals(f: Field) -> int | None:
    places = [len(t.split(".")[1]) if "." in t else 0 for t in f.filled[:500]]
    return max(places) if places else None


def _text_points(
    profile: Profile, skip: set[str], lats: list[Proposal], lons: list[Proposal]
) -> None:
    for name, f in profile.fields.items():
        if name in skip or not f.filled:
            continue
        values = f.filled[:500]
        paren = sum(1 for v in values if _PAREN_POINT.match(v))
        wkt = sum(1 for v in values if _WKT_POINT.match(v))
        pair = [_PAIR_POINT.match(v) for v in values]
        if all(pair) and all(-90 <= float(m.group(1)) <= 90 for m in pair):
            lats.append(
                Proposal(
                    "latitude",
                    {"field": name, "steps": [{"split": " ", "index": 0}]},
                    "read from `lat lon` text (GeoRSS)",
                    [name],
                    0.7,
                )
            )
            lons.append(
                Proposal(
                    "longitude",
                    {"field": name, "steps": [{"split": " ", "index": 1}]},
                    "read from `lat lon` text (GeoRSS)",
                    [name],
                    0.7,
                )
            )
            continue
        if paren >= 0.9 * len(values):
            lat_rx, lon_rx = r"^\(\s*(-?[\d.]+)\s*,", r",\s*(-?[\d.]+)\s*\)$"
            label = "(lat, lon) text"
        elif wkt >= 0.9 * len(values):
            lat_rx, lon_rx = r"^POINT\s*\(\S+ (-?[\d.]+)\)", r"^POINT\s*\((-?[\d.]+) "
            label = "WKT POINT (lon lat) text"
        else:
            continue
        lats.append(
            Proposal(
                "latitude",
                {"field": name, "steps": [{"regex": lat_rx}]},
                f"read from {label}",
                [name],
                0.65,
            )
        )
        lons.append(
            Proposal(
                "longitude",
                {"field": name, "steps": [{"regex": lon_rx}]},
                f"read from {label}",
                [name],
                0.65,
            )
        )
