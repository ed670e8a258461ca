#!/usr/bin/env python
"""Read the call types of every captured feed the project has a crosswalk for.

Why a module: ``tests/test_call_type.py`` checks that every captured value has a
crosswalk row, and ``bench/vera_leave_one_out.py`` weights its leave-one-feed-out
table by how often each value occurs in the capture. Both read the captures the
same way, from the project's own tree (``tests/fixtures/<feed_id>/``).
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
ATOM = "{http://www.w3.org/2005/Atom}"

Record = tuple[str | None, str | None]  # (call_type_raw, call_type_code_raw)


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(newline="", encoding=encoding) as fh:
        return list(csv.DictReader(fh))


def _seattle_fire(d: Path) -> Iterator[Record]:
    for row in _csv(d / "Seattle_Real_Time_Fire_911_Calls_Chrono.first300.csv"):
        yield row["Type"], None
    for obj in json.loads(
        (d / "socrata_kzjm-xkqj_api_response_sample.json").read_text("utf-8")
    ):
        yield obj.get("type"), None


def _seattle_fire_html(d: Path) -> Iterator[Record]:
    for path in sorted(d.glob("*.html")):
        page = path.read_text(encoding="ascii", errors="replace")
        for tr in re.findall(r"<tr id=row_\d+.*?</tr>", page, re.S | re.I):
            tds = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S | re.I)
            if len(tds) >= 6:
                yield html.unescape(re.sub(r"<[^>]+>", "", tds[5])).strip(), None


def _seattle_police(d: Path) -> Iterator[Record]:
    for row in _csv(d / "db_call_data_2018-2023.csv"):
        yield row["Final Call Type"] or row["Initial Call Type"], None
        yield row["Initial Call Type"], None


def _dallas_code(value: str) -> str | None:
    m = re.match(r"^\s*([0-9A-Z]+(?:/[0-9A-Z]+)?)\s*-", value)
    return m.group(1) if m else None


def _dallas(d: Path) -> Iterator[Record]:
    for row in _csv(d / "are8-xahz.csv"):
        yield row["nature_of_call"], _dallas_code(row["nature_of_call"])


def _houston(d: Path) -> Iterator[Record]:
    for path in sorted(d.glob("hec_active_incidents_query_*.json")):
        for feat in json.loads(path.read_text("utf-8"))["features"]:
            yield feat["attributes"].get("IncidentType"), None


def _clearwater(d: Path) -> Iterator[Record]:
    archive = json.loads((d / "archive_2025-12-13.json").read_text("utf-8"))
    for snap in archive["snapshots"]:
        for call in snap["calls"]:
            yield call.get("Online_Description"), None


def _portland(d: Path) -> Iterator[Record]:
    for path in sorted(d.glob("911incidents_*.xml")):
        for entry in ET.parse(path).getroot().iter(f"{ATOM}entry"):
            cat = entry.find(f"{ATOM}category")
            yield (cat.get("term") if cat is not None else None), None


def _column(filename: str, column: str) -> Callable[[Path], Iterator[Record]]:
    def read(d: Path) -> Iterator[Record]:
        for row in _csv(d / filename):
            yield row[column], None

    return read


MONROE_TYPES = {
    "1": "Dangerous condition",
    "2": "Parking complaint",
    "3": "Barking dogs",
    "4": "Hit and Run, no injury and no blocking",
}


def _monroe(d: Path) -> Iterator[Record]:
    for row in _csv(d / "mcsafetyfeed_dispatches_table_2014-10-21.csv"):
        yield MONROE_TYPES[row["dispatch_type_id"]], None


def _nashville(d: Path) -> Iterator[Record]:
    for row in _csv(d / "calls_2024.first300.csv"):
        yield row["Tencode Description"] or None, row["Tencode"] or None


def _sf_realtime(d: Path) -> Iterator[Record]:
    name = "Law_Enforcement_Dispatched_Calls_for_Service__Real-Time.first300.csv"
    for row in _csv(d / name):
        yield row["call_type_final_desc"], row["call_type_final"]


def _sf_legacy(d: Path) -> Iterator[Record]:
    path = d / "police-department-calls-for-service.first176.json"
    for obj in json.loads(path.read_text("utf-8")):
        yield obj.get("original_crime_type_name"), None


def _sf_fire(d: Path) -> Iterator[Record]:
    for path in sorted(d.glob("Fire_Department_Calls_for_Service_*.csv")):
        for row in _csv(path):
            yield row["Call Type"], None


READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    "wa_seattle_fire_realtime911": _seattle_fire,
    "wa_seattle_fire_realtime911_html": _seattle_fire_html,
    "wa_seattle_police_calls": _seattle_police,
    "tx_dallas_police_active_calls": _dallas,
    "tx_houston_hec_active_incidents": _houston,
    "fl_clearwater_police_active_calls": _clearwater,
    "or_portland_boec_911_incidents": _portland,
    "fl_orlando_police_active_calls": _column(
        "active_calls_scraper_output_tail2500.csv", "description"
    ),
    "tx_san_antonio_police_calls": _column(
        "sapd_table_scraper_output_2018-09.csv", "ProblemType"
    ),
    "wi_milwaukee_police_calls": _column(
        "logged-calls-03-14-19_scraper_output.csv", "Nature of Call"
    ),
    "la_caddo_911_active_events": _column(
        "caddo911_incidents_scraper_output_2026-01-12.csv", "description"
    ),
    "ny_monroe_county_911_incidents": _monroe,
    "tn_nashville_police_calls": _nashville,
    "ca_san_francisco_police_dispatched_realtime": _sf_realtime,
    "ca_san_francisco_police_calls_legacy": _sf_legacy,
    "ca_san_francisco_fire_calls": _sf_fire,
}
FEEDS = sorted(READERS)


def capture_records(feed_id: str) -> list[Record]:
    """Every (call type, code) pair of a feed's capture, in capture order."""
    records = list(READERS[feed_id](FIX / feed_id))
    if not records:
        raise ValueError(f"{FIX / feed_id}: no call types read for {feed_id}")
    return records
