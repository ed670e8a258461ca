"""The HTML-family feeds of the second set, replayed from their real captures.

Montgomery County PA (classic ASP, three tables, two successive pages), York
County PA (ASP.NET table, no call id), St. Louis (GridView without a header row,
7 synthetic rows), Escambia County FL (grid plus the same incidents as a
JavaScript array, one edited value) and Little Rock (a scraper's CSV of a
DataTables page, no call id).

Expected counts are computed here from the capture files with the standard
library only (``html.parser``, ``csv``, ``json``, ``re``), independently of the
project's parsers; the exact values of the named records were read off the
captures by hand. The feature tests at the end run the page parser on small
SYNTHETIC pages (written here, not captured) to show each general feature.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrapy.selector import Selector

from cfs_spiders.config.loader import get_config
from cfs_spiders.ingest.exclusions import (
    ExclusionError,
    ExclusionFilter,
    parse_exclusions,
)
from cfs_spiders.ingest.html_parse import LayoutError, page_rows
from cfs_spiders.ingest.replay import ReplayError, load_snapshots
from cfs_spiders.normalize.call_type import categorize
from cfs_spiders.records.builder import RecordBuilder
from cfs_spiders.store.base import CALLS_FROM, RUNS_FROM  # noqa: F401
from cfs_spiders.store.raw import install_sql_function
from tests.conftest import FIXTURES, run_cfs

MONTGOMERY = "pa_montgomery_county_live_cad"
YORK = "pa_york_county_911_live_incidents"
STLOUIS = "mo_st_louis_police_calls"
ESCAMBIA = "fl_escambia_county_sheriff_cad"
LITTLE_ROCK = "ar_little_rock_police_dispatch_log"
FEEDS = [MONTGOMERY, YORK, STLOUIS, ESCAMBIA, LITTLE_ROCK]


# ------------------------------------------------------------ stdlib readers
class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts (``<br>`` and runs of
    whitespace read as one space, ``&nbsp;`` as blank), with each table's
    attributes; nested tables are kept apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        top = self._open[-1] if self._open else None
        if tag == "table":
            table = {"attrs": dict(attrs), "rows": []}
            self.tables.append(table)
            self._open.append(table)
        elif top is not None and tag == "tr":
            top["rows"].append([])
        elif top is not None and tag in ("td", "th") and top["rows"]:
            top["rows"][-1].append([])
        elif top is not None and tag == "br" and top["rows"] and top["rows"][-1]:
            top["rows"][-1][-1].append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        top = self._open[-1] if self._open else None
        if top is not None and top["rows"] and top["rows"][-1]:
            top["rows"][-1][-1].append(data)


def tables(path: Path, encoding: str = "utf-8") -> list[dict[str, Any]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding=encoding))
    for table in parser.tables:
        table["rows"] = [
            [" ".join("".join(c).replace("\xa0", " ").split()) for c in row]
            for row in table["rows"]
        ]
    return parser.tables


def manifest(feed: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / feed / "manifest.yaml").read_text())


def montgomery_pages() -> list[tuple[str, dict[str, list[str]]]]:
    """(capture time, {incident no.: row}) per main page, in capture order."""
    out = []
    for snap in manifest(MONTGOMERY)["snapshots"]:
        path = FIXTURES / MONTGOMERY / snap["responses"][0]["file"]
        rows = {}
        for table in tables(path, "latin-1"):
            for row in table["rows"]:
                if row and re.fullmatch(r"[FEP]\d{7,8}", row[0]):
                    rows[row[0]] = row
        out.append((str(snap["captured_at"]), rows))
    return out


def york_rows() -> list[list[str]]:
    path = FIXTURES / YORK / "york_live_incident_status_2022-10-19T1717EDT.html"
    active = next(t for t in tables(path) if t["attrs"].get("class") == "incidentList")
    return [r for r in active["rows"][1:] if len(r) == 9]


def stlouis_rows() -> list[list[str]]:
    path = FIXTURES / STLOUIS / "cfs_aspx_2021-04-06T1744CST_with_7_synthetic_rows.html"
    grid = next(t for t in tables(path) if t["attrs"].get("id") == "gvData")
    return grid["rows"]


def escambia_page() -> str:
    return (FIXTURES / ESCAMBIA / "cadview_aspx_2016-08-16T1729CDT.html").read_text()


def escambia_grid() -> list[list[str]]:
    path = FIXTURES / ESCAMBIA / "cadview_aspx_2016-08-16T1729CDT.html"
    grid = next(t for t in tables(path) if t["attrs"].get("id") == "gvCAD")
    return grid["rows"][1:]


def escambia_markers() -> list[dict[str, Any]]:
    m = re.search(r"new Array\((\[.*?\])\);", escambia_page(), re.S)
    return json.loads(m.group(1))


def marker_value(marker: dict[str, Any], label: str) -> str:
    return re.search(label + r"</td><td align=left>([^<]*)", marker["WindowInfo"])[1]


def little_rock_rows() -> list[dict[str, str]]:
    path = FIXTURES / LITTLE_ROCK / "dispatch_log_day_2022-05-19_scraper_csv.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_calls() -> dict[str, int]:
    pages = montgomery_pages()
    return {
        MONTGOMERY: len({i for _, rows in pages for i in rows}),
        # no id: dispatch time, discipline, street and municipality
        YORK: len({(r[1], r[0], r[4], r[7]) for r in york_rows()}),
        STLOUIS: len({r[1] for r in stlouis_rows()}) - 7,
        ESCAMBIA: len({r[0] for r in escambia_grid()}),
        LITTLE_ROCK: len(
            {(r["Dispatch time"], r["Location"]) for r in little_rock_rows()}
        ),
    }


# -------------------------------------------------------------- the replay
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("coverage_html")
    db = tmp / "cfs.sqlite"
    proc = run_cfs(
        "--db",
        str(db),
        "--output",
        str(tmp / "out"),
        "crawl",
        *FEEDS,
        "--replay",
        env={"CFS_VALIDATE_FULL": "1"},
    )

    def query(sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        install_sql_function(con)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    return {"query": query, "proc": proc, "db": db}


def calls(store: dict[str, Any], feed: str) -> dict[str, sqlite3.Row]:
    rows = store["query"](
        f"SELECT *, cfs_raw(raw_dict, raw_deflate) AS raw_json FROM {CALLS_FROM} JOIN "
        "call_raw USING (feed_id, record_key) "
        "WHERE feed_id = ?",
        (feed,),
    )
    return {r["call_id"] or r["record_key"]: r for r in rows}


def reports(store: dict[str, Any], feed: str) -> list[dict[str, Any]]:
    rows = store["query"](
        f"SELECT status, report_json FROM {RUNS_FROM} WHERE feed_id = ? ORDER BY fetched_at",
        (feed,),
    )
    assert all(r["status"] == "ok" for r in rows), [r["status"] for r in rows]
    return [json.loads(r["report_json"]) for r in rows]


def test_capture_counts_are_what_the_provenance_says() -> None:
    pages = montgomery_pages()
    assert [len(rows) for _, rows in pages] == [19, 13]
    assert not set(pages[0][1]) & set(pages[1][1])  # no incident on both pages
    assert len(york_rows()) == 4
    assert len(stlouis_rows()) == 33
    assert sum(r[3].startswith("TEST BRIAN") for r in stlouis_rows()) == 7
    assert len(escambia_grid()) == len(escambia_markers()) == 19
    assert len(little_rock_rows()) == 398


@pytest.mark.parametrize("feed", FEEDS)
def test_distinct_calls_stored_equal_distinct_calls_in_the_capture(
    store: dict[str, Any], feed: str
) -> None:
    n = store["query"](
        f"SELECT COUNT(*) AS n FROM {CALLS_FROM} WHERE feed_id = ?", (feed,)
    )
    assert n[0]["n"] == expected_calls()[feed]


def test_montgomery_first_last_seen_and_closures_exact(store: dict[str, Any]) -> None:
    pages = montgomery_pages()
    stored = calls(store, MONTGOMERY)
    assert set(stored) == {i for _, rows in pages for i in rows}
    (t1, first), (t2, second) = pages
    z1 = "2019-07-05T13:51:57Z"  # 9:51:57 AM EDT, the first page's banner
    z2 = "2019-07-05T22:12:10Z"  # 6:12:10 PM EDT, the second's
    assert (t1, t2) == ("2019-07-05 09:51:57-04:00", "2019-07-05 18:12:10-04:00")
    for incident in first:
        row = stored[incident]
        assert (row["first_seen"], row["last_seen"]) == (z1, z1), incident
        assert row["disappeared_at"] == z2  # gone from the board: closed
        assert (row["status"], row["status_basis"]) == ("closed", "feed_presence")
    for incident in second:
        row = stored[incident]
        assert (row["first_seen"], row["last_seen"]) == (z2, z2), incident
        assert row["disappeared_at"] is None
        assert row["status"] == "dispatched"
    runs = reports(store, MONTGOMERY)
    assert [r["disappeared_calls"] for r in runs] == [0, len(first)]


def _check(row: sqlite3.Row, **want: Any) -> None:
    got = {k: row[k] for k in want}
    assert got == want


def test_montgomery_records_by_hand(store: dict[str, Any]) -> None:
    c = calls(store, MONTGOMERY)
    _check(
        c["F1917359"],
        dispatched_at_utc="2019-07-05T12:14:33Z",
        dispatched_at_local="2019-07-05T08:14:33-04:00",
        address="KING ST & MANATAWNY ST",
        address_granularity="intersection",
        area_municipality="POTTSTOWN",
        area_station_area="STA69",
        agency_raw="Fire",
        call_type_raw="FIRE INVESTIGATION",
        call_type_category="fire",
        coord_granularity="none",
    )
    _check(
        c["P19375437"],
        dispatched_at_utc="2019-07-05T12:47:58Z",
        address="RAMP I76 TO RT422 & RAMP I76 EB TO RT422 WB",
        area_municipality="UPPER MERION",
        area_station_area=None,
        agency_raw="Traffic",
        call_type_raw="DISABLED VEHICLE",
        call_type_category="traffic_hazard_parking",
    )
    _check(
        c["F1917418"],
        dispatched_at_utc="2019-07-05T22:09:50Z",
        address="WOODBINE AVE & RIGHTERS MILL RD",
        area_municipality="LOWER MERION",  # LOWER<br>MERION on the page
        area_station_area="STA26",
        call_type_category="fire",
    )
    _check(
        c["E1941125"],
        dispatched_at_utc="2019-07-05T21:25:09Z",
        area_municipality="LOWER PROVIDENCE",
        area_station_area="322",
        agency_raw="EMS",
        call_type_raw="CARDIAC EMERGENCY",
        call_type_category="medical",
    )
    raw = json.loads(c["F1917418"]["raw_json"])
    assert raw["comments_link"].startswith(
        "livecadcomments-fireems.asp?eid=8341097&incidentno=F1917418"
    )


def test_york_records_by_hand(store: dict[str, Any]) -> None:
    by_time = {r["dispatched_at_local"]: r for r in calls(store, YORK).values()}
    assert all(r["call_id"] is None for r in by_time.values())
    _check(
        by_time["2022-10-19T15:38:00-04:00"],
        dispatched_at_utc="2022-10-19T19:38:00Z",
        address="S GEORGE ST",
        cross_street_raw="COUNTRY CLUB RD",
        address_granularity="intersection",
        call_type_raw="MVA W/INJURIES CL 2",
        call_type_category="traffic_collision",
        agency_raw="TRAFFIC",
        area_box="89-205",
        area_municipality="SPRING GARDEN TWP",
    )
    _check(  # a blank cross street: the nearest intersection stands in
        by_time["2022-10-19T17:15:00-04:00"],
        address="E MARKET ST",
        cross_street_raw="S MILLS ST / S NORTHERN WAY, N NORTHERN WAY",
        area_box="89-104",
        area_municipality="SPRINGETTSBURY TWP",
    )
    _check(
        by_time["2022-10-19T15:24:00-04:00"],
        address="LIBHART MILL RD",
        cross_street_raw="YORKANA RD / PLANTATION LN",
        call_type_raw="FIRE POLICE",
        call_type_category="traffic_hazard_parking",
        area_municipality="HELLAM TWP",
    )
    raw = json.loads(by_time["2022-10-19T15:24:00-04:00"]["raw_json"])
    assert raw["details_link"] == "Details.aspx?Ox6ligZ4G7F4x3BP0DrCqQ=="


def test_york_key_ignores_mutable_fields() -> None:
    """The content key is the dispatch time, discipline, street and municipality:
    a call whose type, cross street or box changes keeps its key."""
    builder = RecordBuilder(get_config(YORK), replay=True)
    columns = get_config(YORK)["parse"]["tables"][0]["columns"]
    row = dict(zip(columns, york_rows()[0], strict=True))

    def key(**changes: str) -> str:
        raw = {**row, **changes}
        return builder.build(raw, fetched_at=_now(), source_url="u", run_id="r")[
            "record_key"
        ]

    assert key() == key(type="MVA W/INJURIES CL 2", cross_street="X ST", box="1-1")
    assert key() != key(dispatched="10/19/2022 5:16 PM")
    assert key() != key(street="W MARKET ST")


def _now():
    from datetime import UTC, datetime

    return datetime(2022, 10, 19, 21, 17, 5, tzinfo=UTC)


def test_st_louis_stores_the_26_real_calls_and_none_of_the_test_rows(
    store: dict[str, Any],
) -> None:
    rows = stlouis_rows()
    real = {r[1] for r in rows if not r[3].startswith("TEST")}
    synthetic = {r[1] for r in rows if r[3].startswith("TEST")}
    assert len(real) == 26 and len(synthetic) == 7
    stored = calls(store, STLOUIS)
    assert set(stored) == real
    assert not set(stored) & synthetic
    assert not any(
        r["address"] == "OAKLAND AVE / MACKLIND AVE"
        and r["call_type_raw"].startswith("TEST")
        for r in stored.values()
    )
    (run,) = reports(store, STLOUIS)
    assert run["excluded_records"] == 7
    assert [e["rows"] for e in run["exclusions"]] == [1] * 7
    assert run["raw_records"] == 26


def test_st_louis_records_by_hand(store: dict[str, Any]) -> None:
    c = calls(store, STLOUIS)
    _check(
        c["P2104060805"],
        dispatched_at_utc="2021-04-06T22:06:08Z",  # 17:06:08 CDT
        address="39XX BOWEN ST",
        address_granularity="block",
        call_type_raw="Burglary Alarm (Alarm Company)",
        call_type_category="alarm",
    )
    _check(
        c["P2104060745"],
        dispatched_at_utc="2021-04-06T21:21:54Z",
        address="I 44 EASTBOUND / S GRAND BLVD",
        address_granularity="intersection",
        call_type_category="traffic_collision",
    )
    _check(
        c["P2104060758"],
        dispatched_at_local="2021-04-06T16:15:02-05:00",
        address="52XX GENEVIEVE AVE",
        call_type_raw="ShotSpotter",
        call_type_category="weapons_shots",
    )
    # the last real row (the first of the page's appended tail is a TEST row)
    _check(
        c["P2104060690"], address="OAKLAND AVE / MACKLIND AVE", call_type_raw="Accident"
    )


def test_escambia_edited_marker_is_excluded(store: dict[str, Any]) -> None:
    markers = escambia_markers()
    edited = [
        m for m in markers if marker_value(m, "Received:") == "08/18/2016 7:50:00 PM"
    ]
    assert (
        len(edited) == 1 and marker_value(edited[0], "Incident #:") == "ECSO16CAD276495"
    )
    grid = {r[0]: r for r in escambia_grid()}
    assert grid["ECSO16CAD276495"][1] == "08/16/2016 5:27:03 PM"
    c = calls(store, ESCAMBIA)
    assert set(c) == set(grid)
    row = c["ECSO16CAD276495"]
    _check(
        row,
        received_at_raw="08/16/2016 5:27:03 PM",  # the grid's, not the edited one
        received_at_utc="2016-08-16T22:27:03Z",
        latitude=None,
        longitude=None,
        coord_granularity="none",
    )
    assert "marker" not in json.loads(row["raw_json"])
    (run,) = reports(store, ESCAMBIA)
    assert run["excluded_records"] == 1
    assert run["exclusions"][0]["rows"] == 1
    assert not any(k.startswith("join:") for k in run["counts"])  # 18 of 18 joined
    # every other incident has its own marker's point
    for m in markers:
        incident = marker_value(m, "Incident #:")
        if m is edited[0]:
            continue
        assert (c[incident]["latitude"], c[incident]["longitude"]) == (
            m["Latitude"],
            m["Longitude"],
        )


def test_escambia_records_by_hand(store: dict[str, Any]) -> None:
    c = calls(store, ESCAMBIA)
    _check(
        c["ECSO16CAD276471"],
        received_at_utc="2016-08-16T21:56:25Z",
        dispatched_at_utc="2016-08-16T22:06:00Z",
        onscene_at_utc=None,
        status="dispatched",
        status_basis="derived_from_timestamps",
        address="PENSACOLA BLVD",
        cross_street_raw="DIAMOND DIARY RD",
        address_granularity="intersection",
        latitude=30.49885,
        longitude=-87.26444,
        coord_granularity="snapped_intersection",
        call_type_category="officer_agency_assist",
        area_district="NORTH PRECINCT",
        area_municipality="PENSACOLA",
    )
    _check(
        c["ECSO16CAD276475"],
        received_at_local="2016-08-16T16:59:20-05:00",
        onscene_at_utc="2016-08-16T22:27:26Z",
        status="on_scene",
        address="JUNIPER ST",
        cross_street_raw="ARTHUR BROWN RD",
        latitude=30.89011,
        longitude=-87.50768,
        call_type_raw="BURGLARY-RES",
        call_type_category="property_crime",
        area_municipality="WALNUT HILL",
    )
    _check(
        c["ECSO16CAD276494"],
        dispatched_at_utc=None,
        status="unknown",  # received, not yet dispatched: no stage time says more
        call_type_category="suspicious",
        area_municipality="MOLINO",
    )
    _check(
        c["ECSO16CAD275935"],
        received_at_utc="2016-08-16T11:24:42Z",
        call_type_raw="TRAINING",
        call_type_category="administrative",
    )


def test_little_rock_records_by_hand(store: dict[str, Any]) -> None:
    by = {
        (r["dispatched_at_raw"], r["address"]): r
        for r in calls(store, LITTLE_ROCK).values()
    }
    assert all(r["call_id"] is None for r in by.values())
    _check(
        by[("2022-05-19 23:42:55", "5001 W 65TH ST")],
        dispatched_at_utc="2022-05-20T04:42:55Z",
        address_granularity="exact",
        call_type_raw="CHECK CONDITION OF SUBJECT",
        call_type_category="welfare_check",
        first_seen="2022-05-20T04:42:55Z",
    )
    _check(
        by[("2022-05-19 23:40:01", "SCOTT HAMILTON DR / ELECTRIC AVE")],
        address_granularity="intersection",
        call_type_category="traffic_enforcement",
    )
    _check(
        by[("2022-05-19 00:10:11", "1316 MAIN ST")],
        dispatched_at_utc="2022-05-19T05:10:11Z",
        call_type_raw="DISTURBANCE IN PROGRESS",
        call_type_category="disturbance",
        disappeared_at=None,  # a scraper's accumulated rows: absence means nothing
    )


# ----------------------------------------------------------------- crosswalks
def captured_call_types() -> dict[str, list[str]]:
    return {
        MONTGOMERY: [r[1] for _, rows in montgomery_pages() for r in rows.values()],
        YORK: [r[3] for r in york_rows()],
        STLOUIS: [r[3] for r in stlouis_rows() if not r[3].startswith("TEST")],
        ESCAMBIA: [r[4] for r in escambia_grid()],
        LITTLE_ROCK: [r["Call type"] for r in little_rock_rows()],
    }


@pytest.mark.parametrize("feed", FEEDS)
def test_every_captured_call_type_has_a_crosswalk_row(feed: str) -> None:
    types = captured_call_types()[feed]
    results = [categorize(t, feed_id=feed) for t in types]
    missing = sorted(
        {t for t, r in zip(types, results, strict=True) if r.basis != "crosswalk"}
    )
    assert not missing
    mapped = sum(r.category != "unmapped" for r in results)
    assert mapped / len(results) >= 0.95


@pytest.mark.parametrize("feed", FEEDS)
def test_stored_categories_cover_95_percent(store: dict[str, Any], feed: str) -> None:
    counts = Counter(r["category_basis"] for r in calls(store, feed).values())
    assert counts["crosswalk"] / sum(counts.values()) >= 0.95, counts


# ------------------------------------------- replay exclusions (general rules)
def test_a_stale_exclusion_fails_the_run(tmp_path: Path) -> None:
    """An exclusion that matches no row means the manifest no longer fits its
    capture: the run fails instead of letting flagged rows back in silently."""
    replay = tmp_path / "replay"
    shutil.copytree(FIXTURES / STLOUIS, replay / STLOUIS)
    path = replay / STLOUIS / "manifest.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["snapshots"][0]["exclude"][0]["record_id"] = "P0000000000"
    path.write_text(yaml.safe_dump(doc))
    db = tmp_path / "cfs.sqlite"
    proc = run_cfs(
        "--db",
        str(db),
        "--output",
        str(tmp_path / "out"),
        "crawl",
        STLOUIS,
        "--replay",
        str(replay),
        check=False,
    )
    assert proc.returncode != 0
    con = sqlite3.connect(db)
    status, error = con.execute(f"SELECT status, error FROM {RUNS_FROM}").fetchone()
    n = con.execute(f"SELECT COUNT(*) FROM {CALLS_FROM}").fetchone()[0]
    con.close()
    assert status == "failed"
    assert "record_id P0000000000" in error and "matched no row" in error
    # the six other TEST rows were still skipped, the first one came back
    assert n == 27


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"record_id": "X"}, "reason"),
        ({"record_id": "X", "match": {"a": "b"}, "reason": "r"}, "exactly one"),
        ({"match": {}, "reason": "r"}, "match must map"),
        ({"record_id": "X", "reason": "r", "row": 3}, "unknown key"),
    ],
)
def test_bad_exclusions_are_refused_naming_the_entry(entry: dict, problem: str) -> None:
    with pytest.raises(ExclusionError) as exc:
        parse_exclusions([entry], "m.yaml")
    assert "m.yaml: exclude[0]" in str(exc.value) and problem in str(exc.value)


def test_a_broken_manifest_exclusion_is_a_replay_error(tmp_path: Path) -> None:
    folder = tmp_path / STLOUIS
    shutil.copytree(FIXTURES / STLOUIS, folder)
    doc = yaml.safe_load((folder / "manifest.yaml").read_text())
    doc["exclude"] = [{"record_id": "P1"}]  # no reason
    (folder / "manifest.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ReplayError, match="reason"):
        load_snapshots(str(tmp_path), STLOUIS)


def test_exclusion_filter_matches_exactly() -> None:
    rows = [
        {"id": "A1", "t": "1", "nested": {"x": "7"}},
        {"id": "A2", "t": "1"},
        {"id": "A3", "t": "2"},
    ]
    ex = parse_exclusions(
        [
            {"record_id": "A1", "reason": "r"},
            {"match": {"t": "2"}, "reason": "r"},
            {"match": {"nested.x": "7 "}, "reason": "not exact: kept"},
            {"match": {"t": "1"}, "source": "other", "reason": "other source"},
        ],
        "m",
    )
    filt = ExclusionFilter(ex, lambda row: row["id"])
    assert [r["id"] for r in filt.apply(list(rows), "grid")] == ["A2"]
    assert filt.excluded == 2
    assert [e.reason for e in filt.unmatched()] == ["not exact: kept", "other source"]
    # a record_id names records only, never rows joined onto them
    filt = ExclusionFilter(ex[:1], lambda row: row["id"])
    assert len(filt.apply(list(rows), "markers", records=False)) == 3


# ------------------------------------------ page sources, on SYNTHETIC pages
def rows_of(html: str, opts: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    return page_rows(Selector(text=html), opts, **kw)


SYNTHETIC_TWO_ROWS = """<html><body><table id="log">
<tr><th>When</th><th>Id</th><th>Type</th></tr>
<tr class="main"><td>2024-01-01 10:00</td><td>A1</td><td>FIGHT</td></tr>
<tr><td colspan="3">Location: 1 MAIN ST</td></tr>
<tr><td>&nbsp;</td><td> </td><td></td></tr>
<tr class="main"><td>2024-01-01 10:05</td><td>A2</td><td>NOISE</td></tr>
<tr><td colspan="3">Location: 2 OAK AVE</td></tr>
<tr class="pager"><td>1</td><td>2</td><td>3</td></tr>
</table></body></html>"""


def test_records_spanning_two_rows_with_spacer_and_pager_rows() -> None:
    spec = {
        "xpath": "//table[@id='log']",
        "header_rows": 1,
        "rows_per_record": 2,
        "skip_row_xpath": "self::tr[@class='pager']",
        "columns": ["when", "id", "type", "where"],
    }
    rows = rows_of(SYNTHETIC_TWO_ROWS, {"tables": [spec]})
    assert rows == [
        {
            "when": "2024-01-01 10:00",
            "id": "A1",
            "type": "FIGHT",
            "where": "Location: 1 MAIN ST",
        },
        {
            "when": "2024-01-01 10:05",
            "id": "A2",
            "type": "NOISE",
            "where": "Location: 2 OAK AVE",
        },
    ]
    # the same page grouped by the row that starts each record
    spec = {**spec, "record_start_xpath": "self::tr[@class='main']"}
    del spec["rows_per_record"]
    assert rows_of(SYNTHETIC_TWO_ROWS, {"tables": [spec]}) == rows


SYNTHETIC_THREE_TABLES = """<html><body>
<b>Fire</b><table class="t"><tr><td><b>No.</b></td><td><b>Type</b></td></tr>
<tr><td><a href="d.asp?id=F1">F1</a></td><td>FIRE ALARM</td></tr></table>
<b>EMS</b><table class="t"><tr><td><b>No.</b></td><td><b>Type</b></td></tr>
<tr><td><a href="d.asp?id=E1">E1</a></td><td>FALL</td></tr>
<tr><td><a href="d.asp?id=E2">E2</a></td><td>SICK</td></tr></table>
<b>Traffic</b><table><tr><td>P1</td><td>VEHICLE ACCIDENT</td><td>RAMP</td></tr></table>
</body></html>"""


def test_several_tables_shared_and_own_layouts_without_header() -> None:
    opts = {
        "tables": [
            {  # one spec for both tables of class t (shared layout)
                "name": "fire_ems",
                "xpath": "//table[@class='t']",
                "expect_header": ["No.", "Type"],
                "columns": ["no", "type"],
                "cell_links": {"no": "link"},
            },
            {  # a table without a header row: columns by position
                "name": "traffic",
                "xpath": "//b[.='Traffic']/following::table[1]",
                "columns": ["no", "type", "where"],
                "add_fields": {"discipline": {"const": "Traffic"}},
            },
        ]
    }
    rows = rows_of(SYNTHETIC_THREE_TABLES, opts)
    assert [r["no"] for r in rows] == ["F1", "E1", "E2", "P1"]
    assert rows[1]["link"] == "d.asp?id=E1"
    assert rows[3] == {
        "no": "P1",
        "type": "VEHICLE ACCIDENT",
        "where": "RAMP",
        "discipline": "Traffic",
    }
    # a changed header fails loudly, naming the table
    opts["tables"][0]["expect_header"] = ["No.", "Incident Type"]
    with pytest.raises(LayoutError, match="fire_ems.*header"):
        rows_of(SYNTHETIC_THREE_TABLES, opts)
    # a table that is gone fails loudly unless it is optional
    gone = {"tables": [{"xpath": "//table[@id='none']", "columns": ["a"]}]}
    with pytest.raises(LayoutError, match="no element"):
        rows_of(SYNTHETIC_THREE_TABLES, gone)
    gone["tables"][0]["required"] = False
    assert rows_of(SYNTHETIC_THREE_TABLES, gone) == []


def test_an_empty_board_is_not_a_changed_layout() -> None:
    page = (
        '<h2>Active Incidents</h2><table class="l"><tr>'
        "<td>There are currently no active incidents.</td></tr></table>"
    )
    spec = {
        "xpath": "//table[@class='l']",
        "expect_header": ["Type", "Time"],
        "columns": ["type", "time"],
    }
    with pytest.raises(LayoutError):
        rows_of(page, {"tables": [spec]})
    spec["empty_text"] = "There are currently no"
    assert rows_of(page, {"tables": [spec]}) == []


SYNTHETIC_SCRIPT = """<html><body>
<table id="g"><tr><td>C-1</td><td>FIGHT</td></tr><tr><td>C-2</td><td>NOISE</td></tr></table>
<script>var Points = [];</script>
<script>
  var Points = new Array([{id: 'C-1', lat: 41.5, lon: -87.25, info: "<b>C-1</b>"},
                          {"id": "C-9", "lat": 1, "lon": 2}]);
  var calls = {"meta": {"n": 2}, "items": [{"no": "X1", "t": 'THEFT'}, {no: "X2"}]};
