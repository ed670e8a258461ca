"""The JSON/CSV feeds of issue 14, replayed end to end and checked exactly.

Oakland (two ArcGIS dumps as GeoJSON, gzip-served), CHP Los Angeles (three polls
of a table with per-day ids), Hamilton County HC911 (JSON Lines of first
sightings), Columbia MO police and fire (scraper JSON and a gzip CSV export) and
Fairfax PulsePoint (two lists of one payload) are replayed through the real
``cfs`` command into a fresh store. Every expectation is computed here from the
fixture files with the standard library (gzip, json, csv, datetime, zoneinfo),
independently of the project's parsers, or was read off the files by hand (the
records of ``HAND_CHECKED``; the arithmetic is in the comments).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from cfs_spiders.store.base import CALLS_FROM, OBSERVATIONS_FROM, RUNS_FROM  # noqa: F401
from tests.conftest import FIXTURES, run_cfs

OAKLAND = "ca_oakland_police_calls_for_service"
CHP = "ca_los_angeles_chp_traffic_incidents"
HAMILTON = "tn_hamilton_county_hc911_active_calls"
COLUMBIA_PD = "mo_columbia_police_911_dispatch"
COLUMBIA_FIRE = "mo_columbia_fire_911_dispatch"
FAIRFAX = "va_fairfax_county_fire_pulsepoint_incidents"
FEEDS = (OAKLAND, CHP, HAMILTON, COLUMBIA_PD, COLUMBIA_FIRE, FAIRFAX)


# ------------------------------------------------------------ the captures


def iso(value: str | datetime) -> str:
    """The store's time text: ISO UTC to the second."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manifest(feed: str) -> list[dict[str, Any]]:
    text = (FIXTURES / feed / "manifest.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["snapshots"]


def snapshot_files(feed: str) -> list[tuple[str, Path]]:
    """(capture time, file) of each listed snapshot, in time order."""
    out = [
        (iso(str(s["captured_at"])), FIXTURES / feed / s["responses"][0]["file"])
        for s in manifest(feed)
    ]
    return sorted(out)


def oakland_snapshots() -> list[tuple[str, dict[str, dict]]]:
    """Per snapshot: event number -> properties (placeholders left out)."""
    out = []
    for when, path in snapshot_files(OAKLAND):
        features = json.loads(gzip.decompress(path.read_bytes()))
        props = [f["properties"] for f in features]
        out.append((when, {p["I_EVENTNUMBER"]: p for p in props if p["I_EVENTNUMBER"]}))
    return out


def chp_key(time_text: str, captured: str) -> str:
    """The per-day key, computed here: the latest local date that puts the 12-hour
    time at or before the capture (5 minutes' grace), joined with the id."""
    la = ZoneInfo("America/Los_Angeles")
    at = datetime.fromisoformat(captured.replace("Z", "+00:00")).astimezone(la)
    clock = datetime.strptime(time_text, "%I:%M %p")
    day = at.date()
    if (clock.hour, clock.minute) > (at + timedelta(minutes=5)).timetuple()[3:5]:
        day -= timedelta(days=1)
    return day.isoformat()


def chp_snapshots() -> list[tuple[str, dict[str, dict]]]:
    out = []
    for when, path in snapshot_files(CHP):
        incidents = json.loads(path.read_text(encoding="utf-8"))["incidents"]
        out.append(
            (when, {f"{chp_key(i['time'], when)}/{i['id']}": i for i in incidents})
        )
    return out


def hamilton_lines() -> list[dict[str, Any]]:
    path = (
        FIXTURES
        / HAMILTON
        / "hc911_first_seen_records_2026-08-20_collector_jsonl.jsonl"
    )
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def columbia_json_rows() -> list[dict[str, Any]]:
    rows = []
    for name in ("data_2026-08-22T0628Z.json", "data_2026-08-22T1343Z.json"):
        rows += json.loads((FIXTURES / COLUMBIA_PD / name).read_text())
    return rows


def columbia_fire_csv() -> list[dict[str, str]]:
    path = (
        FIXTURES
        / COLUMBIA_FIRE
        / "ireapps_columbia-fire-calls_2026-07-29T0118Z_first_download.csv.gz"
    )
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def fairfax_incidents() -> list[tuple[str, dict[str, Any]]]:
    path = FIXTURES / FAIRFAX / "pulsepoint_05900_incidents_2025-04-01T1932Z.json"
    data = json.loads(path.read_text())
    return [(name, x) for name in ("active", "recent") for x in data[name]]


def expected_keys() -> dict[str, set[str]]:
    """Distinct call ids of each capture (the per-day key for CHP)."""
    rows = columbia_json_rows()
    return {
        OAKLAND: {k for _, snap in oakland_snapshots() for k in snap},
        CHP: {k for _, snap in chp_snapshots() for k in snap},
        HAMILTON: {r["sequencenumber"] for r in hamilton_lines()},
        COLUMBIA_PD: {r["incident"] for r in rows if r["service"] == "PD"},
        COLUMBIA_FIRE: {r["InNum"] for r in columbia_fire_csv()}
        | {r["incident"] for r in rows if r["service"] == "FIRE_EMS"},
        FAIRFAX: {x["IncidentNumber"] for _, x in fairfax_incidents()},
    }


# ------------------------------------------------------------------ replay


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("coverage_json")
    db = tmp / "cfs.sqlite"
    proc = run_cfs(
        "--db",
        str(db),
        "--output",
        str(tmp / "out"),
        "crawl",
        *FEEDS,
        "--replay",
        "--no-jsonl",
        env={"CFS_VALIDATE_FULL": "1"},
    )
    runs = sum(len(manifest(f)) for f in FEEDS if f != HAMILTON) + 25
    assert f"{runs} runs: {runs} ok" in proc.stderr, proc.stderr[-3000:]
    return db


def rows(db: Path, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params).fetchall()]
    finally:
        con.close()


