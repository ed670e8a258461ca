"""Address and coordinate granularity of a published call location.

Every feed publishes its location at some precision, and the comparison across
cities is only honest if that precision is stated per record. Two sources of
evidence are combined:

1. **Policy first.** The feed's documented location policy (``ceiling``, a code of
   ``vocab.ADDRESS_GRANULARITY``) is the finest granularity the publisher releases.
   ``6600 ALVARADO RD`` in a block-rounded feed is a block, whatever the string
   looks like. The per-string check may only *lower* the granularity (move it to
   a coarser code, i.e. a higher ``vocab.ADDRESS_RANK``), never raise it.
2. **The string.** A pattern pass handles the forms ``usaddress`` gets wrong
   (hundred blocks, ``XX`` masks, ranges, intersection separators, freeway and
   ramp text, withheld markers); ``usaddress`` is consulted only for what is left.

Known ``usaddress`` 0.5.16 failures that the pattern pass exists for:
``Church St/Bank St`` is tagged a street address with house number ``Church``;
``8800 BLOCK OF N SYRACUSE ST`` gets house number 8800 on a street named
``BLOCK OF N SYRACUSE``; ``N BELCHER RD / CLEVELAND ST`` and ``Main St`` come back
``Ambiguous``; ``REDBIRD CT`` is tagged a place in the state of Connecticut.

Addresses repeat heavily (one call, many unit rows; the same corner every day), so
the work is cached by distinct ``(text, ceiling, cross_street)``. Both public
functions are total: any input returns a value of the vocabularies, never raises.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..config.vocab import (
    ADDRESS_GRANULARITY,
    ADDRESS_RANK,
    COORD_GRANULARITY,
    COORD_RANK,
)

try:  # pragma: no cover - the dependency is declared; stay total without it
    import usaddress
except Exception:  # noqa: BLE001
    usaddress = None

__all__ = [
    "AddressResult",
    "cache_clear",
    "cache_info",
    "classify_address",
    "classify_coordinates",
]


@dataclass(frozen=True, slots=True)
class AddressResult:
    """Outcome of :func:`classify_address`.

    ``cleaned`` is the location text without city/state/ZIP suffixes and with
    whitespace collapsed (``None`` when nothing is published); the verbatim value
    stays with the caller as ``address_raw``. ``reason`` names the rule that
    decided, so a surprising code can be traced without re-running anything.
    """

    cleaned: str | None
    granularity: str
    reason: str


# Strings longer than this are not addresses; they are classified ``unknown``
# without parsing (and without caching) so a pathological input costs nothing.
_MAX_LEN = 300
_CACHE_SIZE = 200_000

# Values that mean "no location published". ``UNKNOWN`` is deliberately absent:
# it says the location is not known, not that it was held back.
_WITHHELD = frozenset(
    {
        "",
        "-",
        "--",
        "N/A",
        "NA",
        "NULL",
        "NONE",
        "NAN",
        "REDACTED",
        "WITHHELD",
        "SUPPRESSED",
        "CONFIDENTIAL",
        "RESTRICTED",
        "RESTRICTED ADDRESS",
        "NOT AVAILABLE",
        "NOT PUBLISHED",
        "ADDRESS WITHHELD",
        "LOCATION WITHHELD",
    }
)

# Street suffix types (USPS abbreviations plus the spellings these feeds use:
# Milwaukee ``LA``/``BL``, Monroe ``TE``/``RN``, San Francisco ``HY``/``WY``).
# ``PARK`` is left out on purpose: a bare ``X PARK`` is far more often a park.
# fmt: off
_STREET_TYPES = frozenset({
    "ST", "STREET", "AVE", "AV", "AVENUE", "RD", "ROAD", "DR", "DRIVE", "BLVD",
    "BL", "BOULEVARD", "LN", "LA", "LANE", "CT", "COURT", "CIR", "CIRCLE", "PL",
    "PLACE", "WAY", "WY", "TER", "TE", "TERRACE", "TRL", "TRAIL", "PKWY", "PARKWAY",
    "HWY", "HY", "HIGHWAY", "FWY", "FREEWAY", "EXPY", "EXPWY", "EXPRESSWAY", "LOOP",
    "LP", "CSWY", "CAUSEWAY", "ALY", "AL", "ALLEY", "SQ", "SQUARE", "ROW", "MEWS",
    "RUN", "PT", "XING", "BR", "BRG", "BRIDGE", "PIKE", "PASS", "PASSWAY", "PATH",
    "WALK", "PLZ", "PZ", "CV", "RN", "TPKE", "TURNPIKE", "BYP", "TOLLWAY", "SERV",
    "RAMP", "EXIT", "CRES", "CRESCENT", "GRN", "HTS", "HOLW", "KNL", "TRCE", "VIS",
    "VW", "TR", "CR", "PK", "PW", "CRK", "RDG", "BLF", "LNDG", "LANDING", "PLAZA",
})
# fmt: on
# fmt: off
_DIRECTIONALS = frozenset({
    "N", "S", "E", "W", "NE", "NW", "SE", "SW", "NB", "SB", "EB", "WB", "IB", "OB",
    "NORTH", "SOUTH", "EAST", "WEST",
})
# fmt: on
# Route designators: I5, I-4, IH 35, SR520, SR 417, US 59, RT 531, SH 6, FM 78.
_ROUTE_RE = re.compile(
    r"^(?:I-?\d+[A-Z]?|IH-?\d*|SR-?\d*|US-?\d*|RT-?\d*[A-Z]?|SH-?\d*|FM-?\d*"
    r"|HWY\d+|HY\d+|LOOP|INTERSTATE)$"
)
_ORDINAL_RE = re.compile(r"^\d+(?:ST|ND|RD|TH)$")
# Named places: the string locates the call only to a facility or landmark.
# fmt: off
_PLACE_WORDS = frozenset({
    "AIRPORT", "SCHOOL", "PARK", "HOSPITAL", "MALL", "CENTER", "CENTRE", "JAIL",
    "STADIUM", "CAMPUS", "LIBRARY", "CHURCH", "COLLEGE", "UNIVERSITY", "ACADEMY",
    "CEMETERY", "PLAYGROUND", "PLGD", "ARENA", "ZOO", "COURTHOUSE",
})
# fmt: on

_WS_RE = re.compile(r"\s+")
_BLOCK_WORD_RE = re.compile(r"\b(?:BLOCK|BLK)\b")
_XX_MASK_RE = re.compile(r"^\[?\d+X+\]?(?=\s|$)")
_XX_FULL_RE = re.compile(r"^X{2,}(?=\s|$)")
_RANGE_RE = re.compile(r"^\[?(\d{1,6})\]?\s*-\s*\[?(\d{1,6})\]?\s+\S")
_HOUSE_RE = re.compile(r"^(\d{1,6})(?:[A-Z]|-[A-Z])?(?:\s+\d/\d)?\s+\S")
# A house number usaddress found elsewhere than first: digits, optionally with a
# letter or a fraction; ``Church`` (from ``Church St/Bank St``) is not one.
_HOUSE_TOKEN_RE = re.compile(r"^\d{1,6}(?:[A-Z]|-[A-Z]|\s+\d/\d)?$", re.IGNORECASE)
_ZIP_RE = re.compile(r"^\d{5}(?:-\d{4})?$")
_MILE_MARKER_RE = re.compile(r"\bMM\s*\d")
_RAMP_RE = re.compile(
    r"\S\s+(?:ONRP|OFRP|ON RAMP|OFF RAMP|ENTR RAMP|EXIT RAMP|ONRAMP|OFFRAMP)\s+\S"
)
_FR_RE = re.compile(r"^(.*\S)\s+FR\s+\S")
_AT_RE = re.compile(r"\S\s+AT\s+\S")
_CALL_BOX_RE = re.compile(r"^CALL\s*BOX\s*:?\s*")
# Slashes that are not intersection separators: fractions (1/2), N/A, "S/B"
# (southbound) and "W/" meaning "with" (Milwaukee ``MCCC W/COURT``).
_FRACTION_RE = re.compile(r"\d/\d")
_BOUND_RE = re.compile(r"\b[NSEW]/B\b")
_WITH_RE = re.compile(r"(?:^|\s)W/")
_AMP_WORD_RE = re.compile(r"\b[A-Z]{1,2}&[A-Z]{1,2}\b")
_BLK_CROSS_RE = re.compile(r"^BLK\b\s*(.*)$")
_DEAD_END_RE = re.compile(r"^DEAD[\s-]*END$")


def _clean_text(value: object) -> str | None:
    """Text with control characters removed and whitespace collapsed.

    Feeds hand over NBSPs, tabs, CRLFs and the odd NUL from scraped HTML; none of
    that is part of the location, and keeping it would split the cache.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, float) and math.isnan(value):
        return ""
    elif not isinstance(value, str):
        value = str(value)
    chars = [
        " " if unicodedata.category(ch)[0] in "CZ" else ch
        for ch in value[: _MAX_LEN * 4]
    ]
    if len(value) > _MAX_LEN * 4:
        chars.append(" …")
    return _WS_RE.sub(" ", "".join(chars)).strip()


