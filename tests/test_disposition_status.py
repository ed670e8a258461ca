"""Disposition categories and call status."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.config import vocab
from cfs_spiders.config.loader import get_config
from cfs_spiders.normalize.disposition import classify_disposition, most_severe
from cfs_spiders.normalize.status import (
    StatusCrosswalk,
    call_status,
    classify_status,
    merge_unit_statuses,
    status_from_raw,
    status_from_times,
)

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
REF = FIX / "reference"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- dispositions -------------------------------------------------------------------

SF_CODES = {
    "HAN": "handled_no_report",
    "GOA": "gone_on_arrival",
    "CIT": "citation",
    "UTL": "unable_to_locate",
    "ADV": "warning_advised",
    "REP": "report_written",
    "ND": "unknown",
    "ARR": "arrest",
    "PAS": "unfounded_no_merit",
    "NOM": "unfounded_no_merit",
    "NCR": "handled_no_report",
    "ABA": "handled_no_report",
    "FIR": "referred_other_agency",
    "CAN": "cancelled",
    "ADM": "warning_advised",
    "22": "cancelled",
    "CSA": "report_written",
    "CRM": "report_written",
    "SFD": "referred_other_agency",
    "VAS": "unfounded_no_merit",
    "Not recorded": "unknown",
}


@pytest.mark.parametrize(("code", "want"), sorted(SF_CODES.items()))
def test_sf_codes(code: str, want: str) -> None:
    assert classify_disposition(code) == want
    assert classify_disposition(code.lower()) == want


def test_sf_radio_code_file_is_covered() -> None:
    path = FIX / "ca_san_francisco_police_calls_legacy" / "radio_code.json"
    codes = {c["disposition_code"] for c in json.loads(path.read_text("utf-8"))}
    assert codes <= set(SF_CODES)
    # Every code except "No Disposition" says something.
    for code in codes - {"ND"}:
        assert classify_disposition(code) != "unknown", code


def test_sf_capture_dispositions() -> None:
    name = "Law_Enforcement_Dispatched_Calls_for_Service__Real-Time.first300.csv"
    rows = _csv(FIX / "ca_san_francisco_police_dispatched_realtime" / name)
    for value in {r["disposition"] for r in rows if r["disposition"]}:
        assert classify_disposition(value) == SF_CODES[value]
    legacy = FIX / "ca_san_francisco_police_calls_legacy"
    objs = json.loads(
        (legacy / "police-department-calls-for-service.first176.json").read_text(
            "utf-8"
        )
    )
    for value in {o["disposition"] for o in objs}:
        assert classify_disposition(value) == SF_CODES[value]


# Expected categories for every row of vera_dispositions.csv (the project's own
# reading; where it differs from Vera's category, the comment says why).
VERA_EXPECTED = {
    "ASSISTANCE RENDERED": "handled_no_report",
    "Necessary Action Taken": "handled_no_report",
    "NECESSARY ACTION TAKEN": "handled_no_report",
    "REPORT WRITTEN (NO ARREST)": "report_written",
    "REPORT TO FOLLOW": "report_written",
    "Suspended": "report_written",  # a case status: a report exists
    "GONE ON ARRIVAL": "gone_on_arrival",
    "UNABLE TO LOCATE INCIDENT OR COMPLAINANT": "unable_to_locate",
    "ORAL WARNING GIVEN": "warning_advised",
    "UNFOUNDED": "unfounded_no_merit",
    "CITATION ISSUED (CRIMINAL OR NON-CRIMINAL)": "citation",
    "VOID": "cancelled",
    "PHYSICAL ARREST MADE": "arrest",
    "OTHER REPORT MADE": "report_written",
    "NO POLICE ACTION POSSIBLE OR NECESSARY": "handled_no_report",  # not unfounded
    "PROBLEM SOLVING PROJECT": "handled_no_report",
    "FALSE COMPLAINT/UNFOUNDED": "unfounded_no_merit",
    "DUPLICATE": "duplicate_linked",
    "CBA (Over Age 17)": "arrest",
    "FOLLOW-UP REPORT MADE": "report_written",  # Vera says Unfounded: a report
    "RESPONDING UNIT(S) CANCELLED BY RADIO": "cancelled",
    "DUPLICATED OR CANCELLED BY RADIO": "cancelled",
    "STREET CHECK WRITTEN": "report_written",
    "CBEA (Over Age 17)": "report_written",  # exceptional clearance: no arrest
    "INCIDENT LOCATED, PUBLIC ORDER RESTORED": "handled_no_report",
    "TRANSPORTATION OR ESCORT PROVIDED": "transport",
    "Open": "open",
    "RADIO BROADCAST AND CLEAR": "handled_no_report",
    "Citations – Criminal Citation Issued (new inci...": "citation",
    "Evidence Submitted (new incident number required)": "report_written",
    "Closed": "unknown",
    "CBA (Age 17)": "arrest",
    "-": "unknown",
    "NON-CRIMINAL REFERRAL": "referred_other_agency",
    "SERVICE OF DVPA ORDER": "handled_no_report",
    "MUNICIPAL NECESSARY ACTION TAK": "handled_no_report",
    "CBEA (Age 17)": "report_written",
    "EXTRA UNIT": "duplicate_linked",
    "NO SUCH ADDRESS OR LOCATION": "unable_to_locate",
    "SUPPLEMENTAL": "report_written",
    "(NOT CURRENTLY USED) ALARM NO RESPONSE": "no_dispatch_info",
    "CBEA (Under Age 17)": "report_written",
    "CBA (Under 17)": "arrest",
    "TRUANCY NECESSARY ACTION TAKEN": "handled_no_report",
    "NEC. ACTION TAKEN 2 CITATIONS": "citation",
    "UNKNOWN": "unknown",
    "Test incident": "no_dispatch_info",
    "NEC. ACTION TAKEN 1 CITATION": "citation",
    "S": "unknown",
    "CURFEW NECESSARY ACTION TAKEN": "handled_no_report",
    "REPORT TO FOLLOW CURFEW": "report_written",
    "P": "unknown",
    "REPORT TO FOLLOW MUNICIPAL": "report_written",
    "FALSE ALARM": "false_alarm",
    "REPORT TO FOLLOW TRUANCY": "report_written",
    "TEST MOTOROLA": "no_dispatch_info",
    "Unfounded": "unfounded_no_merit",
    "CREATED ON SYS DOWN/RESEARCH": "unknown",
    "NAT - NO CITATIONS ISSUED": "handled_no_report",
}


def test_every_vera_disposition_value() -> None:
    rows = _csv(REF / "vera_dispositions.csv")
    assert {r["Field1"] for r in rows} == set(VERA_EXPECTED)
    for row in rows:
        got = classify_disposition(row["Field1"])
        assert got == VERA_EXPECTED[row["Field1"]], row
        assert got in vocab.DISPOSITIONS


def test_nashville_capture_dispositions() -> None:
    rows = _csv(FIX / "tn_nashville_police_calls" / "calls_2024.first300.csv")
    expected = {
        "ASSISTED CITIZEN": "handled_no_report",
        "COMMUNITY POLICING": "handled_no_report",
        "DISREGARD / SIGNAL 9": "cancelled",
        "ASSISTED OTHER UNIT": "duplicate_linked",
        "M.P.D. REPORT COMPLED": "report_written",
        "LOCATION/BUILDING SECURE": "unfounded_no_merit",
        "GONE ON ARRIVAL": "gone_on_arrival",
        "NO RESPONSE": "no_dispatch_info",
        "FALSE CALL": "unfounded_no_merit",
        "ASSISTANCE REFUSED": "handled_no_report",
        "SUBJECT WARNED": "warning_advised",
        "CITATION - TRAFFIC": "citation",
    }
    values = {
        r["Disposition Description"] for r in rows if r["Disposition Description"]
    }
    assert values == set(expected)
    for value, want in expected.items():
        assert classify_disposition(value) == want, value


def test_sf_fire_capture_dispositions() -> None:
    expected = {
        "Code 2 Transport": "transport",
        "Code 3 Transport": "transport",
        "Fire": "handled_no_report",
        "Patient Declined Transport": "handled_no_report",
        "Cancelled": "cancelled",
        "No Merit": "unfounded_no_merit",
        "SFPD": "referred_other_agency",
        "Other": "unknown",
        "Unable to Locate": "unable_to_locate",
        "Medical Examiner": "referred_other_agency",
        "Gone on Arrival": "gone_on_arrival",
    }
    seen: set[str] = set()
    for path in sorted((FIX / "ca_san_francisco_fire_calls").glob("*.csv")):
        seen |= {r["Call Final Disposition"] for r in _csv(path)}
    assert seen <= set(expected)
    for value, want in expected.items():
        assert classify_disposition(value) == want, value


MILWAUKEE_STATUS = (
    FIX / "wi_milwaukee_police_calls" / ("logged-calls-03-14-19_scraper_output.csv")
)


def _crosswalk(feed_id: str) -> StatusCrosswalk:
    cfg = get_config(feed_id)
    return StatusCrosswalk.from_config(
        cfg.get("status_crosswalk"), rows_per=cfg.get("rows_per", "call")
    )


def test_milwaukee_status_values() -> None:
    expected_disp = {
        "Advised": "warning_advised",
        "Assignment Completed": "handled_no_report",
        "To be Filed": "report_written",
        "City Citation(s) Issued": "citation",
        "Unable to Locate Complainant": "unable_to_locate",
        "Advised/Referral": "warning_advised",
        "Open Investigation": "report_written",
        "False Alarm": "false_alarm",
        "Cleared by Arrest": "arrest",
        "No Prosecution": "handled_no_report",
        "Filed Driver Exchange Report": "report_written",
        "Referral": "referred_other_agency",
        "Service in Progress": "open",
    }
    values = {r["Status"] for r in _csv(MILWAUKEE_STATUS)}
    assert values == set(expected_disp)
    crosswalk = _crosswalk("wi_milwaukee_police_calls")
    for value, want in expected_disp.items():
        assert classify_disposition(value) == want, value
        want_status = "on_scene" if value == "Service in Progress" else "closed"
        # Milwaukee's words are read by Milwaukee's crosswalk, not the general table
        assert classify_status(value, crosswalk) == (want_status, "feed"), value


def test_general_table_is_only_a_fallback() -> None:
    # Words whose meaning depends on the publisher are not in the general table.
    assert status_from_raw("OPEN INVESTIGATION") == "unknown"
    assert status_from_raw("Available") == "unknown"  # a unit's state
    assert status_from_raw("Advised") == "unknown"
    # A feed crosswalk wins over the general table, and falls back to it.
    own = StatusCrosswalk(1, "call", {"CLOSED": "on_scene"})
    assert classify_status("Closed", own) == ("on_scene", "feed")
    assert classify_status("En Route", own) == ("en_route", "general")
    assert classify_status("zzz", own) == ("unknown", None)
    with pytest.raises(ValueError, match="unknown status codes"):
        StatusCrosswalk.from_config({"values": {"X": "finished"}})


def test_history_boards_carry_no_in_progress_status() -> None:
    # Seattle police (history) publishes an arrival time and no close time: the
    # call is over all the same.
    got = call_status(None, {"onscene": T0}, board="history")
    assert (got.status, got.basis) == ("closed", "feed_presence")
    got = call_status("At Scene", {}, board="history")
    assert (got.status, got.basis) == ("closed", "feed_presence")
    got = call_status("Closed", {}, board="history")
    assert (got.status, got.basis) == ("closed", "explicit")
    got = call_status(None, {"closed": T0}, board="history")
    assert (got.status, got.basis) == ("closed", "derived_from_timestamps")


def test_append_only_boards_keep_closed_or_unknown() -> None:
    # Seattle Fire's page: "active" on a page that never drops a row would stay
    # in the store for ever.
    assert call_status("active", board="append_only").status == "unknown"
    assert call_status("closed", board="append_only").status == "closed"
    assert call_status(None, {"dispatched": T0}, board="append_only").status == (
        "unknown"
    )
    # on an active board the same words are what they say
    assert call_status("active", board="active_calls").status == "dispatched"


def test_one_unit_clearing_does_not_close_the_call() -> None:
    dallas = _crosswalk("tx_dallas_police_active_calls")
    assert dallas.of == "unit"
    cleared = call_status("Available", board="active_calls", crosswalk=dallas)
    assert (cleared.status, cleared.basis) == ("dispatched", "explicit")
    at_scene = call_status("At Scene", board="active_calls", crosswalk=dallas)
    assert at_scene.status == "on_scene"
    assert merge_unit_statuses([cleared.status, at_scene.status]) == "on_scene"
    assert merge_unit_statuses([cleared.status, cleared.status]) == "dispatched"
    assert merge_unit_statuses(["on_scene", "closed"]) == "closed"
    assert merge_unit_statuses([]) == "unknown"
    # a call-level word closes a call (Milwaukee's status is the call's)
    mke = _crosswalk("wi_milwaukee_police_calls")
    assert mke.of == "call"
    assert call_status("Advised", crosswalk=mke).status == "closed"


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("ARR, REP", "arrest"),
        ("REP;ADV", "report_written"),
        ("CIT|ADV", "citation"),
        ("GOA, UTL", "gone_on_arrival"),
        ("CAN , , ", "cancelled"),
        ("HAN|Not recorded", "handled_no_report"),
        ("xyz, ARR", "arrest"),
    ],
)
def test_several_values_most_severe_wins(raw: str, want: str) -> None:
    assert classify_disposition(raw) == want


@pytest.mark.parametrize(
    "raw",
    ["No report", "NO REPORT", "No report taken", "no report needed", "NO-REPORT"],
)
def test_no_report_is_never_unfounded(raw: str) -> None:
    assert classify_disposition(raw) == "handled_no_report"


def test_blank_and_unknown() -> None:
    for raw in (None, "", "   ", "\t"):
        assert classify_disposition(raw) == "unknown"
    assert classify_disposition("qwerty") == "unknown"


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("Arrest made", "arrest"),
        ("Report taken", "report_written"),
        ("Report (no arrest)", "report_written"),
        ("Warning issued", "warning_advised"),
        ("Referred to CPS", "referred_other_agency"),
        ("Transported to hospital", "transport"),
        ("Unable to locate", "unable_to_locate"),
        ("False alarm - weather", "false_alarm"),
        ("Call cancelled by caller", "cancelled"),
        ("Duplicate call", "duplicate_linked"),
        ("Citizen assisted", "handled_no_report"),
    ],
)
def test_keyword_fallback(raw: str, want: str) -> None:
    assert classify_disposition(raw) == want


def test_most_severe_follows_vocab_order() -> None:
    assert most_severe([]) == "unknown"
    assert most_severe(["open", "unknown"]) == "open"
    assert most_severe(reversed(vocab.DISPOSITIONS)) == vocab.DISPOSITIONS[0]
    assert most_severe(["not_a_code", "cancelled"]) == "cancelled"


anything = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.binary(max_size=20),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=5), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(raw=anything, feed=anything)
def test_classify_disposition_is_total(raw: object, feed: object) -> None:
    assert classify_disposition(raw, feed_id=feed) in vocab.DISPOSITIONS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(SF_CODES)), min_size=1, max_size=4))
def test_joined_codes_give_the_most_severe(codes: list[str]) -> None:
    joined = ", ".join(codes)
    want = most_severe(SF_CODES[c] for c in codes)
    assert classify_disposition(joined) == want


# --- status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        # Dallas unit statuses.
        ("At Scene", "on_scene"),
        ("Dispatched", "dispatched"),
        ("En Route", "en_route"),
        ("Assigned", "dispatched"),
        ("Pending", "pending"),
        # Monroe County RSS description "Status:".
        ("WAITING", "pending"),
        ("DISPATCHED", "dispatched"),
        ("ENROUTE", "en_route"),
        ("ONSCENE", "on_scene"),
        ("CLOSED", "closed"),
        # Hamilton County HC911 (second set): queued behind other calls.
        ("Stacked", "pending"),
        # Seattle Fire HTML td class: active means dispatched, not closed.
        ("active", "dispatched"),
        ("closed", "closed"),
        ("en-route", "en_route"),
        ("", "unknown"),
        (None, "unknown"),
        ("something else", "unknown"),
    ],
)
def test_status_from_raw(raw: str | None, want: str) -> None:
    assert status_from_raw(raw) == want


def test_dallas_capture_statuses() -> None:
    rows = _csv(FIX / "tx_dallas_police_active_calls" / "are8-xahz.csv")
    crosswalk = _crosswalk("tx_dallas_police_active_calls")
    for value in {r["status"] for r in rows}:
        assert classify_status(value, crosswalk) == ("on_scene", "feed"), value


def test_seattle_html_td_classes() -> None:
    folder = FIX / "wa_seattle_fire_realtime911_html"
    classes: set[str] = set()
    for path in folder.glob("*.html"):
        page = path.read_text(encoding="ascii", errors="replace")
        for tr in re.findall(r"<tr id=row_\d+.*?</tr>", page, re.S | re.I):
            classes |= set(re.findall(r'<td class="?(\w+)"?', tr, re.I))
    assert classes == {"active", "closed"}
    assert {status_from_raw(c) for c in classes} == {"dispatched", "closed"}


T0 = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kwargs", "want"),
    [
        ({}, "pending"),
        ({"dispatched": T0}, "dispatched"),
        ({"dispatched": T0, "enroute": T0}, "en_route"),
        ({"dispatched": T0, "enroute": T0, "onscene": T0}, "on_scene"),
        ({"onscene": T0}, "on_scene"),
        ({"enroute": T0}, "en_route"),
        ({"dispatched": T0, "closed": T0}, "closed"),
        ({"closed": T0}, "closed"),
        ({"dispatched": None, "enroute": "", "onscene": float("nan")}, "pending"),
        ({"dispatched": "2024-01-01T12:00", "closed": "NaT"}, "dispatched"),
    ],
)
def test_status_from_times(kwargs: dict, want: str) -> None:
    assert status_from_times(**kwargs) == want


def test_status_from_times_other_call_styles() -> None:
    assert status_from_times(T0, T0, None, None) == "en_route"
    assert status_from_times({"dispatched": T0, "onscene": T0}) == "on_scene"
    assert status_from_times({"closed": T0}) == "closed"
    assert status_from_times(received=T0) == "pending"


@settings(max_examples=300, deadline=None)
@given(raw=anything)
def test_status_from_raw_is_total(raw: object) -> None:
    assert status_from_raw(raw) in vocab.STATUSES


stamp = st.one_of(
    st.none(),
    st.just(""),
    st.just(math.nan),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.text(max_size=10),
    st.integers(),
)


@settings(max_examples=300, deadline=None)
@given(d=stamp, e=stamp, o=stamp, c=stamp)
def test_status_from_times_is_total(d: object, e: object, o: object, c: object) -> None:
    got = status_from_times(dispatched=d, enroute=e, onscene=o, closed=c)
    assert got in vocab.STATUSES
    if isinstance(c, dt.datetime):
        assert got == "closed"


# --- merging the rows of one call ------------------------------------------------


def _row(key: str, status: str, disp: str | None, cat: str, **extra: object) -> dict:
    return {
        "record_key": key,
        "status_raw": status,
        "status": extra.pop("norm", None),
        "status_basis": "explicit",
        "disposition_raw": disp,
        "disposition_category": cat,
        "units_raw": extra.pop("units", None),
        "raw": {"status": status},
        **extra,
    }


def test_message_rows_take_status_and_disposition_from_the_last_row() -> None:
    from cfs_spiders.records.builder import merge_rows

    rows = [  # synthetic, shaped like Milwaukee call 190722949
        _row(
            "190722949",
            "Service in Progress",
            "Service in Progress",
            "open",
            norm="on_scene",
        ),
        _row(
            "190722949",
            "Assignment Completed",
            "Assignment Completed",
            "handled_no_report",
            norm="closed",
        ),
    ]
    (call,) = merge_rows(rows, "message")
    assert (call["status"], call["status_raw"]) == ("closed", "Assignment Completed")
    assert (call["disposition_category"], call["disposition_raw"]) == (
        "handled_no_report",
        "Assignment Completed",
    )
    assert len(call["raw"]) == 2


def test_unit_rows_close_only_with_the_call() -> None:
    from cfs_spiders.records.builder import merge_rows

    rows = [  # synthetic, shaped like Dallas: one unit cleared, one at scene
        _row("18-1", "Available", None, "unknown", norm="dispatched", units="B1"),
        _row("18-1", "At Scene", None, "unknown", norm="on_scene", units="B2"),
    ]
    (call,) = merge_rows(rows, "unit")
    assert (call["status"], call["status_raw"]) == ("on_scene", "At Scene")
    assert call["units_raw"] == "B1 B2" and call["unit_count"] == 2
    # a closed call (history rows, a close time) keeps its most severe outcome
    rows = [
        _row("1", "x", "CODE 2 TRANSPORT", "transport", norm="closed", units="M1"),
        _row("1", "x", None, "unknown", norm="closed", units="E1"),
    ]
    (call,) = merge_rows(rows, "unit")
    assert call["status"] == "closed"
    assert call["disposition_category"] == "transport"
    assert call["disposition_raw"] == "CODE 2 TRANSPORT"
