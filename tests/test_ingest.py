"""Replaying every bundled capture stores one call per distinct call id.

The expected counts are computed here straight from the capture files with the
standard library (csv, json, re), independently of the project's own parsers.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3

import pytest

from cfs_spiders.store.base import CALLS_FROM, OBSERVATIONS_FROM, RUNS_FROM  # noqa: F401
from tests.conftest import FIXTURES, run_cfs
from tests.test_coverage_json import expected_keys as json_feed_keys


def _csv(feed: str, name: str) -> list[dict[str, str]]:
    with open(FIXTURES / feed / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _distinct_ids() -> dict[str, int]:
    f = FIXTURES
    out: dict[str, int] = {}
    out["tx_dallas_police_active_calls"] = len(
        {
            r["incident_number"]
            for r in _csv("tx_dallas_police_active_calls", "are8-xahz.csv")
        }
    )
    archive = json.loads(
        (
            f / "fl_clearwater_police_active_calls" / "archive_2025-12-13.json"
        ).read_text()
    )
    out["fl_clearwater_police_active_calls"] = len(
        {c["Master_Incident_Number"] for s in archive["snapshots"] for c in s["calls"]}
    )
    houston = set()
    for p in sorted((f / "tx_houston_hec_active_incidents").glob("*.json")):
        for feat in json.loads(p.read_text())["features"]:
            a = feat["attributes"]
            houston.add((a["Agency"], a["CALL_TIME"], a["Address"], a["CrossStreet"]))
    out["tx_houston_hec_active_incidents"] = len(houston)
    portland = set()
    for p in (f / "or_portland_boec_911_incidents").glob("*.xml"):
        portland |= set(re.findall(r"<id>tag:[^<]*/([A-Z]{2}\d+)</id>", p.read_text()))
    out["or_portland_boec_911_incidents"] = len(portland)
    html = set()
    for p in (f / "wa_seattle_fire_realtime911_html").glob("*.html"):
        html |= set(
            re.findall(
                r"<tr id=row_\d+[^>]*>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>"
                r"\s*([^<\s]+)",
                p.read_text(),
            )
        )
    out["wa_seattle_fire_realtime911_html"] = len(html)
    seattle = {
        r["Incident Number"]
        for r in _csv(
            "wa_seattle_fire_realtime911",
            "Seattle_Real_Time_Fire_911_Calls_Chrono.first300.csv",
        )
    }
    seattle |= {
        r["incident_number"]
        for r in json.loads(
            (
                f
                / "wa_seattle_fire_realtime911"
                / "socrata_kzjm-xkqj_api_response_sample.json"
            ).read_text()
        )
    }
    out["wa_seattle_fire_realtime911"] = len(seattle)
    simple = {
        "wa_seattle_police_calls": ("db_call_data_2018-2023.csv", "CAD Event Number"),
        "fl_orlando_police_active_calls": (
            "active_calls_scraper_output_tail2500.csv",
            "incident_id",
        ),
        "tx_san_antonio_police_calls": (
            "sapd_table_scraper_output_2018-09.csv",
            "IncidentNumber",
        ),
        "wi_milwaukee_police_calls": (
            "logged-calls-03-14-19_scraper_output.csv",
            "Call Number",
        ),
        "tn_nashville_police_calls": ("calls_2024.first300.csv", "Event Number"),
        "ca_san_francisco_police_dispatched_realtime": (
            "Law_Enforcement_Dispatched_Calls_for_Service__Real-Time.first300.csv",
            "cad_number",
        ),
    }
    for feed, (name, col) in simple.items():
        out[feed] = len({r[col] for r in _csv(feed, name)})
    sffd = set()
    for name in (
        "Fire_Department_Calls_for_Service_LoneMountainUSF_fires.first300.csv",
        "Fire_Department_Calls_for_Service_databricks_sample.first300.csv",
    ):
        sffd |= {r["Call Number"] for r in _csv("ca_san_francisco_fire_calls", name)}
    out["ca_san_francisco_fire_calls"] = len(sffd)
    out["ca_san_francisco_police_calls_legacy"] = len(
        {
            r["crime_id"]
            for r in json.loads(
                (
                    f
                    / "ca_san_francisco_police_calls_legacy"
                    / "police-department-calls-for-service.first176.json"
                ).read_text()
            )
        }
    )
    caddo = _csv(
        "la_caddo_911_active_events", "caddo911_incidents_scraper_output_2026-01-12.csv"
    )
    # Caddo has no id: a call is its agency, time and street on the one day the
    # capture covers (call type and cross streets change while a call lives).
    out["la_caddo_911_active_events"] = len(
        {(r["agency"], r["time"], r["street"]) for r in caddo}
    )
    monroe = {
        r["ItemID"]
        for r in _csv(
            "ny_monroe_county_911_incidents", "pedestrians_scraper_output_2013.csv"
        )
    }
    monroe |= {
        r["guid"]
        for r in _csv(
            "ny_monroe_county_911_incidents",
            "mcsafetyfeed_dispatches_table_2014-10-21.csv",
        )
    }
    out["ny_monroe_county_911_incidents"] = len(monroe)
    # the JSON/CSV feeds of issue 14, counted in test_coverage_json.py
    out.update({feed: len(keys) for feed, keys in json_feed_keys().items()})
    return out


EXPECTED = _distinct_ids()


def test_known_counts_from_the_issue():
    assert EXPECTED["tx_dallas_police_active_calls"] == 45
    dallas_rows = _csv("tx_dallas_police_active_calls", "are8-xahz.csv")
    assert len(dallas_rows) == 63
    assert len(EXPECTED) >= 22


def test_every_run_succeeded(store_rows):
    runs = store_rows(f"SELECT feed_id, status, error FROM {RUNS_FROM}")
    bad = [(r["feed_id"], r["status"], r["error"]) for r in runs if r["status"] != "ok"]
    assert bad == []
    # every bundled capture ran (feeds beyond EXPECTED are counted in their own
    # coverage tests, e.g. tests/test_coverage_html.py)
    bundled = {p.parent.name for p in FIXTURES.glob("*/manifest.yaml")}
    assert {r["feed_id"] for r in runs} == bundled
    assert set(EXPECTED) <= bundled


@pytest.mark.parametrize("feed", sorted(EXPECTED))
def test_distinct_calls_equal_distinct_ids_in_the_capture(store_rows, feed):
    n = store_rows(
        f"SELECT COUNT(*) AS n FROM {CALLS_FROM} WHERE feed_id = ?", (feed,)
    )[0]["n"]
    assert n == EXPECTED[feed]


def test_dallas_unit_rows_are_merged_into_calls(store_rows):
    row = store_rows(
        "SELECT units_raw, unit_count, cfs_raw(raw_dict, raw_deflate) AS raw_json "
        f"FROM {CALLS_FROM} JOIN call_raw USING "
        "(feed_id, record_key) WHERE feed_id = ? AND call_id = ?",
        ("tx_dallas_police_active_calls", "18-0052901"),
    )[0]
    capture_units = [
        r["unit_number"]
        for r in _csv("tx_dallas_police_active_calls", "are8-xahz.csv")
        if r["incident_number"] == "18-0052901"
    ]
    assert row["unit_count"] == len(set(capture_units))
    assert sorted(row["units_raw"].split()) == sorted(set(capture_units))
    assert len(json.loads(row["raw_json"])) == len(capture_units)


def test_replaying_twice_adds_nothing_and_loses_nothing(replayed, tmp_path):
    db = tmp_path / "twice.sqlite"
    out = tmp_path / "out"
    run_cfs(
        "--db",
        str(db),
        "--output",
        str(out),
        "crawl",
        "--all",
        "--replay",
        "--no-jsonl",
    )

    def snapshot() -> tuple:
        conn = sqlite3.connect(db)
        try:
            calls = conn.execute(
                "SELECT feed_id, record_key, first_seen, last_seen, disappeared_at, "
                f"status, call_type_category FROM {CALLS_FROM} ORDER BY 1, 2"
            ).fetchall()
            obs = conn.execute(f"SELECT COUNT(*) FROM {OBSERVATIONS_FROM}").fetchone()[
                0
            ]
        finally:
            conn.close()
        return calls, obs

    first = snapshot()
    run_cfs(
        "--db",
        str(db),
        "--output",
        str(out),
        "crawl",
        "--all",
        "--replay",
        "--no-jsonl",
    )
    second = snapshot()
    assert first == second
    assert len([c for c in first[0] if c[0] in EXPECTED]) == sum(EXPECTED.values())


def test_per_run_json_lines_are_written(replayed):
    files = list((replayed["output"] / "runs").glob("*/*.jsonl"))
    assert files
    first = json.loads(files[0].read_text().splitlines()[0])
    assert {"feed_id", "record_key", "raw", "fetched_at", "run_id"} <= set(first)


def test_calls_csv_export(replayed, tmp_path):
    out = tmp_path / "export"
    run_cfs("--db", str(replayed["db"]), "--output", str(out), "export")
    with open(out / "calls.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    from cfs_spiders.exports.calls_csv import CALLS_COLUMNS

    assert tuple(header) == CALLS_COLUMNS
    assert len([r for r in rows if r["feed_id"] in EXPECTED]) == sum(EXPECTED.values())
    conn = sqlite3.connect(replayed["db"])
    try:
        assert (
            len(rows)
            == conn.execute(f"SELECT COUNT(*) FROM {CALLS_FROM}").fetchone()[0]
        )
    finally:
        conn.close()
    for col in (
        "feed_id",
        "call_id",
        "received_at_utc",
        "address",
        "address_granularity",
        "latitude",
        "longitude",
        "call_type_raw",
        "call_type_category",
        "call_source",
        "status",
        "disposition_category",
        "first_seen_utc",
        "last_seen_utc",
        "area_beat",
        "area_district",
    ):
        assert col in header
    for row in rows:
        for col in ("received_at_utc", "first_seen_utc", "last_seen_utc"):
            if row[col]:
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[col]), row
