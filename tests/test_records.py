"""Exact normalized values of real records, checked by hand against the captures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cfs_spiders.store.base import CALLS_FROM, RUNS_FROM  # noqa: F401

EXPECTED = yaml.safe_load(
    (Path(__file__).parent / "data" / "expected_records.yaml").read_text()
)
# Every normalized element is checked on real records of every feed that has it.
NORMALIZED = (
    "received_at_utc",
    "address_form",
    "address_granularity",
    "call_type_category",
    "category_basis",
    "status",
    "status_basis",
    "disposition_category",
    "call_source",
    "call_source_basis",
    "coord_granularity",
    "latitude",
    "longitude",
    "priority_raw",
    "units_raw",
    "unit_count",
)


def _id(e: dict) -> str:
    return f"{e['feed_id']}:{e.get('record_key') or e.get('received_at_utc')}"


def test_three_records_for_every_captured_feed():
    feeds = {e["feed_id"] for e in EXPECTED}
    assert len(feeds) == 16
    for feed in feeds:
        assert sum(1 for e in EXPECTED if e["feed_id"] == feed) >= 3


@pytest.mark.parametrize("element", NORMALIZED)
def test_every_normalized_element_is_checked(element: str):
    checked = [e for e in EXPECTED if element in e]
    if element == "received_at_utc":  # Clearwater, Seattle Fire HTML: no such time
        assert len(checked) >= len(EXPECTED) - 7
    else:
        assert len(checked) >= len(EXPECTED) - 2, element
    # a test that can fail: the expectations hold more than one value
    assert len({repr(e[element]) for e in checked}) >= 2, element


@pytest.mark.parametrize("expected", EXPECTED, ids=[_id(e) for e in EXPECTED])
def test_exact_values(store_rows, expected):
    expected = dict(expected)
    match = expected.pop("match", None) or ["record_key"]
    where = " AND ".join(f"{m} = ?" for m in match)
    rows = store_rows(
        f"SELECT * FROM {CALLS_FROM} WHERE feed_id = ? AND {where}",
        (expected["feed_id"], *(expected[m] for m in match)),
    )
    assert len(rows) == 1
    row = dict(rows[0])
    for key, value in expected.items():
        assert row[key] == value, key
    # every typed area the record has is in the expectation (no stray areas)
    areas = {k for k, v in row.items() if k.startswith("area_") and v}
    assert areas == {k for k in expected if k.startswith("area_")}


def test_no_history_or_append_only_call_is_in_progress(store_rows):
    """A history dataset holds calls after they close; an append-only board never
    drops a row, so an in-progress stage read there would stay for ever (Seattle
    police stored 186 of 222 calls ``on_scene`` before)."""
    rows = store_rows(
        "SELECT f.feed_id, c.status, COUNT(*) AS n FROM calls c "
        "JOIN feeds f USING (feed_key) WHERE f.board IN ('history', 'append_only') "
        "GROUP BY f.feed_id, c.status"
    )
    feeds = {r["feed_id"] for r in rows}
    assert {"wa_seattle_police_calls", "wa_seattle_fire_realtime911_html"} <= feeds
    for r in rows:
        assert r["status"] in ("closed", "unknown"), dict(r)
    seattle = {
        r["status"]: r["n"] for r in rows if r["feed_id"] == "wa_seattle_police_calls"
    }
    assert seattle == {"closed": 222}


MILWAUKEE = Path(__file__).parent / "fixtures" / "wi_milwaukee_police_calls"


def test_milwaukee_disposition_goes_with_the_final_status(store_rows):
    """Milwaukee publishes one row per status a call went through (call
    190722949: Service in Progress, then Assignment Completed). The stored call
    carries the last row's status and the disposition of that same row, for
    every call of the capture (before: 559 of 1,821 kept the first row's
    ``open``)."""
    import csv

    from cfs_spiders.normalize.disposition import classify_disposition

    with (MILWAUKEE / "logged-calls-03-14-19_scraper_output.csv").open(
        newline="", encoding="utf-8"
    ) as fh:
        last: dict[str, str] = {}
        for row in csv.DictReader(fh):  # the file lists a call's rows in order
            last[row["Call Number"]] = row["Status"]
    stored = {
        r["call_id"]: r
        for r in store_rows(
            "SELECT call_id, status_raw, status, disposition_raw, "
            f"disposition_category FROM {CALLS_FROM} WHERE feed_id = ?",
            ("wi_milwaukee_police_calls",),
        )
    }
    assert len(stored) == len(last) == 1821
    disagree = 0
    for call_id, final in last.items():
        rec = stored[call_id]
        ok = (
            rec["status_raw"] == final
            and rec["disposition_raw"] == final
            and rec["disposition_category"] == classify_disposition(final)
            and (rec["disposition_category"] == "open") == (rec["status"] != "closed")
        )
        disagree += not ok
    assert disagree == 0
    assert stored["190722949"]["status"] == "closed"
    assert stored["190722949"]["disposition_category"] == "handled_no_report"


def test_every_record_says_what_its_address_string_is(store_rows):
    rows = store_rows(
        f"SELECT address_form, address_granularity, COUNT(*) AS n FROM {CALLS_FROM} "
        "GROUP BY 1, 2"
    )
    from cfs_spiders.config.vocab import ADDRESS_FORMS, finer_or_equal

    pairs = {(r["address_form"], r["address_granularity"]): r["n"] for r in rows}
    for form, gran in pairs:
        assert form in ADDRESS_FORMS
        # the policy only lowers a form: never finer than what the string is
        assert gran == form or gran == "withheld" or finer_or_equal(form, gran)
    # the two facts differ where the policy lowered the form (San Antonio,
    # Dallas, Nashville: exact-looking numbers in block-level feeds)
    assert pairs.get(("exact", "block"), 0) >= 500


def test_run_reports_list_crosswalk_versions_and_key_churn(store_rows):
    import json

    reports = [
        json.loads(r["report_json"])
        for r in store_rows(f"SELECT report_json FROM {RUNS_FROM}")
    ]
    assert reports and all("key_churn" in r for r in reports)
    assert all("crosswalk_versions" in r for r in reports)
    dallas = [r for r in reports if r["feed_id"] == "tx_dallas_police_active_calls"]
    assert dallas[0]["crosswalk_versions"].get("status") == ["1"]