def calls(db: Path, feed: str) -> dict[str, dict[str, Any]]:
    return {
        r["record_key"]: r
        for r in rows(db, f"SELECT * FROM {CALLS_FROM} WHERE feed_id = ?", (feed,))
    }


# ------------------------------------------------------------------- counts


def test_capture_facts_from_the_provenance():
    """The counts the PROVENANCE files state, so the independent reading above is
    itself checked: Oakland 1,764 + 1,679 event numbers sharing 671; CHP 18, 17
    and 19 incidents; HC911 474 lines; Columbia 125+27 PD and 56+12 fire rows and
    18,594 distinct InNum in 18,789 CSV rows; Fairfax 21 active and 100 recent."""
    (_, a), (_, b) = oakland_snapshots()
    assert (len(a), len(b), len(set(a) & set(b))) == (1764, 1679, 671)
    assert [len(s) for _, s in chp_snapshots()] == [18, 17, 19]
    assert len(hamilton_lines()) == 474
    services = [r["service"] for r in columbia_json_rows()]
    assert (services.count("PD"), services.count("FIRE_EMS")) == (152, 68)
    fire = columbia_fire_csv()
    assert (len(fire), len({r["InNum"] for r in fire})) == (18789, 18594)
    lists = [name for name, _ in fairfax_incidents()]
    assert (lists.count("active"), lists.count("recent")) == (21, 100)


@pytest.mark.parametrize("feed", FEEDS)
def test_distinct_calls_stored_are_the_distinct_ids_of_the_capture(store, feed):
    expected = expected_keys()[feed]
    stored = set(calls(store, feed))
    assert stored == expected
    assert (
        len(stored)
        == {
            OAKLAND: 2772,
            CHP: 22,
            HAMILTON: 474,
            COLUMBIA_PD: 152,
            COLUMBIA_FIRE: 18662,
            FAIRFAX: 121,
        }[feed]
    )


@pytest.mark.parametrize("feed", FEEDS)
def test_category_coverage_is_at_least_95_percent(store, feed):
    got = rows(
        store,
        f"SELECT category_basis, COUNT(*) AS n FROM {CALLS_FROM} WHERE feed_id = ? "
        "GROUP BY category_basis",
        (feed,),
    )
    counts = {r["category_basis"]: r["n"] for r in got}
    total = sum(counts.values())
    assert counts.get("unmapped", 0) / total <= 0.05, counts
    assert counts.get("crosswalk", 0) / total >= 0.95, counts


