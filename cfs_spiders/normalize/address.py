"""Address and coordinate granularity of a published call location.

Every feed publishes its location at some precision, and the comparison across
cities is only honest if that precision is stated per record. Two sources of
evidence are combined:

1. **The string** gives ``form``: what the published value is (an exact address,
   a block, an intersection, a street, an area, withheld or unknown), read without
   any knowledge of the feed. A pattern pass handles the forms ``usaddress`` gets
   wrong (hundred blocks, ``XX`` masks, ranges, intersection separators, freeway
   and ramp text, route numbers, venues, withheld markers); ``usaddress`` is
   consulted only for what is left.
2. **The policy** gives ``granularity``: the finest the published value can mean
   under the feed's documented location policy (``ceiling``). ``6600 ALVARADO RD``
   has the form of an exact address; in a block-rounded feed its granularity is
   ``block``. The policy only lowers a form that is strictly finer than it
   (``vocab.finer_or_equal``); a form coarser than the policy, or not comparable
   with it, stands. Precision is a partial order: a block and an intersection are
   not comparable, so an intersection in a block-level feed stays an
   intersection, and a block bounded by two cross streets in a feed whose policy
   is ``intersection`` (Caddo) stays a block.

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

from ..config.vocab import (
    ADDRESS_GRANULARITY,
    ADDRESS_RANK,
    finer_or_equal,
)
from .address_words import (
    _AMP_WORD_RE,
    _AT_RE,
    _BLK_CROSS_RE,
    _BLOCK_WORD_RE,
    _BOUND_RE,
    _CALL_BOX_RE,
    _DEAD_END_RE,
    _DIRECTIONALS,
    _FR_RE,
    _FRACTION_HOUSE_RE,
    _FRACTION_RE,
    _HOUSE_RE,
    _HOUSE_TOKEN_RE,
    _MILE_MARKER_RE,
    _MILE_ROAD_RE,
    _NOT_A_LOCATION,
    _ORDINAL_RE,
    _PLACE_PAREN_RE,
    _PLACE_WORDS,
    _RAMP_RE,
    _RANGE_RE,
    _RELATIVE_RE,
    _ROUTE_BOUND_RE,
    _ROUTE_ID_RE,
    _ROUTE_NUMBER_RE,
    _ROUTE_PREFIX,
    _ROUTE_RE,
    _STREET_TYPES,
    _WITH_RE,
    _WITHHELD,
    _WS_RE,
    _XX_FULL_RE,
    _XX_MASK_RE,
    _ZIP_RE,
)
from .coordinates import classify_coordinates

try:  # pragma: no cover - the dependency is declared; stay total without it
    import usaddress
except Exception:  # noqa: BLE001
    usaddress = None

__all__ = [
    "AddressResult",
    "apply_policy",
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
    stays with the caller as ``address_raw``. ``form`` is what the string is,
    ``granularity`` what it can mean under the feed's policy (both codes of
    ``vocab.ADDRESS_GRANULARITY``). ``reason`` names the rule that decided the
    granularity (``policy_ceiling`` when the policy lowered the form), so a
    surprising code can be traced without re-running anything.
    """

    cleaned: str | None
    granularity: str
    reason: str
    form: str = "unknown"


# Strings longer than this are not addresses; they are classified ``unknown``
# without parsing (and without caching) so a pathological input costs nothing.
_MAX_LEN = 300
_CACHE_SIZE = 200_000


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
    if any(
        a in _ROUTE_PREFIX and _ROUTE_ID_RE.match(b)
        for a, b in zip(toks, toks[1:], strict=False)
    ):
        return True
    return any(
        t in _STREET_TYPES or _ROUTE_RE.match(t) or _ORDINAL_RE.match(t) for t in toks
    )


def _with_note_at(upper: str) -> int | None:
    """Where a ``W/`` meaning "with" starts (Milwaukee ``MCCC W/COURT``), if any.

    After a street or route the ``W`` is a direction and the slash separates two
    roads (Columbia ``I70 W/N RTE Z ONR WB``)."""
    for m in _WITH_RE.finditer(upper):
        before = upper[: m.start()].strip()
        if not before or not _street_like(before.split("/")[-1]):
            return m.start()
    return None


def _amp_words(upper: str) -> str:
    """``upper`` with ampersands inside a word (``AT&T``, ``B&O``) blanked out.

    ``AV&NB``, ``ST&MC`` (Oakland ``BALDWIN ST&MC CLARY AV``) join two streets: a
    street type before or a direction after the ampersand makes it a separator."""

    def blank(m: re.Match[str]) -> str:
        left, right = m.group(1), m.group(2)
        if left in _STREET_TYPES or right in _DIRECTIONALS or left in _DIRECTIONALS:
            return m.group(0)
        return " "

    return _AMP_WORD_RE.sub(blank, upper)


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