def _tokens(text: str) -> list[str]:
    return [t.strip(".,;:#()") for t in text.split() if t.strip(".,;:#()")]


def _street_like(text: str) -> bool:
    """True when the text reads as a street: a suffix type, a route or ordinal,
    or a leading directional (``E KENWOOD``, ``N 76TH``, ``IH 10 W NB``)."""
    toks = _tokens(text.upper())
    if not toks:
        return False
    if toks[0] in _DIRECTIONALS and len(toks) > 1:
        return True
    return any(
        t in _STREET_TYPES or _ROUTE_RE.match(t) or _ORDINAL_RE.match(t) for t in toks
    )


def _has_type(text: str) -> bool:
    return any(t in _STREET_TYPES for t in _tokens(text.upper()))


def _word_separator(upper: str, word: str) -> bool:
    """Whether ``AND``/``TO`` separates two streets rather than naming one.

    ``TOWN AND COUNTRY BLVD`` and ``GULF TO BAY BLVD`` are single street names:
    the left side is a bare word and the suffix type comes after the word. In
    ``Judah And La Playa`` neither side has a type, and in ``N 76TH TO W BROWN
    DEER RD`` the left side is already a street, so the word separates.
    """
    parts = re.split(rf"\s+{word}\s+", upper)
    if len(parts) < 2 or not all(p.strip() for p in parts):
        return False
    left, right = parts[0], " ".join(parts[1:])
    right_toks = _tokens(right)
    right_typed = bool(right_toks) and right_toks[-1] in _STREET_TYPES
    return _street_like(left) or not right_typed