def test_every_run_is_a_replay_whichever_mapping_read_it(store):
    """Columbia fire's CSV snapshot is read with the live mapping (read_as: live)
    and its JSON snapshots with the replay one; all are replays, and say so."""
    got = rows(store, f"SELECT feed_id, mode, report_json FROM {RUNS_FROM}")
    assert {r["mode"] for r in got} == {"replay"}
    readers = [
        json.loads(r["report_json"])["reader"]
        for r in got
        if r["feed_id"] == COLUMBIA_FIRE
    ]
    assert sorted(readers) == ["live", "replay", "replay"]


def test_oakland_placeholders_are_dropped_and_counted(store):
    reports = [
        json.loads(r["report_json"])
        for r in rows(
            store, f"SELECT report_json FROM {RUNS_FROM} WHERE feed_id = ?", (OAKLAND,)
        )
    ]
    assert sorted(r["counts"].get("records:blank_dropped") for r in reports) == [7, 7]
    assert all(not k.startswith("h:") for k in calls(store, OAKLAND))


def test_columbia_feeds_keep_their_own_service(store):
    reports = {
        r["feed_id"]: json.loads(r["report_json"])["counts"].get("records:not_kept")
        for r in rows(
            store,
            f"SELECT feed_id, report_json FROM {RUNS_FROM} WHERE feed_id IN (?, ?) "
            "AND started_at = (SELECT MIN(started_at) FROM runs r2 "
            "WHERE r2.feed_key = runs.feed_key)",
            (COLUMBIA_PD, COLUMBIA_FIRE),
        )
    }
    # first police snapshot: 181 rows, 56 of them fire; the fire feed's first
    # snapshot is the CSV, read with the live mapping, where nothing is filtered
    assert reports == {COLUMBIA_PD: 56, COLUMBIA_FIRE: None}


def test_columbia_fire_duplicate_rows_are_one_call_one_observation(store):
    obs = rows(
        store,
        f"SELECT COUNT(*) AS n FROM {OBSERVATIONS_FROM} WHERE feed_id = ? AND record_key = ?",
        (COLUMBIA_FIRE, "2026204897"),
    )
    assert obs[0]["n"] == 1  # the row appears 3 times in the one CSV response


# -------------------------------------------------------- life cycle, exact


def lifecycle(snapshots: list[tuple[str, dict[str, dict]]]) -> dict[str, dict]:
    times = [t for t, _ in snapshots]
    out: dict[str, dict] = {}
    for i, (_, snap) in enumerate(snapshots):
        for key, value in snap.items():
            entry = out.setdefault(key, {"first": times[i], "seen": []})
            entry["seen"].append(i)
            entry["last"], entry["latest"] = times[i], value
    for entry in out.values():
        after = entry["seen"][-1] + 1
        entry["gone"] = times[after] if after < len(times) else None
    return out


