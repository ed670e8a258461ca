"""Call source: explicit fields, inference from call types, never 911 by absence."""

from __future__ import annotations

import csv
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.config import vocab
from cfs_spiders.normalize.call_source import (
    SourceResult,
    classify_source,
    infer_from_call_type,
)

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "fixtures" / "reference"
FIX = ROOT / "tests" / "fixtures"


def _vera_self_initiated() -> list[dict[str, str]]:
    with (REF / "vera_self_initiated.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


VERA_ROWS = _vera_self_initiated()


def test_result_shape() -> None:
    res = classify_source("911")
    assert isinstance(res, SourceResult)
    assert not hasattr(res, "__dict__")
    with pytest.raises(FrozenInstanceError):
        res.source = "text"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "source", "officer"),
    [
        # Seattle SPD "Call Type".
        ("911", "911", False),
        ("ONVIEW", "officer_initiated", True),
        ("TELEPHONE OTHER, NOT 911", "non_emergency_phone", False),
        ("NOT 911", "non_emergency_phone", False),
        ("ALARM CALL (NOT POLICE ALARM)", "alarm", False),
        ("TEXT MESSAGE", "text", False),
        ("IN PERSON COMPLAINT", "walk_in", False),
        ("PROACTIVE (OFFICER INITIATED)", "officer_initiated", True),
        ("SCHEDULED EVENT (RECURRING)", "scheduled_or_admin", False),
        ("POLICE (VARDA) ALARM", "alarm", False),
        ("HISTORY CALL (RETRO)", "scheduled_or_admin", False),
        # New Orleans SelfInitiated.
        ("Y", "officer_initiated", True),
        ("N", "public_unknown", False),
        # Detroit officerinitiated.
        ("Yes", "officer_initiated", True),
        ("No", "public_unknown", False),
        # San Francisco onview_flag.
        ("HSOC", "other_agency", False),
        (" y ", "officer_initiated", True),
    ],
)
def test_explicit_values(raw: str, source: str, officer: bool) -> None:
    res = classify_source(raw)
    assert (res.source, res.basis, res.is_officer_initiated) == (
        source,
        "explicit_field",
        officer,
    )


@pytest.mark.parametrize(
    "row", VERA_ROWS, ids=[f"{r['City']}:{r['Field1'] or 'blank'}" for r in VERA_ROWS]
)
def test_every_vera_self_initiated_value(row: dict[str, str]) -> None:
    """Every value of vera_self_initiated.csv maps to a source that agrees with
    its "Self initiated" Yes/No. A blank value is unknown, not "No": the
    project never reads absence as a fact."""
    res = classify_source(row["Field1"])
    assert res.source in vocab.CALL_SOURCES
    assert res.basis in vocab.CALL_SOURCE_BASIS
    if row["Self initiated"] == "Yes":
        assert res.source == "officer_initiated"
        assert res.is_officer_initiated is True
    else:
        assert row["Self initiated"] == "No"
        assert res.source != "officer_initiated"
        assert res.is_officer_initiated is not True
        assert res.source != "911" or row["Field1"].strip() == "911"
    if not row["Field1"].strip():
        assert res == SourceResult("unknown", "none", None)


def test_vera_file_is_fully_covered() -> None:
    values = {r["Field1"] for r in VERA_ROWS if r["Field1"].strip()}
    assert {"ONVIEW", "911", "Y", "N", "Yes", "No", "FK ERROR"} <= values
    for value in values - {"FK ERROR"}:
        assert classify_source(value).basis == "explicit_field", value
    # "FK ERROR" is a data error: it says nothing about the source.
    assert classify_source("FK ERROR") == SourceResult("unknown", "none", None)


def test_seattle_capture_values() -> None:
    path = FIX / "wa_seattle_police_calls" / "db_call_data_2018-2023.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        values = {row["Call Type"] for row in csv.DictReader(fh)}
    for value in values:
        assert classify_source(value).basis == "explicit_field", value


def test_sf_capture_values() -> None:
    name = "Law_Enforcement_Dispatched_Calls_for_Service__Real-Time.first300.csv"
    path = FIX / "ca_san_francisco_police_dispatched_realtime" / name
    with path.open(newline="", encoding="utf-8") as fh:
        values = {row["onview_flag"] for row in csv.DictReader(fh)}
    assert values == {"Y", "N", "HSOC"}
    assert classify_source("Y").is_officer_initiated is True
    assert classify_source("N").source == "public_unknown"


@pytest.mark.parametrize(
    "call_type",
    [
        "TRAFFIC STOP",
        "Officer Traffic Stop",
        "PREMISE CHECK",
        "PREMISE CHECK, OFFICER INITIATED ONVIEW ONLY",
        "DIRECTED PATROL",
        "PARK WALK AND TALK",
        "WALK AND TALK",
        "ONVIEW",
        "FIELD INTERVIEW",
        "BUSINESS CHECK",
        "Patrol By",
        "PASSING CALL",
        "SUSPICIOUS STOP - OFFICER INITIATED ONVIEW",
        "House/business check",
        "SUBJ STOP",
    ],
)
def test_officer_initiated_inferred_from_call_type(call_type: str) -> None:
    res = classify_source(None, call_type=call_type)
    assert res == SourceResult("officer_initiated", "inferred_from_call_type", True)
    assert classify_source("", call_type=call_type).source == "officer_initiated"