def _split_suffix(text: str) -> tuple[str, list[str]]:
    """Split ``"350 N PLANKINTON AV,MKE"`` into the location and its suffixes.

    Everything after the first comma is city, state or ZIP in these feeds
    (``, PORTLAND, OR``, ``, 78216``, ``, Rochester``, ``,MKE``,
    ``, OAK CREEK 11AM-7PM``).
    """
    head, _, tail = text.partition(",")
    suffixes = [p.strip() for p in tail.split(",") if p.strip()] if tail else []
    return head.strip(), suffixes


def _intersection_reason(upper: str) -> str | None:
    """The separator that makes ``upper`` an intersection, if any."""
    if "\\" in upper:
        parts = [p for p in upper.split("\\") if p.strip()]
        if len(parts) >= 2:
            return "pattern:intersection_backslash"
    if "/" in upper:
        probe = _FRACTION_RE.sub(" ", upper)
        probe = _BOUND_RE.sub(" ", probe)
        probe = probe.replace("N/A", " ")
        probe = _WITH_RE.sub(" WITH ", probe)
        parts = [p for p in probe.split("/") if p.strip()]
        if len(parts) >= 2:
            return "pattern:intersection_slash"
    if "&" in upper:
        probe = _AMP_WORD_RE.sub(" ", upper)
        parts = [p for p in probe.split("&") if p.strip()]
        if len(parts) >= 2:
            return "pattern:intersection_amp"
    if _AT_RE.search(upper):
        return "pattern:intersection_at"
    if " AND " in upper and _word_separator(upper, "AND"):
        return "pattern:intersection_and"
    if _RAMP_RE.search(upper):
        return "pattern:ramp"
    m = _FR_RE.match(upper)
    if m and any(_ROUTE_RE.match(t) for t in _tokens(m.group(1))):
        # Seattle ``Eb Sr520 Fr Montlake``: the ramp from a freeway to a street.
        return "pattern:ramp"
    return None


