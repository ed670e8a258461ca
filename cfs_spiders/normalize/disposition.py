"""Map a published disposition (how a call ended) to ``vocab.DISPOSITIONS``.

Why a table first and keywords second: dispositions are short coded values
(``HAN``, ``GOA``, ``REPORT WRITTEN (NO ARREST)``) whose meaning is fixed by the
publisher, so the known values of each feed are listed exactly; keyword rules
only catch values not seen yet. Two rules of docs/VOCABULARY.md shape everything:

* When one record holds several dispositions (``ARR, REP`` or ``CIT|ADV``), the
  most severe wins, in the order of ``vocab.DISPOSITIONS``.
* "No report" is never "unfounded": a call handled without a report was still
  a real call (``handled_no_report``).

A blank value is ``unknown``; the record builder decides whether a missing
disposition means the call is still ``open``. Never raises.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from ..config import vocab
from .text import to_text

__all__ = ["KNOWN_VALUES", "classify_disposition", "most_severe"]

log = logging.getLogger(__name__)

# Exact published values, keyed after normalization (upper case, runs of
# punctuation and space collapsed to one space).
_TABLE: dict[str, str] = {
    # --- San Francisco SFPD codes (radio_code.json and the real-time dataset) --
    "HAN": "handled_no_report",  # Handled
    "GOA": "gone_on_arrival",  # Gone on Arrival
    "CIT": "citation",  # Cited
    "UTL": "unable_to_locate",  # Unable to Locate
    "ADV": "warning_advised",  # Advised
    "REP": "report_written",  # Report
    "ND": "unknown",  # No Disposition: nothing recorded
    "ARR": "arrest",  # Arrest
    "PAS": "unfounded_no_merit",  # Premises Appears Secure: nothing found
    "NOM": "unfounded_no_merit",  # No Merit
    "NCR": "handled_no_report",  # Non-Criminal: handled, not a crime
    "ABA": "handled_no_report",  # Abated
    "FIR": "referred_other_agency",  # Fire department
    "CAN": "cancelled",  # Cancel
    "22": "cancelled",  # Cancel (radio code)
    "ADM": "warning_advised",  # Admonished
    "CSA": "report_written",  # CPSA assignment: a civilian aide takes the report
    "CRM": "report_written",  # Criminal Activation: an alarm with a crime behind it
    "SFD": "referred_other_agency",  # SFFD Medical Staff Engaged
    "VAS": "unfounded_no_merit",  # Vehicle Appears Secure
    "NOT RECORDED": "unknown",
    # --- Seattle SPD Event Clearance Description -----------------------------
    "ASSISTANCE RENDERED": "handled_no_report",
    "REPORT WRITTEN NO ARREST": "report_written",
    "UNABLE TO LOCATE INCIDENT OR COMPLAINANT": "unable_to_locate",
    "ORAL WARNING GIVEN": "warning_advised",
    "CITATION ISSUED CRIMINAL OR NON CRIMINAL": "citation",
    "PHYSICAL ARREST MADE": "arrest",
    "OTHER REPORT MADE": "report_written",
    "NO POLICE ACTION POSSIBLE OR NECESSARY": "handled_no_report",
    "PROBLEM SOLVING PROJECT": "handled_no_report",
    "FALSE COMPLAINT UNFOUNDED": "unfounded_no_merit",
    "FOLLOW UP REPORT MADE": "report_written",
    "RESPONDING UNIT S CANCELLED BY RADIO": "cancelled",
    "DUPLICATED OR CANCELLED BY RADIO": "cancelled",
    "STREET CHECK WRITTEN": "report_written",
    "INCIDENT LOCATED PUBLIC ORDER RESTORED": "handled_no_report",
    "TRANSPORTATION OR ESCORT PROVIDED": "transport",
    "RADIO BROADCAST AND CLEAR": "handled_no_report",
    "CITATIONS CRIMINAL CITATION ISSUED NEW INCI": "citation",
    "CITATIONS CRIMINAL CITATION ISSUED NEW INCIDENT NUMBER REQUIRED": "citation",
    "EVIDENCE SUBMITTED NEW INCIDENT NUMBER REQUIRED": "report_written",
    "NON CRIMINAL REFERRAL": "referred_other_agency",
    "SERVICE OF DVPA ORDER": "handled_no_report",
    "EXTRA UNIT": "duplicate_linked",
    "NO SUCH ADDRESS OR LOCATION": "unable_to_locate",
    "NOT CURRENTLY USED ALARM NO RESPONSE": "no_dispatch_info",
    "PRIORITY CALL HANDLING": "handled_no_report",
    # --- New Orleans DispositionText -----------------------------------------
    "NECESSARY ACTION TAKEN": "handled_no_report",
    "REPORT TO FOLLOW": "report_written",
    "GONE ON ARRIVAL": "gone_on_arrival",
    "UNFOUNDED": "unfounded_no_merit",
    "VOID": "cancelled",
    "DUPLICATE": "duplicate_linked",
    "MUNICIPAL NECESSARY ACTION TAK": "handled_no_report",
    "MUNICIPAL NECESSARY ACTION TAKEN": "handled_no_report",
    "SUPPLEMENTAL": "report_written",
    "TRUANCY NECESSARY ACTION TAKEN": "handled_no_report",
    "NEC ACTION TAKEN 2 CITATIONS": "citation",
    "NEC ACTION TAKEN 1 CITATION": "citation",
    "UNKNOWN": "unknown",
    "TEST INCIDENT": "no_dispatch_info",
    "CURFEW NECESSARY ACTION TAKEN": "handled_no_report",
    "REPORT TO FOLLOW CURFEW": "report_written",
    "REPORT TO FOLLOW MUNICIPAL": "report_written",
    "REPORT TO FOLLOW TRUANCY": "report_written",
    "FALSE ALARM": "false_alarm",
    "TEST MOTOROLA": "no_dispatch_info",
    "CREATED ON SYS DOWN RESEARCH": "unknown",
    "NAT NO CITATIONS ISSUED": "handled_no_report",
    # --- Dallas UCR Disposition (case status of an offence report) ----------
    "SUSPENDED": "report_written",  # a report exists; the investigation is inactive
    "CBA OVER AGE 17": "arrest",
    "CBA AGE 17": "arrest",
    "CBA UNDER 17": "arrest",
    "CBA UNDER AGE 17": "arrest",
    "CBEA OVER AGE 17": "report_written",  # cleared by exceptional means: no arrest
    "CBEA AGE 17": "report_written",
    "CBEA UNDER AGE 17": "report_written",
    "CBEA UNDER 17": "report_written",
    "OPEN": "open",
    "CLOSED": "unknown",  # a status, not an outcome
    "S": "unknown",
    "P": "unknown",
    # --- Nashville MNPD Disposition Description ------------------------------
    "ASSISTED CITIZEN": "handled_no_report",
    "COMMUNITY POLICING": "handled_no_report",
    "DISREGARD SIGNAL 9": "cancelled",
    "ASSISTED OTHER UNIT": "duplicate_linked",
    "M P D REPORT COMPLED": "report_written",
    "MPD REPORT COMPLETED": "report_written",
    "LOCATION BUILDING SECURE": "unfounded_no_merit",
    "NO RESPONSE": "no_dispatch_info",
    "FALSE CALL": "unfounded_no_merit",
    "ASSISTANCE REFUSED": "handled_no_report",
    "SUBJECT WARNED": "warning_advised",
    "CITATION TRAFFIC": "citation",
    # --- San Francisco Fire "Call Final Disposition" --------------------------
    "FIRE": "handled_no_report",
    "CODE 2 TRANSPORT": "transport",
    "CODE 3 TRANSPORT": "transport",
    "PATIENT DECLINED TRANSPORT": "handled_no_report",
    "AGAINST MEDICAL ADVICE": "handled_no_report",
    "NO MERIT": "unfounded_no_merit",
    "CANCELLED": "cancelled",
    "UNABLE TO LOCATE": "unable_to_locate",
    "SFPD": "referred_other_agency",
    "CHP": "referred_other_agency",
    "MEDICAL EXAMINER": "referred_other_agency",
    "OTHER": "unknown",
    # --- Milwaukee "Status" values that are outcomes ---------------------------
    "ADVISED": "warning_advised",
    "ASSIGNMENT COMPLETED": "handled_no_report",
    "TO BE FILED": "report_written",
    "CITY CITATION S ISSUED": "citation",
    "UNABLE TO LOCATE COMPLAINANT": "unable_to_locate",
    "ADVISED REFERRAL": "warning_advised",
    "OPEN INVESTIGATION": "report_written",
    "CLEARED BY ARREST": "arrest",
    "NO PROSECUTION": "handled_no_report",
    "FILED DRIVER EXCHANGE REPORT": "report_written",
    "REFERRAL": "referred_other_agency",
    "SERVICE IN PROGRESS": "open",
}
KNOWN_VALUES = frozenset(_TABLE)

# Keyword rules for values not in the table; first match wins. Before they run,
# "NO REPORT"/"NO ACTION" become the token NOREPORT (handled, never a report and
# never unfounded) and other negated words are dropped ("(NO ARREST)").
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (disp, re.compile(rf"\b(?:{pattern})\b"))
    for disp, pattern in (
        ("false_alarm", r"FALSE ALARMS?"),
        ("arrest", r"ARREST\w*|BOOKED|CUSTODY|CBA"),
        ("citation", r"CITATIONS?|CITED|CITE|CITES|TICKET\w*|SUMMONS"),
        ("report_written", r"REPORTS?|RPT|FILED|CASE NUMBER"),
        ("warning_advised", r"WARN\w*|ADVIS\w*|ADMONISH\w*|ADVICE"),
        ("referred_other_agency", r"REFER\w*|OTHER AGENCY|TURNED OVER|REFERRED"),
        ("transport", r"TRANSPORT\w*|ESCORT\w*|CONVEY\w*"),
        ("gone_on_arrival", r"GONE ON ARRIVAL|GOA|GONE"),
        ("unable_to_locate", r"UNABLE TO LOCATE|UTL|NOT LOCATED|NO SUCH ADDRESS"),
        ("unfounded_no_merit", r"UNFOUNDED|NO MERIT|FALSE|NOTHING FOUND|SECURE"),
        ("cancelled", r"CANCEL\w*|VOID\w*|DISREGARD\w*|WITHDRAWN"),
        ("duplicate_linked", r"DUPLICATE\w*|DUP|LINKED|EXTRA UNIT"),
        ("no_dispatch_info", r"NO DISPATCH|INFO ONLY|INFORMATION ONLY|NOT DISPATCHED"),
        (
            "handled_no_report",
            r"NOREPORT|HANDLED|ASSIST\w*|RESOLVED|RESTORED|ACTION TAKEN|"
            r"SERVICE RENDERED|COMPLETED?|ABATED|SETTLED",
        ),
        ("open", r"OPEN|PENDING|IN PROGRESS|ACTIVE"),
    )
)
# Several dispositions in one string.
_SEPARATORS = re.compile(r"[,;|]")
_NON_WORD = re.compile(r"[^A-Z0-9]+")
_NO_REPORT = re.compile(r"\bNO[\s\-]+(?:POLICE[\s\-]+)?(?:REPORT|ACTION)\w*")
_NEG_PAREN = re.compile(r"\([^()]*\b(?:NO|NOT|NON)\b[^()]*\)")
_NEG_WORD = re.compile(r"\b(?:NO|NON|NOT)[\s-]+[A-Z]+")


def _text(value: Any) -> str:
    return to_text(value) or ""


def _key(value: str) -> str:
    return _NON_WORD.sub(" ", value.upper()).strip()


def most_severe(categories: Any) -> str:
    """The most severe of several disposition codes (``unknown`` if none).

    ``open`` and ``unknown`` only win when nothing else is present.
    """
    best = "unknown"
    for cat in categories:
        if cat in vocab.DISPOSITION_RANK and (
            vocab.DISPOSITION_RANK[cat] < vocab.DISPOSITION_RANK[best]
        ):
            best = cat
    return best


def _one(value: str) -> str:
    """Classify one disposition value (no separators)."""
    key = _key(value)
    if not key:
        return "unknown"
    if key in _TABLE:
        return _TABLE[key]
    text = _NO_REPORT.sub(" NOREPORT ", value.upper())
    text = _key(_NEG_WORD.sub(" ", _NEG_PAREN.sub(" ", text)))
    for disp, pattern in _KEYWORDS:
        if pattern.search(text):
            return disp
    return "unknown"


@lru_cache(maxsize=16384)
def _classify(raw: str) -> str:
    key = _key(raw)
    if key in _TABLE:
        return _TABLE[key]
    if _SEPARATORS.search(raw):
        best = most_severe(_one(p) for p in _SEPARATORS.split(raw) if p.strip())
        if best != "unknown":
            return best
    return _one(raw)


def classify_disposition(raw: Any, *, feed_id: Any = None) -> str:
    """Disposition category of a raw value (``vocab.DISPOSITIONS``).

    Several values separated by ``,``, ``;`` or ``|`` give the most severe one,
    unless the whole string is itself a known value (Seattle's
    ``INCIDENT LOCATED, PUBLIC ORDER RESTORED``). ``feed_id`` is accepted for
    symmetry with the other normalizers; the known values do not collide
    across feeds. Never raises.
    """
    try:
        text = _text(raw).strip()
        if not text:
            return "unknown"
        return _classify(text)
    except Exception:  # noqa: BLE001
        log.exception("classify_disposition failed for %r", raw)
        return "unknown"


def _check_table() -> None:
    bad = {v for v in _TABLE.values()} | {d for d, _ in _KEYWORDS}
    bad -= set(vocab.DISPOSITIONS)
    if bad:
        raise RuntimeError(f"disposition table uses unknown codes: {bad}")


_check_table()
