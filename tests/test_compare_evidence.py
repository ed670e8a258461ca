"""The report's claims, recomputed independently from calls.csv, the runs and the configs.

Nothing here imports the comparison's measuring code: each expected number is
counted again from the exported ``calls.csv`` (read with the csv module), the
store's ``runs`` table (plain sqlite3) and the YAML configs, then compared with
what ``comparison.csv``, ``withheld.csv`` and ``report.html`` say.
"""

# ruff: noqa: F811  (the shared fixtures of test_compare, imported by name)
from __future__ import annotations

import csv
import html
import re
import sqlite3
from collections import defaultdict
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cfs_spiders.compare import report
from cfs_spiders.config.loader import ConfigError, load_config
from cfs_spiders.store.base import RUNS_FROM  # noqa: F401
from tests.conftest import ROOT
from tests.test_compare import cfs_run, long, wide, withheld  # noqa: F401  (shared fixtures)

CHICAGO = "il_chicago_oemc"
CONFIGS = ROOT / "city_configs"
# Element -> calls.csv columns of which one must be non-empty (the definition the
# project documents in docs/VOCABULARY.md, written out again here).
CARRIES = {
    "id": ("call_id",),
    "call_type": ("call_type_raw", "call_type_code_raw"),
    "priority": ("priority_raw",),
    "status": ("status_raw",),
    "disposition": ("disposition_raw",),
    "call_source": ("source_raw",),
}
PHRASE = {
    "id": "a call id",
    "call_type": "the call type",
    "priority": "the call's priority",
    "status": "the call's status",
    "disposition": "the disposition (how the call ended)",
    "call_source": "the call's source (911, officer-initiated, ...)",
}


@pytest.fixture(scope="module")
def out(cfs_run: dict) -> Path:
    return cfs_run["output"]


@pytest.fixture(scope="module")
def calls(out: Path) -> list[dict[str, str]]:
    with open(out / "calls.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(CONFIGS.glob("*.yaml"))
    }


@pytest.fixture(scope="module")
def page(out: Path) -> str:
    return (out / "report.html").read_text(encoding="utf-8")


