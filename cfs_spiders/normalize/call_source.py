"""How a call reached the police: 911, another phone line, an alarm, an officer.

Why it matters: the share of officer-initiated work is one of the few things a
calls-for-service feed can say about policing itself, and a feed that only lists
calls does not say who started them. The rules here are deliberately cautious:

* An explicit source field wins (Seattle ``Call Type``, New Orleans
  ``SelfInitiated``, Detroit ``officerinitiated``, San Francisco
  ``onview_flag``), with ``basis="explicit_field"``.
* Without one, a call type can show that an officer started the call
  (``TRAFFIC STOP``, ``PREMISE CHECK``, ``ONVIEW`` ...), and a 911 hang-up shows
  that it came in on 911; these say ``basis="inferred_from_call_type"``.
* Otherwise the source is ``unknown`` with ``basis="none"``. A call is never
  ``911`` merely because nothing says otherwise.

A bare yes/no value (``Y``/``N``, ``Yes``/``No``) is read as an
officer-initiated flag, because that is what it means in every feed seen so far;
``N`` gives ``public_unknown`` (public-originated, channel unknown), not ``911``.
A blank value is unknown, never "not officer-initiated".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..config import vocab

__all__ = [
    "SourceResult",
    "classify_source",
    "explicit_source",
    "infer_from_call_type",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceResult:
    """Source of one call.

    ``source`` is in ``vocab.CALL_SOURCES``, ``basis`` in
    ``vocab.CALL_SOURCE_BASIS``; ``is_officer_initiated`` is ``True``,
    ``False`` or ``None`` (not known).
    """

    source: str
    basis: str
    is_officer_initiated: bool | None


UNKNOWN = SourceResult("unknown", "none", None)

# Whether each source means the officer started the call. ``other`` and
# ``unknown`` say nothing either way.
_OFFICER: dict[str, bool | None] = {
    "911": False,
    "non_emergency_phone": False,
    "officer_initiated": True,
    "alarm": False,
    "text": False,
    "walk_in": False,
    "online_report": False,
    "other_agency": False,
    "scheduled_or_admin": False,
    "other": None,
    "public_unknown": False,
    "unknown": None,
}

# Exact explicit values (normalized: upper case, punctuation to spaces).
_EXPLICIT: dict[str, str] = {
    # Seattle SPD "Call Type" (see reference/vera_self_initiated.csv).
    "911": "911",
    "ONVIEW": "officer_initiated",
    "ON VIEW": "officer_initiated",
    "TELEPHONE OTHER NOT 911": "non_emergency_phone",
    "TELEPHONE OTHER": "non_emergency_phone",
    "NOT 911": "non_emergency_phone",
    "ALARM CALL NOT POLICE ALARM": "alarm",
    "ALARM CALL": "alarm",
    "POLICE VARDA ALARM": "alarm",
    "HISTORY CALL RETRO": "scheduled_or_admin",
    "IN PERSON COMPLAINT": "walk_in",
    "TEXT MESSAGE": "text",
    "PROACTIVE OFFICER INITIATED": "officer_initiated",
    "SCHEDULED EVENT RECURRING": "scheduled_or_admin",
    # Yes/no officer-initiated flags: New Orleans SelfInitiated, Detroit
    # officerinitiated, San Francisco onview_flag.
    "Y": "officer_initiated",
    "YES": "officer_initiated",
    "TRUE": "officer_initiated",
    "N": "public_unknown",
    "NO": "public_unknown",
    "FALSE": "public_unknown",
    # San Francisco onview_flag: Healthy Streets Operation Center, a city
    # operations centre that hands calls to the police.
    "HSOC": "other_agency",
}
# Where each exact value was learned (the city whose explicit field has it),
# so a benchmark can hold a city out (``explicit_source(exclude_cities=...)``).
# A value not listed here was written from ordinary usage, not from a feed.
# The yes/no officer-initiated flag is one reading learned from three cities
# (New Orleans ``Y``/``N``, Detroit ``Yes``/``No``, San Francisco ``Y``/``N``):
# it stays when any one of them is held out.
_FLAG_CITIES = frozenset({"New Orleans", "Detroit", "San Francisco"})
_SEEN_IN: dict[str, frozenset[str]] = {
    **{
        key: frozenset({"Seattle"})
        for key in (
            "911",
            "ONVIEW",
            "ON VIEW",
            "TELEPHONE OTHER NOT 911",
            "TELEPHONE OTHER",
            "NOT 911",
            "ALARM CALL NOT POLICE ALARM",
            "ALARM CALL",
            "POLICE VARDA ALARM",
            "HISTORY CALL RETRO",
            "IN PERSON COMPLAINT",
            "TEXT MESSAGE",
            "PROACTIVE OFFICER INITIATED",
            "SCHEDULED EVENT RECURRING",
        )
    },
    **{key: _FLAG_CITIES for key in ("Y", "YES", "N", "NO")},
    "HSOC": frozenset({"San Francisco"}),
}
# Values that are present but say nothing about the source.
_NO_INFORMATION = frozenset({"FK ERROR", "UNKNOWN", "UNK", "NONE", "NULL", "N A", "NA"})

# Keyword rules for explicit values of feeds never seen, first match wins. They
# read the words real systems use for the channel a call came in on; the
# order settles values that name two ("TEXT TO 911" is a text, "NOT 911" a
# phone line, "911 ALARM CO" an alarm).
_EXPLICIT_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (source, re.compile(pattern))
    for source, pattern in (
        ("text", r"\b(TEXT\w*|SMS|TXT(911)?|TEXT911)\b"),
        (
            "officer_initiated",
            r"\b(ON ?VIEWS?|OFFICER (INIT\w*|OBSERV\w*|GENERATED|DISCOVERED)|"
            r"SELF( INIT\w*)?|SELFINIT\w*|FIELD( INIT\w*| CONTACT| GENERATED)?|"
            r"PROACTIVE|OBSERVED|OFFICER|OI)\b",
        ),
        ("alarm", r"\b(ALARMS?|ALARM CO\w*|ALRM|MONITORING CO\w*|CENTRAL STATION)\b"),
        ("non_emergency_phone", r"\b(NON ?911|NOT 911|NON EMERGENCY)\b"),
        ("911", r"\b(E ?911|911|ENHANCED 911|NINE ONE ONE)\b"),
        (
            "non_emergency_phone",
            r"\b(TELEPHONE|PHONE|311|10 DIGIT|7 DIGIT|ADMIN LINE|BUSINESS LINE|"
            r"CALL IN)\b",
        ),
        (
            "walk_in",
            r"\b(WALK ?INS?|WALK UP|IN PERSON|FRONT DESK|LOBBY|STATION|COUNTER)\b",
        ),
        ("online_report", r"\b(ONLINE|ON LINE|INTERNET|WEB\w*|E ?MAIL|APP|PORTAL)\b"),
        (
            "other_agency",
            r"\b(OTHER AGENCY|ALLIED AGENCY|MUTUAL AID|OUTSIDE AGENCY|FIRE|EMS|"
            r"TELETYPE|NCIC)\b",
        ),
        ("scheduled_or_admin", r"\b(SCHEDULED|ADMIN\w*|RETRO|HISTORY)\b"),
        ("other", r"\bOTHER\b"),
    )
)

# Call types that show an officer started the call (checked on normalized text).
_OFFICER_CALL_TYPES = re.compile(
    r"\b("
    r"TRAFFIC STOPS?|OFFICER TRAFFIC STOP|TS TARGETED|"
    r"ON ?VIEW|OFFICER INITIATED|SELF INITIATED|"
    r"(PREMISES?|AREA|BUSINESS|BUILDING|HOUSE|HOME|VACANT \w+|TAVERN|PARK|PERIODIC|"
    r"RESIDENCE|SCHOOL|ZONE) (CHECKS?|CHKS?)|HOUSE BUSINESS CHECK|"
    r"DIRECTED PATROL|DESIGNATED PATROL|PATROL BY|EXTRA PATROL|FOOT PATROL|"
    r"WALK (AND|&) TALK|PARK (AND|&) WALK|WALKING BEAT|FOOT BEAT|"
    r"FIELD (INTERVIEW|CONTACT|INTERROGATION)S?|"
    r"(PEDESTRIAN|SUBJ|SUBJECT|TERRY|SUSPICIOUS|CAR|VEHICLE|WALKING|FOOT|BIKE) "
    r"STOPS?|PASSING CALLS?|(PROPERTY|SECURITY) CHECKS?|"
    r"CHECK (THE )?(AREA|BUILDING|BUSINESS|PREMISES?|PROPERTY)|WALK ?THROUGH|"
    r"SURVEILLANC\w*|(SPECIAL|SELECTIVE|TARGETED|DIRECTED) ENFORCEMENT|"
    r"COMMUNITY POLICING|PREDICTIVE POLICING"
    r")\b"
)
_911_CALL_TYPES = re.compile(
    r"\b(911 (HANG ?UPS?|HANGUP|OPEN LINE|DISCONNECT\w*|ABANDON\w*|CALL|CHECKS?|"
    r"MISDIAL\w*)|(SILENT|ABANDONED|INCOMPLETE|UNKNOWN) (E )?911)\b"
)
# Call types that name the channel itself.
_TEXT_CALL_TYPES = re.compile(r"\bTEXT ?(TO )?911\b")
_ALARM_COMPANY_CALL_TYPES = re.compile(r"\bALARM (CO|COMPANY|MONITORING)\b")
_NON_WORD = re.compile(r"[^A-Z0-9&]+")


def _text(value: Any) -> str:
    """Best-effort text for any input."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return ""