def _comma_street(suffix: str) -> bool:
    """Whether the part after a comma is a second street rather than a place.

    Places in these feeds are city names (``PORTLAND``, ``FALLS CHURCH``), states
    and ZIP codes; a second street ends with a street type (``ELM ST``)."""
    toks = _tokens(suffix.upper())
    return (
        len(toks) >= 2
        and (toks[-1] in _STREET_TYPES or bool(_ROUTE_RE.match(toks[-1])))
        and _street_like(suffix)
    )


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
        at = _with_note_at(probe)
        if at is not None:
            probe = probe[:at] + " WITH " + probe[at:].replace("/", " ", 1)
        parts = [p for p in probe.split("/") if p.strip()]
        if len(parts) >= 2:
            return "pattern:intersection_slash"
    if "&" in upper:
        probe = _amp_words(upper)
        parts = [p for p in probe.split("&") if p.strip()]
        if len(parts) >= 2:
            return "pattern:intersection_amp"
    if _AT_RE.search(upper):
        return "pattern:intersection_at"
    rel = _RELATIVE_RE.match(upper)
    if rel and _street_like(rel.group(1)) and _street_like(rel.group(3)):
        return "pattern:intersection_relative"
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
        # St. Louis ``XX HAMPTON VILLAGE PLZ``: both digits masked, the 0-99 block.
        return "block", "pattern:xx_mask_zero_block"
    m = _RANGE_RE.match(upper)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo:
            # Columbia ``3501-208 NEW HAVEN RD``: house number and unit, no range.
            return None
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
    if upper in _NOT_A_LOCATION:
        return "unknown", "pattern:not_a_location"
    paren = _PLACE_PAREN_RE.match(upper)
    if paren and not _has_type(paren.group(1)) and _street_like(paren.group(2)):
        return "area", "pattern:place_with_street"
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

    at = _with_note_at(umain)
    if at is not None:
        # "MCCC W/COURT": what follows "W/" is a note ("with"), not a street.
        head = umain[:at].strip()
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

    if _ROUTE_BOUND_RE.match(umain):
        return cleaned, "street", "pattern:route_direction"
    if _ROUTE_NUMBER_RE.match(umain):
        return cleaned, "street", "pattern:route_number"
    if _MILE_ROAD_RE.match(umain):
        return cleaned, "street", "pattern:mile_road"
    if _FRACTION_HOUSE_RE.match(umain):
        # "1/2 MAIN ST": the half-number address is the house number.
        return cleaned, "exact", "pattern:fraction_house_number"

    house = _HOUSE_RE.match(umain)
    if house:
        if int(house.group(1)) == 0:
            # "0 SW 1ST AVE": no building is number 0; it is the zero block.
            return cleaned, "block", "pattern:zero_house_number"
        return cleaned, "exact", "pattern:house_number"

    if suffixes and _comma_street(suffixes[0]):
        # "E KENWOOD, N LAKE DR", "MAIN ST, ELM ST": the "suffix" is a street, not
        # a city.
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


def _form(text: str | None, cross_street: str | None) -> tuple[str | None, str, str]:
    """(cleaned, form, reason) of the string and cross street, without policy."""
    main_empty = text is None or text.strip() in ("", "-")
    if main_empty:
        result: tuple[str | None, str, str] = (None, "withheld", "empty")
    else:
        result = _classify_main(text)  # type: ignore[arg-type]
    return _apply_cross(result, cross_street, main_empty)


def apply_policy(form: str, policy: str) -> str:
    """The granularity a value of ``form`` has under location ``policy``.

    The policy is the finest the publisher releases: it lowers a form strictly
    finer than itself to itself (an exact-looking address in a block-rounded feed
    is a block). A form that is coarser than the policy, or not comparable with
    it (a block under an ``intersection`` policy), is what was published and
    stands. A ``withheld`` policy withholds everything.
    """
    if policy == "withheld":
        return "withheld"
    return policy if form != policy and finer_or_equal(form, policy) else form


def _classify_uncached(
    text: str | None, ceiling: str, cross_street: str | None
) -> AddressResult:
    if text is not None and len(text) > _MAX_LEN:
        return AddressResult(None, "unknown", "too_long", "unknown")
    cleaned, form, reason = _form(text, cross_street)
    if ceiling not in ADDRESS_RANK:
        return AddressResult(text or None, "unknown", "invalid_ceiling", form)
    if ceiling == "withheld":
        return AddressResult(None, "withheld", "policy_ceiling", form)
    gran = apply_policy(form, ceiling)
    if gran != form:
        reason = "policy_ceiling"
    if gran == "withheld":
        cleaned = None
    return AddressResult(cleaned, gran, reason, form)


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
        return AddressResult(None, "unknown", "error", "unknown")


def cache_info() -> functools._CacheInfo:
    """Hit/miss counters of the per-distinct-input cache (for tests and benches)."""
    return _classify_cached.cache_info()


def cache_clear() -> None:
    """Empty the cache (e.g. between benchmark runs)."""
    _classify_cached.cache_clear()


assert set(ADDRESS_RANK) == set(ADDRESS_GRANULARITY)
