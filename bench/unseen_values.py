#!/usr/bin/env python
"""Distinct call-type values (with call counts) of the second-set captures.

Why: the "cities never seen" check (``tests/test_unseen_cities.py``) compares
rules plus the learned fallback with hand labels of feeds the project had no
crosswalk for. This script is how the value lists in
``tests/data/unseen_call_types.csv`` were drawn from
``shared/captures/<folder>/`` (read-only), so the counts can be re-derived.

One call is counted once: where a capture holds several snapshots, a call id
seen in more than one of them counts once (its latest value). Rows the
PROVENANCE.md names synthetic (St. Louis ``TEST BRIAN*``) are left out.

Run ``python bench/unseen_values.py [CAPTURES_DIR]``; it prints
``feed,value,count`` CSV to stdout.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lxml import html as lxml_html

CAPTURES = Path("/work/shared/captures")


def _cells(row) -> list[str]:
    return [" ".join(c.text_content().split()) for c in row.xpath("./td|./th")]


def oakland(d: Path) -> Counter[str]:
    latest: dict[str, str] = {}
    for path in sorted(d.glob("calls_*.json")):
        for feat in json.loads(path.read_text("utf-8")):
            p = feat["properties"]
            if p.get("I_EVENTNUMBER") and p.get("CALL_DESC"):
                latest[p["I_EVENTNUMBER"]] = p["CALL_DESC"]
    return Counter(latest.values())


def montgomery(d: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in sorted(d.glob("livecad_*.html")):
        for table in lxml_html.parse(str(path)).xpath("//table"):
            rows = table.xpath("./tr|./tbody/tr")
            if not rows:
                continue
            head = _cells(rows[0])
            col = head.index("Incident Type")
            for row in rows[1:]:
                cells = _cells(row)
                if len(cells) > col and cells[col]:
                    out[cells[col]] += 1
    return out


def york(d: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in sorted(d.glob("*.html")):
        table = lxml_html.parse(str(path)).xpath("//table[@class='incidentList']")[0]
        for row in table.xpath(".//tr")[1:]:
            cells = _cells(row)
            if len(cells) >= 4:
                out[cells[3]] += 1
    return out


def chp(d: Path) -> Counter[str]:
    latest: dict[str, str] = {}
    for path in sorted(d.glob("active_incidents_*.json")):
        for inc in json.loads(path.read_text("utf-8"))["incidents"]:
            latest[inc["id"]] = inc["type"]
    return Counter(latest.values())


def pulsepoint(d: Path) -> Counter[str]:
    latest: dict[str, str] = {}
    for path in sorted(d.glob("pulsepoint_*.json")):
        data = json.loads(path.read_text("utf-8"))
        for key in ("active", "recent"):
            for inc in data.get(key) or []:
                latest[inc["ID"]] = inc["PulsePointIncidentCallType"]
    return Counter(latest.values())


def st_louis(d: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in sorted(d.glob("cfs_aspx_*.html")):
        for row in lxml_html.parse(str(path)).xpath("//table[@id='gvData']//tr"):
            cells = _cells(row)
            if len(cells) == 4 and not cells[3].startswith("TEST BRIAN"):
                out[cells[3]] += 1
    return out


def little_rock(d: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in sorted(d.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out[row["Call type"]] += 1
    return out


def columbia(d: Path) -> Counter[str]:
    latest: dict[str, str] = {}
    for path in sorted(d.glob("data_*.json")):
        for row in json.loads(path.read_text("utf-8")):
            latest[row["incident"]] = row["type"]
    for path in sorted(d.glob("*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                latest.setdefault(row["InNum"], row["ExtNatureDisplayName"])
    return Counter(v for v in latest.values() if v)


def escambia(d: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in sorted(d.glob("*.html")):
        rows = lxml_html.parse(str(path)).xpath("//table[@id='gvCAD']//tr")
        col = _cells(rows[0]).index("Incident Type")
        for row in rows[1:]:
            out[_cells(row)[col]] += 1
    return out


def hamilton(d: Path) -> Counter[str]:
    latest: dict[str, str] = {}
    for path in sorted(d.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                latest[rec["sequencenumber"]] = rec["type"]
    return Counter(latest.values())


READERS: dict[str, Callable[[Path], Counter[str]]] = {
    "ca_oakland_opd_calls_for_service_arcgis": oakland,
    "pa_montgomery_county_livecad_active_incidents": montgomery,
    "pa_york_county_911_live_incident_status": york,
    "ca_chp_cad_traffic_incidents_lacc": chp,
    "va_fairfax_county_fire_pulsepoint_incidents": pulsepoint,
    "mo_st_louis_slmpd_calls_for_service": st_louis,
    "ar_little_rock_lrpd_dispatch_log": little_rock,
    "mo_columbia_911_dispatch_pd_fire": columbia,
    "fl_escambia_county_so_smartwebclient_cadview": escambia,
    "tn_hamilton_county_hc911_active_calls": hamilton,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else CAPTURES
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["feed", "value", "count"])
    for folder, read in READERS.items():
        for value, count in sorted(read(root / folder).items()):
            writer.writerow([folder, value, count])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