</script></body></html>"""


def test_javascript_literals_joined_onto_rows_or_records_of_their_own() -> None:
    counts: dict[str, int] = {}
    opts = {
        "tables": [{"xpath": "//table[@id='g']", "columns": ["id", "type"]}],
        "scripts": [
            {
                "name": "points",
                "pattern": r"var Points\s*=\s*new Array\(",
                "join": {"key": "id", "table_key": "id", "as": "point"},
            },
            {
                "name": "calls",
                "pattern": r"var calls\s*=\s*",
                "path": "items",
                "add_fields": {"kind": {"const": "script"}},
            },
        ],
    }
    rows = rows_of(SYNTHETIC_SCRIPT, opts, counts=counts)
    assert rows[0]["point"] == {
        "id": "C-1",
        "lat": 41.5,
        "lon": -87.25,
        "info": "<b>C-1</b>",
    }
    assert "point" not in rows[1]
    assert rows[2:] == [
        {"no": "X1", "t": "THEFT", "kind": "script"},
        {"no": "X2", "kind": "script"},
    ]
    assert counts == {"points:unjoined": 1}  # C-9 has no grid row
    # the literal of an exclusion's source row is dropped before the join
    dropped = []

    def exclude(rows: list, source: str, records: bool) -> list:
        keep = [r for r in rows if not (source == "points" and r.get("id") == "C-1")]
        dropped.extend(r for r in rows if r not in keep)
        return keep

    rows = rows_of(SYNTHETIC_SCRIPT, opts, exclude=exclude)
    assert "point" not in rows[0] and len(dropped) == 1
    # a page without the script fails loudly
    with pytest.raises(LayoutError, match="no <script> matches"):
        rows_of("<table id='g'><tr><td>C-1</td><td>F</td></tr></table>", opts)


def test_montgomery_comment_popups_read_with_the_same_table_spec() -> None:
    """The real pop-ups bundled with Montgomery's pages (not replayed: the live
    config reads the main page only) are one table of unit status rows; an
    incident without comments shows a message and no header."""
    spec = {
        "xpath": "//table[@class='info']",
        "expect_header": ["Date/Time Entered", "Unit", "Status"],
        "columns": ["entered", "unit", "status"],
        "required": False,
    }
    folder = FIXTURES / MONTGOMERY

    def read(name: str) -> list[dict[str, Any]]:
        html = (folder / name).read_text(encoding="latin-1")
        return page_rows(Selector(text=html), {"tables": [spec]})

    assert read("livecadcomments_F1917418_2019-07-05T1812EDT_var-getDetail1.html") == [
        {"entered": "2019-07-05 18:10:50", "unit": "E26", "status": "Acknowledged"},
        {"entered": "2019-07-05 18:10:51", "unit": "E26-1", "status": "Acknowledged"},
    ]
    assert [
        r["unit"] for r in read("livecadcomments_2019-07-05T1645EDT_var-detail.html")
    ] == [
        "356-4",
        "QX56",
    ]
    assert read("livecadcomments_traffic_P19376465_var-getDetail8.html") == []