def _norm(value: str) -> str:
    return _NON_WORD.sub(" ", value.upper()).strip()


def _result(source: str, basis: str) -> SourceResult:
    return SourceResult(source, basis, _OFFICER[source])


def _explicit(norm: str, exclude: frozenset[str] = frozenset()) -> str | None:
    """Source named by an explicit field value, or None if it says nothing.
    Exact values learned only from the cities in ``exclude`` are skipped."""
    if not norm or norm in _NO_INFORMATION:
        return None
    seen = _SEEN_IN.get(norm)
    if norm in _EXPLICIT and not (seen and seen <= exclude):
        return _EXPLICIT[norm]
    for source, pattern in _EXPLICIT_KEYWORDS:
        if pattern.search(norm):
            return source
    return None


def explicit_source(
    value: Any, *, exclude_cities: Iterable[str] = (), keywords_only: bool = False
) -> str | None:
    """The source an explicit field value names, or ``None`` when it names
    none, for benchmarks of cities never seen: exact values learned only from
    ``exclude_cities`` are not used (or, ``keywords_only``, no exact value at
    all: the general keyword rules alone)."""
    norm = _norm(_text(value).strip())
    if keywords_only:
        if not norm or norm in _NO_INFORMATION:
            return None
        for source, pattern in _EXPLICIT_KEYWORDS:
            if pattern.search(norm):
                return source
        return None
    return _explicit(norm, frozenset(exclude_cities))