def page_text(text: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def by_feed(calls: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for c in calls:
        grouped[c["feed_id"]].append(c)
    return grouped


def place_of(cfg: dict) -> str:
    return f"{cfg['city']}, {cfg['state']}"


# --------------------------------------------------------------- the places
def test_findings_count_places_recomputed_from_calls_csv(
    calls: list[dict[str, str]], configs: dict[str, dict], page: str
) -> None:
    feeds = by_feed(calls)
    places: dict[str, list[str]] = defaultdict(list)
    for feed_id in feeds:
        places[place_of(configs[feed_id])].append(feed_id)
    n = len(places)
    assert n < len(feeds)  # several feeds share a place: counting feeds differs
    text = page_text(page)
    for element, columns in CARRIES.items():
        publishing = 0
        for ids in places.values():
            best = max(
                sum(1 for c in feeds[f] if any(c[col] for col in columns))
                / len(feeds[f])
                for f in ids
            )
            publishing += best >= 0.95
        sentence = f"{publishing} of {n} places publish {PHRASE[element]} for at"
        assert sentence in text, (element, sentence)


def test_withheld_counts_places_with_the_same_rule(
    calls: list[dict[str, str]], configs: dict[str, dict], withheld: pd.DataFrame
) -> None:
    feeds = by_feed(calls)
    places = {place_of(configs[f]) for f in feeds}
    priority = sorted(
        {
            place_of(configs[f])
            for f, rows in feeds.items()
            if sum(1 for c in rows if c["priority_raw"]) / len(rows) >= 0.95
        }
    )
    row = withheld.loc["priority"]
    assert row.places_measured_n == str(len(places))
    assert row.places_publishing_n == str(len(priority))
    assert row.places_publishing.split(";") == priority


# ------------------------------------------------------ evidence-based checks
def test_san_antonio_counts_as_block_level(
    calls: list[dict[str, str]],
    wide: pd.DataFrame,
    withheld: pd.DataFrame,
    configs: dict[str, dict],
) -> None:
    rows = [c for c in calls if c["feed_id"] == "tx_san_antonio_police_calls"]
    numbers = [
        m.group(1)
        for c in rows
        if (m := re.match(r"^\s*(\d+)\s+[A-Z]", c["address_raw"]))
    ]
    ending = sum(1 for x in numbers if x.endswith("00"))
    assert len(numbers) > 100 and ending / len(numbers) > 0.99  # hundred blocks
    row = wide.loc["tx_san_antonio_police_calls"]
    assert row.address_finest == "block"
    assert row.address_share_exact == "0.0"
    policy = configs["tx_san_antonio_police_calls"]["location_policy"]["address"]
    if policy == "exact":  # the evidence check must overrule the config
        assert "house numbers classed exact end in 00" in row.address_correction
    assert "tx_san_antonio_police_calls" not in withheld.loc[
        "address", "finest_published_by"
    ].split(";")


def test_block_labels_with_a_house_number_are_flagged(
    calls: list[dict[str, str]], wide: pd.DataFrame, page: str
) -> None:
    pattern = re.compile(r"\bBLOCK\s+\d+\s+\S", re.IGNORECASE)
    hits = [
        c["address_raw"]
        for c in calls
        if c["feed_id"] == "fl_clearwater_police_active_calls"
        and c["address_granularity"] == "block"
        and pattern.search(c["address_raw"])
    ]
    assert hits  # `-1000 BLOCK 1170 GULF BLVD` and the like, in the capture
    row = wide.loc["fl_clearwater_police_active_calls"]
    assert row.address_block_label_with_number_n == str(len(hits))
    assert f"{len(hits)} block-level addresses still carry a house number" in (
        page_text(page)
    )


def test_first_seen_before_received_is_flagged(
    calls: list[dict[str, str]], wide: pd.DataFrame
) -> None:
    early: dict[str, int] = defaultdict(int)
    for c in calls:
        first, received = c["first_seen_utc"], c["received_at_utc"]
        if first and received and first < received:  # both ISO, UTC, 'Z'
            early[c["feed_id"]] += 1
    assert early["tx_san_antonio_police_calls"] == 14
    assert early["ny_monroe_county_911_incidents"] == 6
    for feed_id, n in early.items():
        assert wide.loc[feed_id, "first_seen_before_received_n"] == str(n)
        assert (
            "first seen is a lower bound"
            in (wide.loc[feed_id, "first_seen_before_received_note"])
        )


# ------------------------------------------------------------------- evidence
class Banner(HTMLParser):
    """The banner's run mode and each feed's evidence dates, as the page shows."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = ""
        self.feeds: dict[str, dict[str, str]] = {}
        self._in: str | None = None
        self._feed: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if a.get("id") == "run-mode":
            self._in = "mode"
        if tag == "li" and "data-feed" in a:
            self._feed = a["data-feed"]
            self.feeds[self._feed] = {"first": "", "last": ""}
        if a.get("class") in ("ev-first", "ev-last"):
            self._in = a["class"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("b", "span"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "mode":
            self.mode += data
        elif self._in in ("ev-first", "ev-last") and self._feed:
            self.feeds[self._feed][self._in[3:]] += data


def check_banner(text: str, db: Path) -> None:
    """Fail unless the page states the run mode and every feed's evidence dates,
    as recounted from the store's runs table."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            f"SELECT feed_id, mode, MIN(fetched_at), MAX(fetched_at) FROM {RUNS_FROM} "
            "WHERE status IN ('ok','degraded') AND records > 0 "
            "GROUP BY feed_id, mode"
        ).fetchall()
    parser = Banner()
    parser.feed(text)
    modes = {m for _, m, _, _ in rows}
    assert modes, "no runs"
    assert parser.mode.startswith("Run mode:"), "the report omits the run mode"
    for mode in modes:
        assert mode.upper() in parser.mode, f"run mode {mode} missing"
    for feed_id, _, first, last in rows:
        shown = parser.feeds.get(feed_id)
        assert shown, f"{feed_id}: no evidence dates in the report"
        assert shown["first"] == first, (feed_id, shown, first)
        assert shown["last"] == last, (feed_id, shown, last)


def test_report_states_run_mode_and_every_feeds_evidence_dates(
    cfs_run: dict, page: str
) -> None:
    check_banner(page, cfs_run["db"])


def test_the_banner_check_fails_when_a_date_or_the_mode_is_missing(
    cfs_run: dict, long: pd.DataFrame, wide: pd.DataFrame, withheld: pd.DataFrame
) -> None:
    w = wide.reset_index().copy()
    w.loc[w.feed_id == "tx_dallas_police_active_calls", "evidence_last"] = ""
    page = report.render_html(
        long=long, wide=w, withheld=withheld.reset_index(), heatmap=b"\x89PNG"
    )
    with pytest.raises(AssertionError, match="tx_dallas"):
        check_banner(page, cfs_run["db"])
    good = report.render_html(
        long=long,
        wide=wide.reset_index(),
        withheld=withheld.reset_index(),
        heatmap=b"\x89PNG",
    )
    with pytest.raises(AssertionError, match="run mode"):
        check_banner(good.replace('id="run-mode"', 'id="x"'), cfs_run["db"])


def test_evidence_columns_describe_the_capture(
    wide: pd.DataFrame, configs: dict[str, dict]
) -> None:
    for feed_id, cfg in configs.items():
        if feed_id == CHICAGO or wide.loc[feed_id, "evidence"] != "measured":
            continue
        row = wide.loc[feed_id]
        capture = cfg["capture"]
        if capture.get("filter"):
            assert row.capture_kind_label == "filtered sample", feed_id
        elif capture["kind"].startswith("raw"):
            assert row.capture_kind_label.startswith("publisher response"), feed_id
        elif capture["kind"] in ("reexport", "partial"):
            assert row.capture_kind_label.startswith("third-party re-export"), feed_id
        assert row.run_mode == "replay"
        assert row.last_live_fetch == ""  # a replay run fetched nothing live
        assert row.capture_origin_url.startswith("https://"), feed_id
    assert "filtered sample" in wide.loc["wa_seattle_police_calls", "evidence_marks"]
    assert "years old" in wide.loc["tx_dallas_police_active_calls", "evidence_marks"]


def test_durations_withheld_when_runs_cannot_measure_them(wide: pd.DataFrame) -> None:
    # Clearwater's 52 snapshots are 7.6 to 124 minutes apart against a 5-minute
    # cadence; Portland has two captures only.
    clear = wide.loc["fl_clearwater_police_active_calls"]
    assert float(clear.run_spacing_min_minutes) == pytest.approx(7.6, abs=0.1)
    assert float(clear.run_spacing_max_minutes) == pytest.approx(123.6, abs=0.2)
    assert "more than 2x the 5-minute cadence" in clear.timing_withheld
    assert (
        "only 2 run(s)" in wide.loc["or_portland_boec_911_incidents", "timing_withheld"]
    )
    assert "rolled off" in wide.loc["tx_san_antonio_police_calls", "leaving_means"]


# -------------------------------------------------------------------- Chicago
def test_every_chicago_claim_has_a_url_a_date_and_words(
    configs: dict[str, dict], page: str
) -> None:
    cfg = configs[CHICAGO]
    assert date.fromisoformat(cfg["as_of"]) <= date.today()
    text = page_text(page)
    for element, claim in cfg["elements"].items():
        if claim["status"] == "unknown":  # no claim made, and the page says so
            continue
        assert claim["citations"], element
        for cite in claim["citations"]:
            assert cite["url"].startswith(("http://", "https://"))
            assert date.fromisoformat(cite["accessed"]) <= date.today()
            assert cite["quote"].strip() and cite["title"].strip()
            assert f'href="{html.escape(cite["url"])}"' in page
            assert cite["quote"] in text, (element, cite["quote"])
    assert cfg["elements"]["address"]["levels"] == {
        "exact": "withheld",
        "block": "foia_only",
        "intersection": "foia_only",
        "area": "published_aggregate",
    }


def test_a_citation_without_url_is_refused_naming_the_file(tmp_path: Path) -> None:
    doc = yaml.safe_load((CONFIGS / f"{CHICAGO}.yaml").read_text(encoding="utf-8"))
    del doc["elements"]["priority"]["citations"][0]["url"]
    bad = tmp_path / "synthetic_chicago.yaml"
    bad.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match="synthetic_chicago"):
        load_config(bad)