def _block_check(upper: str) -> tuple[str, str] | None:
    """Hundred-block forms, masks and ranges (before any house-number rule)."""
    m = _BLOCK_WORD_RE.search(upper)
    if m:
        if re.search(r"\d", upper[: m.start()]):
            return "block", "pattern:block_of"
        if re.match(r"^\s*(?:OF\s+)?\d+\s+\S", upper[m.end() :]):
            return "block", "pattern:blk"
        # "Block Of Haight St": the hundred is missing, only the street is known.
        return "street", "pattern:block_no_number"
    if _XX_MASK_RE.match(upper):
        return "block", "pattern:xx_mask"
    if _XX_FULL_RE.match(upper):
        return "street", "pattern:xx_mask_full"
    m = _RANGE_RE.match(upper)
    if m:
        lo, hi = sorted((int(m.group(1)), int(m.group(2))))
        # A range within up to three adjacent hundred blocks (San Antonio
        # ``3940-4099 MEDICAL DR``) is a block; one spanning more (Milwaukee
        # ``1200-2000 W CHAMBERS ST``) is a stretch of street, coarser than that.
        if hi // 100 - lo // 100 <= 2:
            return "block", "pattern:range"
        return "street", "pattern:range_multi_block"
    return None


def _name_only(main: str, upper: str) -> tuple[str, str]:
    """A location with no number, block or separator: street, place or unknown."""
    toks = _tokens(upper)
    if not toks:
        return "unknown", "no_tokens"
    if _ZIP_RE.match(upper):
        return "area", "pattern:zip_only"
    if not _has_type(upper) and toks[-1] in _PLACE_WORDS:
        return "area", "pattern:place_name"
    if len(toks) == 1 and toks[0].isalpha():
        word = toks[0]
        if len(word) <= 3 or (len(word) == 4 and not set(word) & set("AEIOUY")):
            # PAB, SFO, MCCC: a facility code, not a street.
            return "area", "pattern:place_code"
    if _street_like(upper):
        return "street", "pattern:street_name"
    labels = _usaddress_labels(main)
    if labels:
        kinds = set(labels)
        if _HOUSE_TOKEN_RE.match(labels.get("AddressNumber", "")):
            return "exact", "usaddress:exact"
        separator = labels.get("IntersectionSeparator", "").upper()
        if separator not in ("AND", "TO") and (
            separator or any(k.startswith("Second") for k in kinds)
        ):
            return "intersection", "usaddress:intersection"
        if any(k.startswith("Street") for k in kinds):
            return "street", "usaddress:street"
        if kinds <= {"ZipCode", "PlaceName", "StateName", "CountryName"}:
            return "area", "usaddress:place"
        if kinds <= {"LandmarkName", "BuildingName"}:
            return "area", "usaddress:landmark"
        if any(k.startswith(("Occupancy", "Subaddress")) for k in kinds):
            return "unknown", "usaddress:unparsed"
    if all(t.isalpha() for t in toks) and len(toks) <= 4:
        # Caddo publishes street names without a type (NORTHPORT, BUNCOMBE).
        return "street", "pattern:bare_name"
    return "unknown", "unparsed"


def _usaddress_labels(text: str) -> dict[str, str] | None:
    """usaddress labels for ``text``; ``None`` on any failure (never raises)."""
    if usaddress is None:
        return None
    try:
        tagged, _kind = usaddress.tag(text)
    except Exception:  # noqa: BLE001 - RepeatedLabelError and anything else
        return None
    return dict(tagged)