@lru_cache(maxsize=16384)
def infer_from_call_type(call_type: str | None) -> SourceResult:
    """Source implied by a call type alone (``unknown`` when it implies none).

    Only inferences that the call type states are made: officer-initiated
    work named as such, 911 hang-ups, open lines and 911 call-backs (which by
    definition came in on 911), a text-to-911 session, and an alarm reported
    by an alarm company ("BURGLARY ALARM (ALARM COMPANY)"). An alarm call type
    alone says nothing about who called.
    """
    norm = _norm(_text(call_type))
    if not norm:
        return UNKNOWN
    if _OFFICER_CALL_TYPES.search(norm):
        return _result("officer_initiated", "inferred_from_call_type")
    if _TEXT_CALL_TYPES.search(norm):
        return _result("text", "inferred_from_call_type")
    if _ALARM_COMPANY_CALL_TYPES.search(norm):
        return _result("alarm", "inferred_from_call_type")
    if _911_CALL_TYPES.search(norm):
        return _result("911", "inferred_from_call_type")
    return UNKNOWN


@lru_cache(maxsize=16384)
def _classify(source_raw: str, call_type: str) -> SourceResult:
    source = _explicit(_norm(source_raw))
    if source is not None:
        return _result(source, "explicit_field")
    return infer_from_call_type(call_type)


def classify_source(
    source_raw: Any,
    *,
    feed_id: Any = None,
    call_type: Any = None,
) -> SourceResult:
    """Classify a call's source: explicit field, else call type, else unknown.

    ``feed_id`` is accepted for symmetry with the other normalizers and for
    future per-feed tables; the values seen so far mean the same in every feed.
    Never raises.
    """
    try:
        return _classify(_text(source_raw).strip(), _text(call_type).strip())
    except Exception:  # noqa: BLE001
        log.exception("classify_source failed for %r", source_raw)
        return UNKNOWN


def _check_tables() -> None:
    """Import-time guard: every table value is a vocabulary code."""
    sources = set(_EXPLICIT.values()) | {s for s, _ in _EXPLICIT_KEYWORDS}
    if set(_SEEN_IN) - set(_EXPLICIT):
        raise RuntimeError("call_source: provenance given for values not in _EXPLICIT")
    bad = (sources | set(_OFFICER)) - set(vocab.CALL_SOURCES)
    if bad or set(_OFFICER) != set(vocab.CALL_SOURCES):
        raise RuntimeError(f"call_source tables out of step with vocab: {bad}")


_check_tables()
