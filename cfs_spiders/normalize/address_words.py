"""The words and patterns that read a published location string.

Kept apart from ``address.py`` (the decisions) so the vocabulary of real CAD
location text can grow without touching the logic: street types, directions,
route designators, venue words, withheld markers and the regular expressions of
block, range, intersection and route forms, each with the feed that showed it.
"""

from __future__ import annotations

import re

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
    # Fairfax ``KINGSTOWNE TOWNE CTR``, Little Rock ``CHENAL PKY`` and
    # ``MABELVALE CTF`` (cut-off), Hamilton ``OCHS HWY EXT``, Oakland ``S24 CONN``
    "CTR", "PKY", "CTF", "CUTOFF", "EXT", "CONN",
})
# fmt: on
# fmt: off
_DIRECTIONALS = frozenset({
    "N", "S", "E", "W", "NE", "NW", "SE", "SW", "NB", "SB", "EB", "WB", "IB", "OB",
    "NORTH", "SOUTH", "EAST", "WEST",
    "NORTHBOUND", "SOUTHBOUND", "EASTBOUND", "WESTBOUND",
})
# fmt: on
# Route designators: I5, I-4, IH 35, SR520, SR 417, US 59, RT 531, SH 6, FM 78.
_ROUTE_RE = re.compile(
    r"^(?:I-?\d+[A-Z]?|IH-?\d*|SR-?\d*|US-?\d*|RT-?\d*[A-Z]?|SH-?\d*|FM-?\d*"
    r"|HWY\d+|HY\d+|LOOP|INTERSTATE)$"
)
_ORDINAL_RE = re.compile(r"^\d+(?:ST|ND|RD|TH)$")
# A route written as two tokens: ``I 55``, ``ROUTE 50``, ``RTE O``, ``HWY NN``.
_ROUTE_PREFIX = frozenset(
    {
        "I",
        "IH",
        "SR",
        "US",
        "RT",
        "RTE",
        "ROUTE",
        "SH",
        "FM",
        "HWY",
        "HY",
        "HIGHWAY",
        "INTERSTATE",
        "LOOP",
        "SPUR",
        "BELTWAY",
        "CR",
        "STATE",
    }
)
_ROUTE_ID_RE = re.compile(r"^(?:\d{1,4}[A-Z]?|[A-Z]{1,2})$")
# A number that names the road, not a building on it: ``610 W LOOP S`` (Houston's
# Loop 610), ``101 NB``, ``12 MILE RD``. House numbers on such roads have four or
# more digits (``6900 N LOOP``), so only numbers of up to three digits qualify.
_ROUTE_WORDS = (
    r"LOOP|FWY|FREEWAY|EXPY|EXPWY|EXPRESSWAY|TOLLWAY|BELTWAY|BELT|BYPASS|BYP|SPUR"
    r"|HWY|HIGHWAY|INTERSTATE"
)
_BOUND_WORDS = r"NB|SB|EB|WB|IB|OB|NORTHBOUND|SOUTHBOUND|EASTBOUND|WESTBOUND"
_ROUTE_NUMBER_RE = re.compile(
    rf"^\d{{1,3}}\s+(?:[NSEW]{{1,2}}\s+)?(?:{_ROUTE_WORDS})"
    rf"(?:\s+(?:[NSEW]{{1,2}}|{_BOUND_WORDS}))*$"
)
_ROUTE_BOUND_RE = re.compile(
    rf"^\d{{1,4}}(?:\s+[NSEW])?\s+(?:{_BOUND_WORDS})(?:\s+(?:{_BOUND_WORDS}))?$"
)
_MILE_ROAD_RE = re.compile(r"^\d{1,3}\s+MILE\b")
_FRACTION_HOUSE_RE = re.compile(r"^\d/\d\s+\S")
# A position on a road relative to a crossing road: Fairfax ``RT267 WB PRI
# DOLLEY MADISON BLVD`` (prior to), ``ROUTE 50 WB UNDER WEST OX RD``.
_RELATIVE_RE = re.compile(r"^(.*\S)\s+(PRI|PRIOR TO|UNDER|OVER|PAST)\s+(\S.*)$")
# Values that are not a location at all (CHP ``Media Log``).
_NOT_A_LOCATION = frozenset(
    {"MEDIA LOG", "LOG", "TEST", "TEST CALL", "TRAINING", "NO LOCATION", "UNK"}
)
# A named place with its street in parentheses: CHP ``Caltrans-la (15th St)``.
_PLACE_PAREN_RE = re.compile(r"^([^()]*[^()\s])\s*\(([^()]+)\)$")
# Named places: the string locates the call only to a facility or landmark.
# fmt: off
_PLACE_WORDS = frozenset({
    "AIRPORT", "SCHOOL", "PARK", "HOSPITAL", "MALL", "CENTER", "CENTRE", "JAIL",
    "STADIUM", "CAMPUS", "LIBRARY", "CHURCH", "COLLEGE", "UNIVERSITY", "ACADEMY",
    "CEMETERY", "PLAYGROUND", "PLGD", "ARENA", "ZOO", "COURTHOUSE",
    # venues (St. Louis ``ZOO SOUTH PARKING LOT``)
    "LOT", "GARAGE", "TERMINAL", "DEPOT", "HOTEL", "MOTEL", "APARTMENTS", "APTS",
    "FAIRGROUNDS", "MARINA", "PIER", "CAMPGROUND", "BLDG", "BUILDING",
    "HEADQUARTERS", "STATION",
})
# fmt: on

_WS_RE = re.compile(r"\s+")
_BLOCK_WORD_RE = re.compile(r"\b(?:BLOCK|BLK)\b")
_XX_MASK_RE = re.compile(r"^\[?\d+X+\]?(?=\s|$)")
_XX_FULL_RE = re.compile(r"^X{2,}(?=\s|$)")
_RANGE_RE = re.compile(r"^\[?(\d{1,6})\]?\s*-\s*\[?(\d{1,6})\]?\s+\S")
# A house number, optionally with a letter, a unit (Columbia ``3501-208``,
# ``502-A``, ``1500-5F``) or a half (``123 1/2``).
_HOUSE_RE = re.compile(
    r"^(\d{1,6})(?:[A-Z]|-[A-Z]{1,2}|-\d{1,5}[A-Z]?)?(?:\s+\d/\d)?\s+\S"
)
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
_AMP_WORD_RE = re.compile(r"\b([A-Z]{1,2})&([A-Z]{1,2})\b")
_BLK_CROSS_RE = re.compile(r"^BLK\b\s*(.*)$")
_DEAD_END_RE = re.compile(r"^DEAD[\s-]*END$")