# ---------------------------------------------------------------- data package
def test_datapackage_has_created_version_licenses_sources(cfs_run: dict) -> None:
    import json

    doc = json.loads((cfs_run["output"] / "datapackage.json").read_text())
    assert doc["created"].endswith("Z")
    assert doc["version"] and doc["version"] != "unknown"
    assert any("PDDL" in lic["title"] for lic in doc["licenses"])
    assert any(
        s.get("path", "").startswith("https://data.sf.gov") for s in doc["sources"]
    )


def test_an_element_the_capture_cannot_carry_reads_not_in_capture(
    wide: pd.DataFrame, configs: dict[str, dict], page: str
) -> None:
    lacking = {
        (f, e)
        for f, cfg in configs.items()
        for e in (cfg.get("capture") or {}).get("lacks") or ()
    }
    assert ("tx_san_antonio_police_calls", "coordinates") in lacking
    for feed_id, element in lacking:
        row = wide.loc[feed_id]
        if row[f"{element}_fill_rate"] in ("", "0.0"):
            assert row[element] == "not in capture"
            assert row[f"{element}_agreement"] == "not in capture"
    assert "Not in capture (unknown whether published): coordinates" in page


# ------------------------------------------------------------- store, changes
def test_comparison_tables_in_the_store_keep_codes_as_text(cfs_run: dict) -> None:
    with sqlite3.connect(cfs_run["db"]) as con:
        first = con.execute("SELECT sentence FROM findings WHERE n = '1'").fetchone()
        types = {r[2] for r in con.execute("PRAGMA table_info(comparison)")}
        n = con.execute("SELECT COUNT(*) FROM comparison").fetchone()[0]
        zips = con.execute(
            "SELECT COUNT(*) FROM withheld WHERE element = 'area'"
        ).fetchone()[0]
    assert first and "places publish an address" in first[0]
    assert types == {"TEXT"}
    assert n == len(load_all_feeds()) and zips == 1