def test_oakland_first_last_seen_status_and_departures_exact(store):
    expected = lifecycle(oakland_snapshots())
    got = calls(store, OAKLAND)
    status = {"C": "closed", "P": "pending", "A": "dispatched"}
    for key, exp in expected.items():
        row = got[key]
        assert (row["first_seen"], row["last_seen"]) == (exp["first"], exp["last"]), key
        # a rolling window: leaving it says nothing about the call, only the
        # published status does (recent_window never closes by presence)
        assert row["disappeared_at"] == exp["gone"], key
        assert row["status_raw"] == exp["latest"]["I_STATUSID"], key
        assert (row["status"], row["status_basis"]) == (
            status[exp["latest"]["I_STATUSID"]],
            "explicit",
        ), key
    first, second = (snap for _, snap in oakland_snapshots())
    moved = {
        k
        for k in set(first) & set(second)
        if first[k]["I_STATUSID"] != second[k]["I_STATUSID"]
    }
    assert len(moved) == 73  # 50 P->C, 21 A->C, 1 C->A, 1 P->A
    closed_later = {k for k in moved if second[k]["I_STATUSID"] == "C"}
    assert len(closed_later) == 71
    assert all(got[k]["status"] == "closed" for k in closed_later)
    left = {k for k, e in expected.items() if e["gone"]}
    assert len(left) == 1764 - 671
    # what left the window keeps its last published status: P stays pending
    assert {got[k]["status"] for k in left if first[k]["I_STATUSID"] == "P"} == {
        "pending"
    }
    obs = rows(
        store,
        f"SELECT record_key, COUNT(*) AS n FROM {OBSERVATIONS_FROM} WHERE feed_id = ? "
        "GROUP BY record_key",
        (OAKLAND,),
    )
    # change-only history: one version per call, two where the published record
    # changed between the snapshots that both list it
    assert {r["record_key"]: r["n"] for r in obs} == {
        k: 2 if k in first and k in second and first[k] != second[k] else 1
        for k in expected
    }


def test_chp_first_last_seen_and_closures_exact(store):
    expected = lifecycle(chp_snapshots())
    got = calls(store, CHP)
    for key, exp in expected.items():
        row = got[key]
        assert (row["first_seen"], row["last_seen"]) == (exp["first"], exp["last"]), key
        assert row["disappeared_at"] == exp["gone"], key
        if exp["gone"]:  # an active-calls board: leaving it closes the call
            assert (row["status"], row["status_basis"]) == ("closed", "feed_presence")
        else:
            assert row["status"] == "unknown", key
    closed = {k.split("/")[1] for k, e in expected.items() if e["gone"]}
    assert closed == {"0149", "0116", "1962"}  # as the provenance lists
    total = rows(
        store,
        f"SELECT SUM(closed_calls) AS n FROM {RUNS_FROM} WHERE feed_id = ?",
        (CHP,),
    )
    assert total[0]["n"] == 3


def test_hamilton_first_seen_is_the_collectors_poll(store):
    got = calls(store, HAMILTON)
    for line in hamilton_lines():
        row = got[line["sequencenumber"]]
        assert row["first_seen"] == iso(line["collected_at_utc"])
        assert row["disappeared_at"] is None  # first sightings, never a whole board


# --------------------------------------------------- real records, by hand