def _classify_main(text: str) -> tuple[str | None, str, str]:
    """Granularity of the location string alone (no policy, no cross street)."""
    upper = text.upper()
    if upper in _WITHHELD:
        return None, "withheld", "withheld_marker"
    if upper == "UNKNOWN":
        return text, "unknown", "unknown_marker"

    call_box = _CALL_BOX_RE.match(upper)
    if call_box:
        text = text[call_box.end() :].strip()
        if not text:
            # "CALL BOX:" with no box id: a location existed but is not given.
            return None, "unknown", "call_box_no_location"
        upper = text.upper()

    main, suffixes = _split_suffix(text)
    cleaned = main or None
    umain = main.upper()
    if not main:
        if suffixes:
            return ", ".join(suffixes), "area", "place_only"
        return None, "withheld", "empty"
    if umain in _WITHHELD:
        return None, "withheld", "withheld_marker"

    block = _block_check(umain)
    if block:
        return cleaned, block[0], block[1]

    if _WITH_RE.search(umain):
        # "MCCC W/COURT": what follows "W/" is a note ("with"), not a street.
        head = _WITH_RE.split(main.upper(), maxsplit=1)[0].strip()
        if head and not _intersection_reason(head):
            _c, gran, why = _classify_main(head)
            return cleaned, gran, f"{why}+with_note"

    sep = _intersection_reason(umain)
    if sep:
        return cleaned, "intersection", sep
    if " TO " in umain and _word_separator(umain, "TO"):
        return cleaned, "street", "pattern:segment_to"
    if _MILE_MARKER_RE.search(umain):
        return cleaned, "street", "pattern:mile_marker"

    house = _HOUSE_RE.match(umain)
    if house:
        if int(house.group(1)) == 0:
            # "0 SW 1ST AVE": no building is number 0; it is the zero block.
            return cleaned, "block", "pattern:zero_house_number"
        return cleaned, "exact", "pattern:house_number"

    if (
        suffixes
        and not _has_type(umain)
        and _has_type(suffixes[0])
        and _street_like(suffixes[0])
    ):
        # "E KENWOOD, N LAKE DR": the "suffix" is a street, not a city.
        return f"{main}, {suffixes[0]}", "intersection", "pattern:comma_street"

    gran, why = _name_only(main, umain)
    return cleaned, gran, why


def _apply_cross(
    main: tuple[str | None, str, str], cross_text: str | None, main_empty: bool
) -> tuple[str | None, str, str]:
    """Refine a numberless location with the feed's cross-street field.

    Houston's ``CrossStreet`` is ``BLK <street>`` (the block of the address street
    next to that cross street) or ``DEAD-END``; Caddo's ``cross_streets`` names the
    two streets bounding the block (``CLYDESDALE RD & COOK RD``). A single named
    cross street makes the location an intersection.
    """
    if not cross_text or cross_text.upper() in _WITHHELD:
        return main
    ucross = cross_text.upper()
    if main_empty:
        if _intersection_reason(ucross):
            return cross_text, "intersection", "cross_street_only"
        return cross_text, "street", "cross_street_only"
    cleaned, gran, _why = main
    if gran not in ("street", "area", "unknown"):
        return main
    m = _BLK_CROSS_RE.match(ucross)
    if m:
        rest = m.group(1).strip()
        if not rest or rest == "UNKNOWN":
            return cleaned, "street", "cross_street:blk_unknown"
        return cleaned, "block", "cross_street:blk"
    if _DEAD_END_RE.match(ucross):
        return cleaned, "block", "cross_street:dead_end"
    if "&" in ucross or "/" in ucross:
        return cleaned, "block", "cross_street:bounding"
    return cleaned, "intersection", "cross_street"


def _classify_uncached(
    text: str | None, ceiling: str, cross_street: str | None
) -> AddressResult:
    if ceiling not in ADDRESS_RANK:
        return AddressResult(text or None, "unknown", "invalid_ceiling")
    if ceiling == "withheld":
        return AddressResult(None, "withheld", "policy_ceiling")
    if text is not None and len(text) > _MAX_LEN:
        return AddressResult(None, "unknown", "too_long")

    main_empty = text is None or text.strip() in ("", "-")
    if main_empty:
        result: tuple[str | None, str, str] = (None, "withheld", "empty")
    else:
        result = _classify_main(text)
    result = _apply_cross(result, cross_street, main_empty)
    cleaned, gran, reason = result
    if ADDRESS_RANK[ceiling] > ADDRESS_RANK[gran]:
        gran, reason = ceiling, "policy_ceiling"
    if gran == "withheld":
        cleaned = None
    return AddressResult(cleaned, gran, reason)