def test_911_inferred_only_from_911_call_types() -> None:
    for call_type in ("911 HANG-UP", "INVESTIGATE 911 HANG-UP CALL", "911 OPEN LINE"):
        res = classify_source(None, call_type=call_type)
        assert res == SourceResult("911", "inferred_from_call_type", False)
    # A hang-up on an aid line says nothing about 911.
    assert classify_source(None, call_type="Hang-Up, Aid").source == "unknown"


@pytest.mark.parametrize(
    "call_type",
    [None, "", "BURGLARY", "SHOTS FIRED", "Aid Response", "REQUEST TO WATCH"],
)
def test_never_911_by_absence(call_type: str | None) -> None:
    res = classify_source(None, call_type=call_type)
    assert res == SourceResult("unknown", "none", None)


def test_explicit_field_beats_call_type() -> None:
    res = classify_source("911", call_type="TRAFFIC STOP")
    assert (res.source, res.basis) == ("911", "explicit_field")
    # An unrecognized explicit value falls back to the call type.
    res = classify_source("??", call_type="TRAFFIC STOP")
    assert (res.source, res.basis) == ("officer_initiated", "inferred_from_call_type")


def test_keyword_fallback_for_new_explicit_values() -> None:
    assert classify_source("E-911").source == "911"
    assert classify_source("Text to 911").source == "text"
    assert classify_source("Walk-In").source == "walk_in"
    assert classify_source("Online report").source == "online_report"
    assert classify_source("Officer Initiated").source == "officer_initiated"
    assert classify_source("Non-Emergency Line").source == "non_emergency_phone"


def test_officer_flag_follows_source() -> None:
    for source_raw in ("911", "ONVIEW", "N", "HSOC", "TEXT MESSAGE", "", None):
        res = classify_source(source_raw)
        if res.source == "officer_initiated":
            assert res.is_officer_initiated is True
        elif res.source in ("unknown", "other"):
            assert res.is_officer_initiated is None
        else:
            assert res.is_officer_initiated is False


def test_inference_is_cached() -> None:
    infer_from_call_type.cache_clear()
    for _ in range(10):
        infer_from_call_type("TRAFFIC STOP")
    assert infer_from_call_type.cache_info().hits == 9


anything = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.binary(max_size=20),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=True),
)


@settings(max_examples=300, deadline=None)
@given(raw=anything, call_type=anything, feed=anything)
def test_classify_source_is_total(raw: object, call_type: object, feed: object) -> None:
    res = classify_source(raw, feed_id=feed, call_type=call_type)
    assert res.source in vocab.CALL_SOURCES
    assert res.basis in vocab.CALL_SOURCE_BASIS
    assert res.is_officer_initiated in (True, False, None)
    if res.source == "911":
        assert res.basis != "none"


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        # Synthetic spellings of the words real systems use (issue 13).
        ("ONVIEW", "officer_initiated"),
        ("On View", "officer_initiated"),
        ("SELF INITIATED", "officer_initiated"),
        ("Self-Init", "officer_initiated"),
        ("SELF", "officer_initiated"),
        ("OFFICER INITIATED", "officer_initiated"),
        ("Officer", "officer_initiated"),
        ("FIELD", "officer_initiated"),
        ("Field Initiated", "officer_initiated"),
        ("PHONE", "non_emergency_phone"),
        ("Telephone", "non_emergency_phone"),
        ("NON-911", "non_emergency_phone"),
        ("Non Emergency", "non_emergency_phone"),
        ("E-911", "911"),
        ("E911", "911"),
        ("911", "911"),
        ("911 Call", "911"),
        ("WALK IN", "walk_in"),
        ("Walk-In", "walk_in"),
        ("Front Desk", "walk_in"),
        ("WEB", "online_report"),
        ("Online", "online_report"),
        ("E-Mail", "online_report"),
        ("TEXT", "text"),
        ("SMS", "text"),
        ("Text to 911", "text"),
        ("ALARM CO", "alarm"),
        ("Alarm Company", "alarm"),
        ("ALARM", "alarm"),
    ],
)
def test_explicit_words_of_never_seen_systems(raw: str, source: str) -> None:
    res = classify_source(raw)
    assert (res.source, res.basis) == (source, "explicit_field"), raw


@pytest.mark.parametrize("raw", ["Radio", "??", "FK ERROR", "", "N/A"])
def test_explicit_values_that_say_nothing_fall_back(raw: str) -> None:
    res = classify_source(raw)
    assert res == SourceResult("unknown", "none", None)


@pytest.mark.parametrize(
    ("call_type", "source"),
    [
        ("Burglary Alarm (Alarm Company)", "alarm"),
        ("TEXT911", "text"),
        ("911 CHECKS", "911"),
        ("Unknown 911", "911"),
        ("CAR STOP", "officer_initiated"),
        ("PROPERTY CHECK", "officer_initiated"),
        ("CHECK AREA", "officer_initiated"),
    ],
)
def test_call_types_that_name_their_channel(call_type: str, source: str) -> None:
    res = classify_source(None, call_type=call_type)
    assert (res.source, res.basis) == (source, "inferred_from_call_type")


def test_an_alarm_call_type_alone_is_not_an_alarm_source() -> None:
    # A neighbour may have phoned in a ringing alarm.
    for call_type in ("BURGLAR ALARM", "ALARM-RINGER", "RESIDENTIAL ALARM"):
        assert classify_source(None, call_type=call_type).source == "unknown"
