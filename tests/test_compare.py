"""The comparison exports, checked against counts made by hand from the captures.

Every expected number below was counted by reading the capture files in
``tests/fixtures/<feed_id>/`` (see the comment above each test), never taken from
the code's own output.
"""

from __future__ import annotations

import csv
import gzip
import html
import json
import os
import struct
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cfs_spiders.compare import constants, measure, report, run
from cfs_spiders.config import vocab
from cfs_spiders.config.loader import load_all
from cfs_spiders.exports.calls_csv import CALLS_COLUMNS
from tests.conftest import FIXTURES, ROOT, run_cfs

CHICAGO = "il_chicago_oemc"
OUTPUTS = (
    "comparison.csv",
    "comparison_long.csv",
    "withheld.csv",
    "heatmap.png",
    "report.html",
    "datapackage.json",
    "calls.csv",
)


@pytest.fixture(scope="session")
def cfs_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`cfs run --replay`: crawl every bundled capture, export, compare."""
    tmp = tmp_path_factory.mktemp("cfs_run")
    db, out = tmp / "cfs.sqlite", tmp / "output"
    proc = run_cfs(
        "--db", str(db), "--output", str(out), "run", "--replay", check=False
    )
    # 2 = some feed degraded; the comparison must still be written.
    assert proc.returncode in (0, 2), proc.stderr[-5000:]
    for name in OUTPUTS:
        assert (out / name).is_file(), f"{name} missing\n{proc.stderr[-3000:]}"
    return {"db": db, "output": out, "proc": proc}


@pytest.fixture(scope="session")
def wide(cfs_run: dict) -> pd.DataFrame:
    return pd.read_csv(
        cfs_run["output"] / "comparison.csv", dtype=str, keep_default_na=False
    ).set_index("feed_id")


@pytest.fixture(scope="session")
def long(cfs_run: dict) -> pd.DataFrame:
    return pd.read_csv(
        cfs_run["output"] / "comparison_long.csv", dtype=str, keep_default_na=False
    )


@pytest.fixture(scope="session")
def withheld(cfs_run: dict) -> pd.DataFrame:
    return pd.read_csv(
        cfs_run["output"] / "withheld.csv", dtype=str, keep_default_na=False
    ).set_index("element")


def num(value: str) -> float:
    return float(value)


# ------------------------------------------------------------------ the rows
def test_cfs_run_prints_the_paths_it_wrote(cfs_run: dict) -> None:
    for name in ("comparison.csv", "withheld.csv", "report.html", "datapackage.json"):
        assert f"wrote {cfs_run['output'] / name}" in cfs_run["proc"].stderr


def test_one_row_per_configured_feed_plus_chicago(wide: pd.DataFrame) -> None:
    configs, errors = load_all()
    assert not errors
    assert set(wide.index) == set(configs)
    assert CHICAGO in wide.index
    assert list(wide.index)[-1] == CHICAGO
    feeds = [c for c in configs.values() if c.has_feed]
    assert len(wide) == len(feeds) + 1
    for element in vocab.ELEMENTS:
        assert set(wide[element]) <= {
            *vocab.AVAILABILITY,
            constants.NO_DATA,
            constants.NOT_IN_CAPTURE,
            *constants.FORM_LEVELS,
        }


def test_dallas_hand_count(wide: pd.DataFrame) -> None:
    # are8-xahz.csv: 63 unit rows, 45 distinct incident_number values (one call
    # each). Every row has date_time, nature_of_call, priority (1-4: 4 distinct),
    # status ("At Scene"), unit_number, division/beat/reporting_area; there is no
    # latitude/longitude, no disposition, no source column. `block` is empty for
    # 7 incidents (18-0050321, 18-0052477, 18-0052501, 18-0052778, 18-0052798,
    # 18-0052862, 18-0052923: all "A / B" intersections), so 38 are block-level.
    row = wide.loc["tx_dallas_police_active_calls"]
    assert row.records_stored == "45"
    assert row.evidence == "measured"
    expected_fill = {
        "id": 1.0,
        "received_time": 1.0,
        "stage_times": 0.0,
        "address": 1.0,
        "coordinates": 0.0,
        "call_type": 1.0,
        "priority": 1.0,
        "status": 1.0,
        "disposition": 0.0,
        "call_source": 0.0,
        "area": 1.0,
        "units": 1.0,
    }
    for element, fill in expected_fill.items():
        assert num(row[f"{element}_fill_rate"]) == pytest.approx(fill), element
    assert row.coordinates == "not_published"
    assert row.priority == "published"
    assert row.priority_distinct_values == "4"
    assert row.id_distinct_values == "45"
    assert num(row.address_share_block) == pytest.approx(38 / 45, abs=1e-4)
    assert num(row.address_share_intersection) == pytest.approx(7 / 45, abs=1e-4)
    assert num(row.address_share_exact) == 0
    assert row.address_finest == "block"
    # Times like 2018-01-09T09:26:00.000: every one ends in :00.
    assert row.received_time_resolution == "minutes"
    assert row.platform == "socrata" and row.liveness == "live"
    assert row.received_first == "2018-01-09T02:59:00Z"  # 2018-01-08 20:59 CST
    assert row.received_last == "2018-01-09T15:26:00Z"  # 2018-01-09 09:26 CST
    # One snapshot: nothing can be said about time on feed or delay.
    assert row.time_on_feed_n == "0" and row.publication_delay_n == "0"
    assert row.time_on_feed_median_minutes == ""
    assert row.disagreements == ""


def test_seattle_police_hand_count(wide: pd.DataFrame) -> None:
    # db_call_data_2018-2023.csv: 222 rows, 222 distinct CAD Event Numbers. No
    # address column (the policy withholds it); Blurred_Latitude/Longitude on all
    # 222; Arrived Time blank on 36 rows (186 carry it); Call Type on all rows with
    # 4 values (911, TELEPHONE OTHER NOT 911, ALARM CALL, ONVIEW); Priority and
    # Event Clearance Description on all rows; one beat (C3).
    row = wide.loc["wa_seattle_police_calls"]
    assert row.records_stored == "222"
    assert num(row.address_fill_rate) == 0
    assert row.address == "withheld"
    assert row.address_measured == "withheld"
    assert row.address_agreement == "agree"
    assert num(row.address_share_withheld) == 1.0
    assert num(row.coordinates_fill_rate) == 1.0
    assert row.coordinates_finest == "blurred"
    assert num(row.stage_times_fill_rate) == pytest.approx(186 / 222, abs=1e-4)
    assert row.stage_times == "partial"
    assert num(row.call_source_fill_rate) == 1.0
    assert row.call_source_distinct_values == "4"
    assert num(row.priority_fill_rate) == 1.0
    assert num(row.disposition_fill_rate) == 1.0
    assert row.received_time_resolution == "seconds"  # 11/04/2023 6:08:26 PM
    # Documented "published" for stage times, but 36 calls have no arrived time.
    assert row.stage_times_documented == "published"
    assert row.stage_times_documentation_url.startswith("https://data.seattle.gov")
    assert row.stage_times_agreement == "disagree"
    assert "stage_times: documented published, measured partial" in row.disagreements


def test_portland_timing_hand_count(wide: pd.DataFrame) -> None:
    # Two snapshots of the window of 100 most recent incidents, <updated>
    # 14:58:29 and 16:36:52 PST (98.4 minutes apart). 61 ids of the first are not
    # in the second (they rolled off, each seen once), 61 ids of the second are
    # new; 161 distinct ids in all. The 61 new calls' <published> times are 15.8 to
    # 183.4 minutes before 16:36:52, median 86.97; all but a few were received
    # before 14:58:29, so the lower bound's median is 0.
    row = wide.loc["or_portland_boec_911_incidents"]
    assert row.records_stored == "161"
    assert row.runs == "2"
    assert row.time_on_feed_n == "61"
    assert num(row.time_on_feed_median_minutes) == 0
    assert num(row.time_on_feed_upper_median_minutes) == pytest.approx(98.4, abs=0.1)
    assert row.publication_delay_n == "61"
    assert num(row.publication_delay_median_minutes) == pytest.approx(87.0, abs=0.1)
    assert num(row.publication_delay_lower_median_minutes) == 0


def test_history_capture_has_no_timing(wide: pd.DataFrame) -> None:
    # Two re-exports taken years apart are not consecutive polls of a listing.
    row = wide.loc["ca_san_francisco_fire_calls"]
    assert row.publication_delay_n == "0"
    assert row.time_on_feed_n == "0"  # history board: nothing leaves it


def test_chicago_row_comes_from_its_config(wide: pd.DataFrame) -> None:
    doc = yaml.safe_load((ROOT / "city_configs" / f"{CHICAGO}.yaml").read_text())
    row = wide.loc[CHICAGO]
    assert row.platform == "none"
    assert row.records_stored == "0"
    assert row.evidence.startswith("config without a feed")
    for element in vocab.ELEMENTS:
        spec = doc["elements"][element]
        assert row[f"{element}_documented"] == spec["status"]
        urls = {c["url"] for c in spec.get("citations") or ()}
        assert set(filter(None, row[f"{element}_documentation_url"].split(";"))) == urls
        assert row[f"{element}_source"] == spec["source"]
        assert row[f"{element}_measured"] == constants.NO_FEED
        assert row[element] == constants.CHICAGO_TO_AVAILABILITY[spec["status"]]
    assert row.address == "withheld"
    assert row.received_time == "foia_only"


def test_feeds_without_records_show_their_documented_levels(wide: pd.DataFrame) -> None:
    configs, _ = load_all()
    cfg = configs["la_new_orleans_calls_for_service"]
    row = wide.loc[cfg.feed_id]
    assert row.records_stored == "0"
    assert row.evidence.startswith("documented only")
    for element in vocab.ELEMENTS:
        assert row[f"{element}_measured"] == constants.NO_DATA
        assert row[element] == cfg["declared"][element]
        assert row[f"{element}_fill_rate"] == ""


# ------------------------------------------------------------------ withheld
def _capture_text(feed_id: str) -> str:
    parts = [
        (
            gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        ).decode("utf-8", errors="replace")
        for p in (FIXTURES / feed_id).iterdir()
        if p.is_file() and p.name not in ("manifest.yaml", "PROVENANCE.md")
    ]
    return "\n".join(parts)


def test_withheld_names_publishing_feeds_with_real_examples(
    withheld: pd.DataFrame, wide: pd.DataFrame, cfs_run: dict
) -> None:
    assert list(withheld.index) == list(vocab.ELEMENTS)
    calls = pd.read_csv(
        cfs_run["output"] / "calls.csv", dtype=str, keep_default_na=False
    )
    keyed = calls.set_index(["feed_id", "record_key"])
    for element, row in withheld.iterrows():
        chicago = wide.loc[CHICAGO, f"{element}_documented"]
        assert row.chicago_status == chicago
        assert row.chicago_source
        publishing = [
            f
            for f in wide.index
            if f != CHICAGO
            and wide.loc[f, f"{element}_measured"] in ("published", "partial")
        ]
        assert int(row.feeds_publishing_n) == len(publishing)
        named = [
            p.removesuffix(" (partial)") for p in row.feeds_publishing.split(";") if p
        ]
        assert sorted(named) == sorted(publishing)
        if chicago in ("withheld", "foia_only") and publishing:
            assert row.example_value, element
            assert row.example_feed in publishing
            # The example belongs to a stored call of that feed ...
            assert (row.example_feed, row.example_record_key) in keyed.index
            # ... and, for verbatim elements, is in the capture itself.
            if element in (
                "id",
                "received_time",
                "address",
                "call_type",
                "priority",
                "disposition",
                "call_source",
            ):
                text = _capture_text(row.example_feed)
                values = [row.example_value]
                if element == "address":  # address_raw [/ cross_street_raw]
                    call = keyed.loc[(row.example_feed, row.example_record_key)]
                    values = [v for v in (call.address_raw, call.cross_street_raw) if v]
                    assert row.example_value == " / ".join(values)
                for value in values:
                    assert value in text or html.escape(value) in text, (element, value)
    # Chicago withholds the address; the finest published elsewhere is exact.
    assert withheld.loc["address", "chicago_status"] == "withheld"
    assert withheld.loc["address", "finest_published"] == "exact"
    assert (
        "tx_dallas_police_active_calls" in withheld.loc["priority", "feeds_publishing"]
    )
    assert "wa_seattle_police_calls" in withheld.loc["call_source", "feeds_publishing"]


# ---------------------------------------------------------------- long form
def test_long_form_is_tidy_and_matches_the_wide_table(
    long: pd.DataFrame, wide: pd.DataFrame
) -> None:
    assert list(long.columns) == ["feed", "element", "metric", "value"]
    assert not long.duplicated(["feed", "element", "metric"]).any()
    assert set(long.feed) == set(wide.index)
    fill = long[(long.metric == "fill_rate") & (long.value != "")]
    for r in fill.itertuples():
        assert wide.loc[r.feed, f"{r.element}_fill_rate"] == r.value
    avail = long[long.metric == "availability"]
    for r in avail.itertuples():
        assert wide.loc[r.feed, r.element] == r.value


# ------------------------------------------------------------- data package
def test_datapackage_validates_with_frictionless(cfs_run: dict) -> None:
    from frictionless import Package

    path = cfs_run["output"] / "datapackage.json"
    descriptor = json.loads(path.read_text())
    names = {r["name"]: r for r in descriptor["resources"]}
    assert set(names) == {
        "calls",
        "changes",
        "comparison",
        "comparison_long",
        "withheld",
    }
    calls_fields = names["calls"]["schema"]["fields"]
    assert [f["name"] for f in calls_fields] == list(CALLS_COLUMNS)
    assert all(f.get("description") for f in calls_fields)
    with open(cfs_run["output"] / "comparison.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert [f["name"] for f in names["comparison"]["schema"]["fields"]] == header
    result = Package(str(path)).validate()
    assert result.valid, result.flatten(
        ["resourceName", "rowNumber", "fieldName", "type", "note"]
    )[:20]


# ------------------------------------------------------------------- report
def test_report_is_self_contained_with_a_row_per_feed(
    cfs_run: dict, wide: pd.DataFrame
) -> None:
    from html.parser import HTMLParser

    text = (cfs_run["output"] / "report.html").read_text(encoding="utf-8")

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.refs: list[str] = []
            self.rows = 0
            self.table: str | None = None
            self.in_body = False

        def handle_starttag(self, tag: str, attrs: list) -> None:
            a = dict(attrs)
            for key in ("src", "href"):
                if key in a and tag in ("img", "script", "link", "iframe", "source"):
                    self.refs.append(a[key])
            if tag == "table":
                self.table = a.get("id")
            if tag == "tbody":
                self.in_body = True
            if tag == "tr" and self.in_body and self.table == "comparison":
                self.rows += 1

        def handle_endtag(self, tag: str) -> None:
            if tag == "tbody":
                self.in_body = False

    parser = Collect()
    parser.feed(text)
    assert parser.refs and all(r.startswith("data:") for r in parser.refs)
    assert "<script" not in text
    assert parser.rows == len(wide)
    assert 'class="chicago"' in text
    # Chicago's address by precision step, never one word for the whole element.
    assert "in Chicago: exact withheld, block available only through a FOIA" in text
    png = (cfs_run["output"] / "heatmap.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 500 and height > 300


def test_report_escapes_values_from_feeds(
    long: pd.DataFrame, wide: pd.DataFrame, withheld: pd.DataFrame
) -> None:
    evil = '<img src=x onerror="alert(1)">&'
    w = wide.reset_index().copy()
    w.loc[0, "title"] = evil
    w.loc[0, "disagreements"] = evil
    wh = withheld.reset_index().copy()
    wh.loc[0, "example_value"] = evil
    lg = long.copy()
    lg.loc[(lg.element == "feed") & (lg.metric == "title"), "value"] = evil
    page = report.render_html(long=lg, wide=w, withheld=wh, heatmap=b"\x89PNG")
    assert evil not in page
    assert html.escape(evil, quote=True) in page


def test_findings_sentences(long: pd.DataFrame, withheld: pd.DataFrame) -> None:
    lines = report.findings(long, withheld)
    first = lines[0]
    assert "places publish an address at block level or finer" in first
    assert first.endswith(
        "in Chicago: exact withheld, block available only through a FOIA request, "
        "intersection available only through a FOIA request, area published only "
        "as counts."
    )
    assert not any(" feeds publish " in line for line in lines)  # places, not feeds


# ------------------------------------------------------------------- atomic
def test_failed_compare_leaves_previous_exports_intact(
    cfs_run: dict, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spreadsheet = [p.name for p in cfs_run["output"].glob("*_spreadsheet.csv")]
    for name in (*OUTPUTS, *spreadsheet):
        (out / name).write_bytes((cfs_run["output"] / name).read_bytes())
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(**_: object) -> str:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(report, "render_html", boom)
    with pytest.raises(RuntimeError):
        run.run_compare(database_url=str(cfs_run["db"]), output=out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(after) == set(before)  # no temp files left behind
    assert after["report.html"] == before["report.html"]
    assert after["datapackage.json"] == before["datapackage.json"]


def test_run_compare_returns_paths(cfs_run: dict, tmp_path: Path) -> None:
    paths = run.run_compare(database_url=str(cfs_run["db"]), output=tmp_path)
    assert {p.name for p in paths} == {
        "changes.csv",
        "comparison.csv",
        "comparison_long.csv",
        "withheld.csv",
        "heatmap.png",
        "report.html",
        "datapackage.json",
    }
    assert all(p.is_file() and p.parent == tmp_path for p in paths)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# -------------------------------------------------------------------- units
@pytest.mark.parametrize(
    ("raw", "utc", "flags", "expected"),
    [
        ("2018-01-09T09:26:00.000", "2018-01-09T15:26:00Z", None, "minutes"),
        ("11/04/2023 6:08:26 PM", "2023-11-05T02:08:26Z", None, "seconds"),
        ("1698352020000", "2023-10-26T20:27:00Z", None, "minutes"),
        ("1513", "2026-01-12T21:13:00Z", "received_at:time_only", "time_only"),
        ("2019-10-18", "2019-10-18T07:00:00Z", None, "date"),
        ("garbage 12:00", None, "received_at:unparsed", "unparsed"),
        (None, None, None, None),
    ],
)
def test_time_resolution(raw, utc, flags, expected) -> None:
    assert measure.time_resolution(raw, utc, flags) == expected


def test_measured_levels_and_agreement() -> None:
    assert measure.measured_level(0.95) == "published"
    assert measure.measured_level(0.9499) == "partial"
    assert measure.measured_level(0.0) == "not_published"
    assert measure.measured_level(None) == constants.NO_DATA
    assert (
        measure.measured_level(0.0, address_policy="withheld", element="address")
        == "withheld"
    )
    assert measure.agreement("withheld", "not_published") == "agree"
    assert measure.agreement("published", "partial") == "disagree"
    assert measure.agreement("not_published", "partial") == "disagree"
    assert measure.agreement(None, "published") == "not documented"
    # a coarser form agrees with documentation read as partial, not as published
    assert measure.agreement("partial", constants.TIME_OF_DAY_ONLY) == "agree"
    assert measure.agreement("published", constants.COUNT_ONLY) == "disagree"
    assert measure.agreement("published", constants.NO_DATA) == constants.NO_DATA