def _classify_raw(text: object, ceiling: object, cross_street: object) -> AddressResult:
    """Clean the inputs, then classify (the body of the cached function)."""
    ceil = str(ceiling).strip().lower() if ceiling is not None else "exact"
    clean = _clean_text(text)
    cross = _clean_text(cross_street)
    if cross is not None and len(cross) > _MAX_LEN:
        cross = None
    return _classify_uncached(clean, ceil, cross)


# Keyed by the raw inputs, so a repeated address costs one dict lookup: no
# cleaning, no regex, no usaddress.
_classify_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(_classify_raw)
_CACHEABLE_LEN = _MAX_LEN * 4


def classify_address(
    text: str | None, *, ceiling: str = "exact", cross_street: str | None = None
) -> AddressResult:
    """Classify a published location string into ``vocab.ADDRESS_GRANULARITY``.

    ``ceiling`` is the feed's documented location policy (the finest granularity
    the publisher releases); the string can only lower it. ``cross_street`` is a
    separate cross-street field where the feed has one. Never raises: anything
    unexpected comes back as ``unknown`` with reason ``error``. Results are cached
    by distinct ``(text, ceiling, cross_street)``.
    """
    try:
        if (
            (text is None or type(text) is str)
            and (cross_street is None or type(cross_street) is str)
            and type(ceiling) is str
            and len(text or "") <= _CACHEABLE_LEN
            and len(cross_street or "") <= _CACHEABLE_LEN
        ):
            return _classify_cached(text, ceiling, cross_street)
        # Unhashable, exotic or huge input: classify without filling the cache.
        return _classify_raw(text, ceiling, cross_street)
    except Exception:  # noqa: BLE001 - totality is the contract
        return AddressResult(None, "unknown", "error")


def cache_info() -> functools._CacheInfo:
    """Hit/miss counters of the per-distinct-input cache (for tests and benches)."""
    return _classify_cached.cache_info()


def cache_clear() -> None:
    """Empty the cache (e.g. between benchmark runs)."""
    _classify_cached.cache_clear()


# --------------------------------------------------------------------------
# Coordinates
# --------------------------------------------------------------------------

# Three decimals of a degree is about 100 m of latitude: a published value that
# coarse has been rounded (Nashville ``36.277``), whatever the policy says.
_BLUR_MAX_DECIMALS = 3


def _coord_value(value: object) -> tuple[float, int] | None:
    """(value, decimal places as published) or ``None`` when unusable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            text = value.strip().lstrip("+")
            if not text:
                return None
            dec = Decimal(text)
        elif isinstance(value, Decimal):
            dec = value
        elif isinstance(value, int | float):
            # repr gives the shortest string that round-trips: the published
            # digits when the value came from JSON text.
            dec = Decimal(repr(float(value)))
        else:
            return None
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        return None
    if not dec.is_finite():
        return None
    number = float(dec)
    if not math.isfinite(number):
        return None
    exponent = dec.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return number, decimals


def classify_coordinates(lat: object, lon: object, *, policy: str = "exact") -> str:
    """Granularity of a published point, in ``vocab.COORD_GRANULARITY``.

    ``policy`` is the feed's documented coordinate policy and is the ceiling; the
    published precision is evidence that can only lower it: 3 or fewer decimals
    on both values means ``blurred``. Pass the value as the published string where
    there is one (``"47.610000"``), because a float forgets trailing zeros.
    Missing, unparseable, out-of-range or zero coordinates are ``none``. An
    unrecognised policy falls back to the evidence alone. Never raises.
    """
    try:
        pol = str(policy).strip().lower() if policy is not None else "exact"
        if pol not in COORD_RANK:
            pol = "exact"
        if pol == "none":
            return "none"
        plat, plon = _coord_value(lat), _coord_value(lon)
        if plat is None or plon is None:
            return "none"
        (vlat, dlat), (vlon, dlon) = plat, plon
        if vlat == 0 or vlon == 0 or abs(vlat) > 90 or abs(vlon) > 180:
            return "none"
        evidence = "blurred" if max(dlat, dlon) <= _BLUR_MAX_DECIMALS else "exact"
        return max(pol, evidence, key=COORD_RANK.__getitem__)
    except Exception:  # noqa: BLE001 - totality is the contract
        return "none"


assert set(ADDRESS_RANK) == set(ADDRESS_GRANULARITY)
assert set(COORD_RANK) == set(COORD_GRANULARITY)