HAND_CHECKED: list[dict[str, Any]] = [
    # Oakland. CALL_DATE 1715972610000 is "2024-05-17 19:03:30" as UTC, which is
    # the local 7:03:30 PM of CALL_DATE_STR: PDT (UTC-7) -> 2024-05-18T02:03:30Z.
    # TIMEUPDATE 1715981477000 is 8,867 s later: 21:31:17 local -> 04:31:17Z.
    {
        "feed_id": OAKLAND,
        "record_key": "LOP240517000984",
        "call_id": "LOP240517000984",
        "received_at_raw": "1715972610000",
        "received_at_utc": "2024-05-18T02:03:30Z",
        "received_at_local": "2024-05-17T19:03:30-07:00",
        "updated_at_utc": "2024-05-18T04:31:17Z",
        "tz_basis": "documented_local",
        "address_raw": "1218 EXCELSIOR AV",
        "address_granularity": "exact",
        "latitude": 37.8042355,
        "longitude": -122.2315116,
        "coord_granularity": "exact",
        "call_type_code_raw": "10851",
        "call_type_raw": "STOLEN VEHICLE",
        "call_type_category": "property_crime",
        "category_basis": "crosswalk",
        "apco_code": "VEHSTLN",
        "status_raw": "C",
        "status": "closed",
        "area_beat": "16Y",
        "area_district": "3",
        "area_sector": "2",
        "area_reporting_area": "CCD5",
        "first_seen": "2024-05-18T19:03:18Z",
        "last_seen": "2024-05-19T19:03:10Z",
        "disappeared_at": None,
    },
    # Oakland, re-typed between the dumps: 975 STAND BY (P) -> 242 BATTERY (C);
    # the store holds the later values. CALL_DATE 1715972797000 = 19:06:37 local
    # -> 02:06:37Z; TIMEUPDATE 1716054513000 is 81,716 s (22 h 41 min 56 s) later:
    # 2024-05-18 17:48:33 local -> 2024-05-19T00:48:33Z.
    {
        "feed_id": OAKLAND,
        "record_key": "LOP240517000988",
        "received_at_utc": "2024-05-18T02:06:37Z",
        "updated_at_utc": "2024-05-19T00:48:33Z",
        "address_raw": "1612 83RD AV",
        "address_granularity": "exact",
        "call_type_code_raw": "242",
        "call_type_raw": "BATTERY",
        "call_type_category": "violent_crime",
        "status_raw": "C",
        "status": "closed",
        "status_basis": "explicit",
        "area_beat": "34X",
        "area_district": "5",
        "area_sector": "3",
        "area_reporting_area": "CCD6",
        "first_seen": "2024-05-18T19:03:18Z",
        "last_seen": "2024-05-19T19:03:10Z",
    },
    # Oakland, only in the second dump: CALL_DATE_STR 05/18/24 12:02:23 PM PDT.
    {
        "feed_id": OAKLAND,
        "record_key": "LOP240518000500",
        "received_at_utc": "2024-05-18T19:02:23Z",
        "address_raw": "1932 103RD AV",
        "call_type_code_raw": "955",
        "call_type_category": "animal",
        "status": "closed",
        "area_beat": "32Y",
        "area_district": "5",
        "area_sector": "3",
        "area_reporting_area": "CCD7",
        "first_seen": "2024-05-19T19:03:10Z",
        "last_seen": "2024-05-19T19:03:10Z",
        "disappeared_at": None,
    },
    # CHP: polled 2025-09-25 10:35:52Z = 03:35 PDT; 3:33 AM is that morning.
    {
        "feed_id": CHP,
        "record_key": "2025-09-25/0149",
        "call_id": "0149",
        "received_at_raw": "3:33 AM",
        "received_at_utc": "2025-09-25T10:33:00Z",
        "received_at_local": "2025-09-25T03:33:00-07:00",
        "tz_basis": "documented_local",
        "time_flags": "received_at:time_only",
        "address_raw": "Sr14 S / Golden Valley Rd",
        "address_granularity": "intersection",
        "call_type_raw": "Trfc Collision-Unkn Inj",
        "call_type_category": "traffic_collision",
        "apco_code": "MVAUNK",
        "area_precinct": "Newhall",
        "status": "closed",
        "status_basis": "feed_presence",
        "first_seen": "2025-09-25T10:35:52Z",
        "last_seen": "2025-09-25T10:35:52Z",
        "disappeared_at": "2025-09-25T10:46:36Z",
    },
    # CHP: 11:04 PM, still listed at 03:35 the next morning -> 2025-09-24 23:04 PDT.
    {
        "feed_id": CHP,
        "record_key": "2025-09-24/2128",
        "call_id": "2128",
        "received_at_utc": "2025-09-25T06:04:00Z",
        "received_at_local": "2025-09-24T23:04:00-07:00",
        "address_raw": "I605 N / Beverly Blvd Ofr",
        "call_type_raw": "Assist with Construction",
        "call_type_category": "traffic_hazard_parking",
        "area_precinct": "LA",
        "status": "unknown",
        "first_seen": "2025-09-25T10:35:52Z",
        "last_seen": "2025-09-25T10:53:52Z",
        "disappeared_at": None,
    },
    # CHP: 8:45 PM, gone from the third poll.
    {
        "feed_id": CHP,
        "record_key": "2025-09-24/1962",
        "received_at_utc": "2025-09-25T03:45:00Z",
        "address_raw": "777 W Washington Blvd",
        "call_type_raw": "Assist CT with Maintenance",
        "call_type_category": "traffic_hazard_parking",
        "area_precinct": "LA",
        "status": "closed",
        "last_seen": "2025-09-25T10:46:36Z",
        "disappeared_at": "2025-09-25T10:53:52Z",
    },
    # HC911: creation_utc carries its offset; Queued is pending.
    {
        "feed_id": HAMILTON,
        "record_key": "2026-08-31025",
        "received_at_raw": "2026-08-20T04:41:47+00:00",
        "received_at_utc": "2026-08-20T04:41:47Z",
        "received_at_local": "2026-08-20T00:41:47-04:00",
        "tz_basis": "explicit_offset",
        "address_raw": "1101 - 1149 THRASHER PIKE",
        "address_granularity": "block",
        "cross_street_raw": "FRONTAGE RD/BOOKER DR",
        "latitude": 35.210702,
        "longitude": -85.214388,
        "call_type_raw": "Check For A Hazard",
        "call_type_category": "hazard_rescue",
        "priority_raw": "PRI 2",
        "status_raw": "Queued",
        "status": "pending",
        "agency_raw": "Chattanooga PD",
        "area_zone": "A1",
        "area_battalion": "CPD Adam 1",
        "area_municipality": "HAMILTON COUNTY",
        "first_seen": "2026-08-20T08:43:29Z",
    },
    # HC911: the Fire record of a two-agency response at one address.
    {
        "feed_id": HAMILTON,
        "record_key": "2026-08-31024",
        "received_at_utc": "2026-08-20T04:39:17Z",
        "address_raw": "730 E HENDERSON DR",
        "address_granularity": "exact",
        "call_type_raw": "EMS CALL",
        "call_type_category": "medical",
        "priority_raw": "PRI 1",
        "status_raw": "Enroute",
        "status": "en_route",
        "agency_raw": "Chattanooga FD",
        "area_zone": "1506",
        "area_battalion": "CFD Station 15",
        "area_municipality": "CHATTANOOGA",
    },
    # HC911: "Stacked" (waiting behind other calls) is a published code -> pending.
    {
        "feed_id": HAMILTON,
        "record_key": "2026-08-31970",
        "received_at_utc": "2026-08-20T16:21:10Z",
        "address_raw": "1970 ADDI LN",
        "call_type_raw": "Theft From a Vehicle",
        "call_type_category": "property_crime",
        "status_raw": "Stacked",
        "status": "pending",
        "status_basis": "explicit",
        "area_zone": "C7",
        "area_battalion": "CPD Charlie 7",
        "area_municipality": "CHATTANOOGA",
        "first_seen": "2026-08-20T20:43:58Z",
    },
    # Columbia police: 8/22/2026 1:37:01 AM CDT (UTC-5) -> 06:37:01Z.
    {
        "feed_id": COLUMBIA_PD,
        "record_key": "2026229551",
        "received_at_raw": "8/22/2026 1:37:01 AM",
        "received_at_utc": "2026-08-22T06:37:01Z",
        "address_raw": "2400 BLOCK  ANDY DR",
        "address_granularity": "block",
        "call_type_raw": "DISTURBANCE",
        "call_type_category": "disturbance",
        "agency_raw": None,  # the scraper's constant is not the feed's
        "latitude": None,  # the scraper's geocode is not published
        "first_seen": "2026-08-22T13:43:53Z",
    },
    {
        "feed_id": COLUMBIA_PD,
        "record_key": "2026229550",
        "received_at_utc": "2026-08-22T06:32:46Z",
        "address_raw": "900 BLOCK  E BUSINESS LOOP 70",
        "address_granularity": "block",
        "call_type_raw": "CHECK AREA",
        "call_type_category": "proactive_patrol",
    },
    {
        "feed_id": COLUMBIA_PD,
        "record_key": "2026229548",
        "received_at_utc": "2026-08-22T06:28:50Z",
        "address_raw": "3000 BLOCK  S PROVIDENCE RD",
        "call_type_raw": "911 CHECKS",
        "call_type_category": "call_problem",
    },
    # Columbia fire, CSV (live columns): 7/28/2026 12:45:51 PM CDT -> 17:45:51Z;
    # "BCFD" and "114 " as exported (padding stripped).
    {
        "feed_id": COLUMBIA_FIRE,
        "record_key": "2026204897",
        "received_at_raw": "7/28/2026 12:45:51 PM",
        "received_at_utc": "2026-07-28T17:45:51Z",
        "address_raw": "652 N RANGELINE RD",
        "address_granularity": "exact",
        "call_type_raw": "Fire Alarm",
        "call_type_category": "fire",
        "apco_code": "ALRF",
        "agency_raw": "BCFD",
        "area_reporting_area": "114",
        "first_seen": "2026-07-29T01:18:46Z",
    },
    {
        "feed_id": COLUMBIA_FIRE,
        "record_key": "2026204874",
        "received_at_utc": "2026-07-28T17:23:37Z",
        "address_raw": "1107 ELLETA BLVD",
        "call_type_raw": "Medical Response",
        "call_type_category": "medical",
        "agency_raw": "CFD",
        "area_reporting_area": "30",
    },
    # Columbia fire, scraper JSON: 8/21/2026 7:58:55 PM CDT -> 2026-08-22T00:58:55Z.
    {
        "feed_id": COLUMBIA_FIRE,
        "record_key": "2026229327",
        "received_at_utc": "2026-08-22T00:58:55Z",
        "address_raw": "90 E LESLIE LN",
        "address_granularity": "exact",
        "call_type_raw": "Fire Alarm",
        "call_type_category": "fire",
        "agency_raw": "CFD",
        "first_seen": "2026-08-22T06:28:33Z",
    },
    # Fairfax: active, medical, street only, point hidden (0.0000000000).
    {
        "feed_id": FAIRFAX,
        "record_key": "E250911805",
        "received_at_raw": None,  # {} in the capture: the client destroyed it
        "received_at_utc": None,
        "address_raw": "KIDD ST",
        "address_granularity": "street",
        "latitude": None,
        "longitude": None,
        "coord_granularity": "none",
        "call_type_code_raw": "ME",
        "call_type_category": "medical",
        "status_raw": "active",
        "status": "dispatched",
        "units_raw": "E409M E424M M409",
        "unit_count": 3,
        "area_municipality": "ALEXANDRIA",
    },
    # Fairfax: recent (closed), intersection with its point.
    {
        "feed_id": FAIRFAX,
        "record_key": "E250911760",
        "address_raw": "ROUTE 50 & AIRLINE PKWY",
        "address_granularity": "intersection",
        "latitude": 38.9018370076,
        "longitude": -77.4503264319,
        "coord_granularity": "exact",
        "call_type_code_raw": "TC",
        "call_type_category": "traffic_collision",
        "status_raw": "active",
        "units_raw": "E302M M619",
        "unit_count": 2,
        "area_municipality": "CHANTILLY",
    },
    {
        "feed_id": FAIRFAX,
        "record_key": "E250911769",
        "closed_at_raw": None,
        "address_raw": "LEESBURG PIKE",
        "latitude": 38.928655197,
        "longitude": -77.2433188135,
        "status_raw": "recent",
        "status": "closed",
        "status_basis": "explicit",
        "units_raw": "A442 E429M",
        "unit_count": 2,
        "area_municipality": "VIENNA",
        "first_seen": "2025-04-01T19:32:48Z",
    },
    # Fairfax: the community is missing from the display address ("..., VA").
    {
        "feed_id": FAIRFAX,
        "record_key": "E250911330",
        "address_raw": "RT267 WB PRI DOLLEY MADISON BLVD",
        "area_municipality": None,
    },
]


def test_three_hand_checked_records_per_feed():
    for feed in FEEDS:
        assert sum(1 for e in HAND_CHECKED if e["feed_id"] == feed) >= 3, feed


@pytest.mark.parametrize(
    "expected",
    HAND_CHECKED,
    ids=[f"{e['feed_id']}:{e['record_key']}" for e in HAND_CHECKED],
)
def test_hand_checked_values(store, expected):
    got = rows(
        store,
        f"SELECT * FROM {CALLS_FROM} WHERE feed_id = ? AND record_key = ?",
        (expected["feed_id"], expected["record_key"]),
    )
    assert len(got) == 1
    for key, value in expected.items():
        assert got[0][key] == value, key