def load_all_feeds() -> list[str]:
    return [p.stem for p in CONFIGS.glob("*.yaml")]


def test_changes_csv_records_a_level_that_changed(
    cfs_run: dict, tmp_path: Path
) -> None:
    import shutil

    from cfs_spiders.compare import run

    db = tmp_path / "cfs.sqlite"
    shutil.copy(cfs_run["db"], db)
    with sqlite3.connect(db) as con:  # synthetic: a previous comparison said so
        con.execute(
            "UPDATE comparison SET priority = 'not_published' "
            "WHERE feed_id = 'tx_dallas_police_active_calls'"
        )
    run.run_compare(database_url=str(db), output=tmp_path / "out")
    with open(tmp_path / "out" / "changes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["feed_id"], r["element"], r["before"], r["after"]) for r in rows] == [
        ("tx_dallas_police_active_calls", "priority", "not_published", "published")
    ]
    run.run_compare(database_url=str(db), output=tmp_path / "out2")
    with open(tmp_path / "out2" / "changes.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 1  # kept, nothing new


def test_codes_are_typed_as_text_in_the_data_package(cfs_run: dict) -> None:
    import json

    doc = json.loads((cfs_run["output"] / "datapackage.json").read_text())
    fields = {
        f["name"]: f["type"]
        for r in doc["resources"]
        if r["name"] == "calls"
        for f in r["schema"]["fields"]
    }
    codes = [
        n for n in fields if n.startswith("area_") or n in ("call_id", "record_key")
    ]
    assert "area_zip" in codes and "area_box" in codes
    assert {fields[n] for n in codes} == {"string"}
    # read as the package says, a ZIP keeps its leading zero
    frame = pd.read_csv(
        cfs_run["output"] / "calls.csv",
        dtype={n: "string" for n in codes},
        keep_default_na=False,
    )
    zips = [z for z in frame["area_zip"] if z]
    assert zips and all(len(z) == 5 for z in zips)


def test_the_00_check_lowers_exact_only_on_enough_evidence() -> None:
    from cfs_spiders.compare import evidence

    # synthetic rows: 25 hundred-block numbers classed exact, then one real number
    rows = [
        {"address_granularity": "exact", "address_raw": f"{i}00 MAIN ST"}
        for i in range(1, 26)
    ]
    ending, total = evidence.rounded_house_numbers(rows)
    assert (ending, total) == (25, 25)
    assert evidence.lowers_exact_to_block(ending, total)
    rows += [
        {"address_granularity": "exact", "address_raw": f"{i}17 OAK AVE"}
        for i in range(1, 6)
    ]
    assert not evidence.lowers_exact_to_block(*evidence.rounded_house_numbers(rows))
    assert not evidence.lowers_exact_to_block(5, 5)  # too few to tell
