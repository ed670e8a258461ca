"""Call-type categorization: crosswalks, general rules, the Vera benchmark.

The captures are read from the project's own tree (``tests/fixtures/<feed_id>/``,
byte-for-byte copies of ``shared/captures``) so the tests do not depend on
anything outside the repository.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import FrozenInstanceError
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.config import vocab
from cfs_spiders.normalize import call_type, rules
from cfs_spiders.normalize.call_type import (
    CategoryResult,
    CrosswalkError,
    categorize,
    crosswalk_version,
    load_crosswalk,
)

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
REF = FIX / "reference"
ATOM = "{http://www.w3.org/2005/Atom}"

# --- reading the captures -----------------------------------------------------

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
    records = list(READERS[feed_id](FIX / feed_id))
    assert records, f"no records read for {feed_id}"
    return records


def _apco_codes() -> set[str]:
    rows = _csv(REF / "apco_common_incident_types_2.103.2-2019.csv")
    return {r["code"].strip() for r in rows if r["code"].strip()}


# --- the contract of categorize ---------------------------------------------------


def test_result_is_frozen_slots_dataclass() -> None:
    res = categorize("SHOTS FIRED")
    assert isinstance(res, CategoryResult)
    assert not hasattr(res, "__dict__")
    with pytest.raises(FrozenInstanceError):
        res.category = "fire"  # type: ignore[misc]


def test_code_beats_description_beats_rule() -> None:
    fid = "tx_dallas_police_active_calls"
    # Code row: 46A is a Crisis Intervention Team call, whatever the text says.
    by_code = categorize("Burglary in progress", feed_id=fid, code="46A")
    assert (by_code.category, by_code.basis) == ("mental_health", "crosswalk")
    # Description row (case and whitespace do not matter).
    by_desc = categorize("  46a -  cit W/AMBULANCE ", feed_id=fid)
    assert (by_desc.category, by_desc.basis) == ("mental_health", "crosswalk")
    # Unknown code and description: the rules decide, and say so.
    by_rule = categorize("41/11B - Burg Busn In Progress", feed_id=fid, code="ZZ9")
    assert (by_rule.category, by_rule.basis) == ("property_crime", "rule")
    # The rules alone would call 46A medical (ambulance): the crosswalk wins.
    assert categorize("46A - CIT w/Ambulance").category == "medical"


def test_unmapped_is_reported_not_guessed() -> None:
    res = categorize("zxqv 123")
    assert res == CategoryResult("unmapped", "unmapped", None, None)
    assert categorize(None).category == "unmapped"
    assert categorize("", feed_id="tn_nashville_police_calls").basis == "unmapped"


def test_code_only_record_uses_code_row() -> None:
    res = categorize(None, feed_id="tn_nashville_police_calls", code="3")
    assert (res.category, res.basis, res.confidence) == (
        "administrative",
        "crosswalk",
        "low",
    )


def test_feed_without_crosswalk_uses_rules() -> None:
    assert load_crosswalk("no_such_feed").version is None
    assert crosswalk_version("no_such_feed") is None
    assert categorize("Traffic Stop", feed_id="no_such_feed").basis == "rule"


def test_feed_id_cannot_escape_the_directory() -> None:
    for bad in ("../../etc/passwd", "/etc/passwd", "a/b", "", "A" * 500):
        assert len(load_crosswalk(bad)) == 0
    assert categorize("FIRE", feed_id="../wa_seattle_police_calls").basis == "rule"


def test_cache_makes_repeats_free() -> None:
    call_type._categorize.cache_clear()
    for _ in range(50):
        categorize("Aid Response", feed_id="wa_seattle_fire_realtime911")
    info = call_type._categorize.cache_info()
    assert info.misses == 1 and info.hits == 49


text_like = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.binary(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.sampled_from(["", " ", "\x00", "911", "46A", "(", "NO", "NON-", "&&"]),
)


@settings(max_examples=300, deadline=None)
@given(raw=text_like, code=text_like, feed=st.one_of(st.sampled_from(FEEDS), text_like))
def test_categorize_never_raises(raw: object, code: object, feed: object) -> None:
    res = categorize(raw, feed_id=feed, code=code)
    assert res.category in vocab.CALL_TYPE_CATEGORIES
    assert res.basis in vocab.CATEGORY_BASIS
    assert (res.category == "unmapped") == (res.basis == "unmapped")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_rules_are_total(text: str) -> None:
    match = rules.classify(text)
    assert match is None or match.category in vocab.CALL_TYPE_CATEGORIES
    norm = rules.normalize_text(text)
    assert norm == norm.strip() and "  " not in norm


def test_unhashable_and_odd_inputs() -> None:
    assert categorize(["SHOTS FIRED"]).basis in vocab.CATEGORY_BASIS
    assert categorize({"a": 1}, feed_id=["x"], code={1}).basis in vocab.CATEGORY_BASIS
    assert categorize(b"SHOTS FIRED").category == "weapons_shots"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert categorize(Broken()).category == "unmapped"


def test_malformed_crosswalk_falls_back_to_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_feed.csv").write_text(
        "# version: 1\nraw_field,raw_value,category,apco_code,confidence,note\n"
        "call_type_raw,SHOTS FIRED,not_a_category,,high,\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(call_type, "CROSSWALK_DIR", tmp_path)
    load_crosswalk.cache_clear()
    call_type._categorize.cache_clear()
    try:
        with pytest.raises(CrosswalkError, match="not_a_category"):
            load_crosswalk("broken_feed")
        res = categorize("SHOTS FIRED", feed_id="broken_feed")
        assert (res.category, res.basis) == ("weapons_shots", "rule")
        assert crosswalk_version("broken_feed") is None
    finally:
        load_crosswalk.cache_clear()
        call_type._categorize.cache_clear()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("raw_field,raw_value,category,apco_code,confidence,note\n", "version"),
        ("# version: 1\nraw_value,category\n", "missing column"),
        (
            "# version: 1\nraw_field,raw_value,category,apco_code,confidence,note\n"
            "call_type_raw,X,fire,,sure,\n",
            "confidence",
        ),
        (
            "# version: 1\nraw_field,raw_value,category,apco_code,confidence,note\n"
            "other_field,X,fire,,high,\n",
            "raw_field",
        ),
        (
            "# version: 1\nraw_field,raw_value,category,apco_code,confidence,note\n"
            "call_type_raw,X,fire,,high,\ncall_type_raw,x ,medical,,high,\n",
            "conflicts",
        ),
        (
            "# version: 1\nraw_field,raw_value,category,apco_code,confidence,note\n"
            "call_type_raw,X,unmapped,,high,\n",
            "category",
        ),
    ],
)
def test_parser_is_strict(text: str, problem: str) -> None:
    with pytest.raises(CrosswalkError, match=problem):
        call_type._parse("t", text, "t.csv")


# --- the crosswalk files ------------------------------------------------------------


@pytest.mark.parametrize("feed_id", FEEDS)
def test_crosswalk_file_is_valid(feed_id: str) -> None:
    path = call_type.CROSSWALK_DIR / f"{feed_id}.csv"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# version: 1"
    xwalk = load_crosswalk(feed_id)
    assert crosswalk_version(feed_id) == "1"
    assert len(xwalk) > 0
    apco = _apco_codes()
    for row in [*xwalk.by_code.values(), *xwalk.by_description.values()]:
        assert row.category in vocab.CALL_TYPE_CATEGORIES
        assert row.category != "unmapped"
        assert row.apco_code is None or row.apco_code in apco, row
        if row.confidence == "low":
            assert row.note, f"low-confidence row needs a note: {row}"


@pytest.mark.parametrize("feed_id", FEEDS)
def test_every_captured_call_type_is_in_the_crosswalk(feed_id: str) -> None:
    records = capture_records(feed_id)
    results = [categorize(raw, feed_id=feed_id, code=code) for raw, code in records]
    missing = sorted(
        {
            (raw, code)
            for (raw, code), res in zip(records, results, strict=True)
            if (raw or code) and res.basis != "crosswalk"
        },
        key=str,
    )
    assert not missing, f"{feed_id}: values without a crosswalk row: {missing}"
    mapped = sum(res.category != "unmapped" for res in results)
    assert mapped / len(results) >= 0.95, f"{feed_id}: {mapped}/{len(results)}"


def test_capture_samples_land_where_domain_says() -> None:
    cases = {
        ("wa_seattle_fire_realtime911", "Auto Fire Alarm"): "fire",
        ("wa_seattle_fire_realtime911", "Automatic Medical Alarm"): "medical",
        ("wa_seattle_police_calls", "--ALARM-RESIDENTIAL BURG"): "alarm",
        ("wa_seattle_police_calls", "--THEFT - CAR PROWL"): "property_crime",
        ("tx_dallas_police_active_calls", "11V - Burg Motor Veh"): "property_crime",
        ("tx_dallas_police_active_calls", "38 - Meet Complainant"): "assist_public",
        ("ca_san_francisco_fire_calls", "Alarms"): "fire",
        ("fl_clearwater_police_active_calls", "PARK WALK AND TALK"): (
            "proactive_patrol"
        ),
        ("fl_clearwater_police_active_calls", "911 HANG-UP"): "call_problem",
        ("la_caddo_911_active_events", "CADDO FIRE DISTRICT"): "fire",
        ("ca_san_francisco_police_calls_legacy", "22500e"): "traffic_hazard_parking",
        ("ca_san_francisco_police_calls_legacy", "601"): "other_crime",
        ("ny_monroe_county_911_incidents", "Barking dogs"): "animal",
    }
    for (fid, raw), want in cases.items():
        assert categorize(raw, feed_id=fid).category == want, (fid, raw)
    caddo = categorize("CADDO FIRE DISTRICT", feed_id="la_caddo_911_active_events")
    assert caddo.confidence == "low"
    sf = categorize("anything", feed_id="ca_san_francisco_police_dispatched_realtime")
    assert sf.basis != "crosswalk"
    by_code = categorize(
        "anything", feed_id="ca_san_francisco_police_dispatched_realtime", code="418DV"
    )
    assert (by_code.category, by_code.basis) == ("domestic", "crosswalk")


# --- the general rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("BURG MOTOR VEH", "property_crime"),
        ("11V/01 - BURG MOTOR VEH", "property_crime"),
        ("BMV", "property_crime"),
        ("--THEFT - CAR PROWL", "property_crime"),
        ("MOTOR VEHICLE ACCIDENT", "traffic_collision"),
        ("MOTOR VEH", "traffic_hazard_parking"),
        ("FIRE ALARM", "fire"),
        ("ALARM", "alarm"),
        ("BURGLAR ALARM, SILENT", "alarm"),
        ("HOLD UP ALARM", "alarm"),
        ("MEDICAL ALARM", "medical"),
        ("SHOTS FIRED", "weapons_shots"),
        ("SHOTS FIRED IP", "weapons_shots"),
        ("DOMESTIC DISTURBANCE", "domestic"),
        ("TRAFFIC STOP", "traffic_enforcement"),
        ("Officer Traffic Stop", "traffic_enforcement"),
        ("DUI - DRIVING UNDER INFLUENCE", "traffic_enforcement"),
        ("PREMISE CHECK", "proactive_patrol"),
        ("DIRECTED PATROL", "proactive_patrol"),
        ("PARK WALK AND TALK", "proactive_patrol"),
        ("Patrol By", "proactive_patrol"),
        ("BUSINESS CHECK", "proactive_patrol"),
        ("911 HANG-UP", "call_problem"),
        ("OPEN LINE", "call_problem"),
        ("UNKNOWN TROUBLE", "call_problem"),
        ("ASSAULT -OFFENSIVE CONTACT", "violent_crime"),
        ("ASSAULT -VERBAL THREAT", "other_crime"),
        ("FIGHT", "disturbance"),
        ("THEFT OF FIREARM", "property_crime"),
        ("WARRANT DALLAS PD (MURDER)", "warrant"),
        ("SUICIDE THREAT", "mental_health"),
        ("OVERDOSE - DRUG RELATED CASUALTY", "medical"),
        ("MISSING PROPERTY", "assist_public"),
        ("MISSING JUVENILE", "missing_person"),
        ("TRAFFIC HAZARD", "traffic_hazard_parking"),
        ("GAS LEAK", "hazard_rescue"),
        ("BOMB THREAT", "other_crime"),
        ("CHILD - ABAND, ABUSED, MOLESTED, NEGLECTED", "domestic"),
        ("CURFEW VIOLATION", "juvenile_status"),
        ("VEHICLE ACCIDENT - PROPERTY DAMAGE", "traffic_collision"),
        ("FIREWORKS", "disturbance"),
        ("6G - RANDOM GUN FIRE", "weapons_shots"),
        ("MEET COMPLAINANT", "assist_public"),
        ("HELP THE OFFICER", "officer_agency_assist"),
    ],
)
def test_rule_examples(text: str, category: str) -> None:
    match = rules.classify(text)
    assert match is not None and match.category == category, (text, match)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Negated qualifiers do not fire their keyword.
        ("FIGHT - IP - PHYSICAL (NO WEAPONS)", "disturbance"),
        ("SHOTS - IP/JO - INCLUDES HEARD/NO ASSAULT", "weapons_shots"),
        ("ASSIST PUBLIC - NO WELFARE CHK OR DV ORDER SER...", "assist_public"),
        ("WEAPN - GUN,DEADLY WPN (NO THRTS/ASLT/DIST)", "weapons_shots"),
        ("INJURED PERSON - AT HOME (OTHER THAN FIREARM)", "medical"),
        ("Hit and Run, no injury and no blocking", "traffic_collision"),
        ("--BURGLARY - NON RESIDENTIAL/COMMERCIAL", "property_crime"),
        ("NO PARKING ZONE", "traffic_hazard_parking"),
    ],
)
def test_negations_are_ignored(text: str, category: str) -> None:
    match = rules.classify(text)
    assert match is not None and match.category == category, (text, match)


def test_rule_table_is_valid() -> None:
    apco = _apco_codes()
    names = [r.name for r in rules.RULES]
    assert len(names) == len(set(names))
    for rule in rules.RULES:
        assert rule.category in vocab.CALL_TYPE_CATEGORIES
        assert rule.category != "unmapped"
        assert rule.apco_code is None or rule.apco_code in apco, rule.name
        assert rule.confidence in ("high", "medium", "low")


def _literal_alternatives(rule: rules.Rule) -> list[str]:
    """Top-level alternatives of a rule that are plain words (no regex)."""
    body = rule.pattern[len(r"\b(?:") : -len(r")\b")]
    alts = re.findall(r"\(\?:(.*?)\)(?=\||$)", body)
    return [a for a in alts if re.fullmatch(r"[A-Z0-9& ]+", a)]


def test_rules_are_keywords_not_a_lookup_of_vera() -> None:
    """No rule spells out a whole multi-word Vera value: the rules must be
    general keywords, or the leave-one-out benchmark would be circular."""
    vera = {
        rules.normalize_text(r["Field 1"]) for r in _csv(REF / "vera_call_types.csv")
    }
    offenders = [
        (rule.name, alt)
        for rule in rules.RULES
        for alt in _literal_alternatives(rule)
        if len(alt.split()) >= 3 and alt in vera
    ]
    assert not offenders, offenders


# --- the Vera benchmark ---------------------------------------------------------------


def _load_bench():
    path = ROOT / "bench" / "vera_leave_one_out.py"
    spec = importlib.util.spec_from_file_location("vera_leave_one_out", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load_bench()


@pytest.fixture(scope="module")
def bench_result(bench):
    return bench.run_benchmark()


def test_benchmark_meets_target_per_city(bench, bench_result) -> None:
    assert set(bench_result.cities) == {"New Orleans", "Seattle", "Detroit", "Dallas"}
    for city in bench_result.cities.values():
        assert city.counted_calls > 0
        assert city.agreement >= 0.85, (city.city, city.agreement)
        assert city.excluded_total + city.counted_calls == city.calls


def test_benchmark_reports_exclusions(bench_result) -> None:
    for city in bench_result.cities.values():
        reasons = set(city.excluded_calls)
        assert "no_counterpart:Statuses" in reasons
        assert "vera_unlabelled" in reasons
    # The known Vera errors named in DOMAIN.md are excluded, with counts.
    hits = bench_result.review_hits
    for entry_id in ("E01", "E03", "E04", "E05"):
        rows, calls = hits[entry_id]
        assert rows > 0 and calls > 0


def test_review_table_is_well_formed(bench) -> None:
    entries = bench.load_review()
    assert len(entries) >= 10
    for entry in entries:
        assert entry.reason and entry.project_category in vocab.CALL_TYPE_CATEGORIES


def test_stale_review_entry_is_an_error(bench, tmp_path: Path) -> None:
    text = (ROOT / "docs" / "VERA_REVIEW.md").read_text(encoding="utf-8")
    text = text.replace(
        "| E01 |",
        "| X99 | Dallas | Fire | NO SUCH VALUE | fire | vera_error | x |\n| E01 |",
    )
    bad = tmp_path / "review.md"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="X99"):
        bench.run_benchmark(review=bad)


def test_benchmark_command_prints_table(bench, capsys: pytest.CaptureFixture) -> None:
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    for city in ("New Orleans", "Seattle", "Detroit", "Dallas"):
        assert city in out
    assert "agree%" in out and "excluded" in out


def test_reference_copies_are_in_tree() -> None:
    for name in (
        "vera_call_types.csv",
        "apco_common_incident_types_2.103.2-2019.csv",
    ):
        assert (REF / name).is_file()
    assert Counter(r["City"] for r in _csv(REF / "vera_call_types.csv"))["Dallas"] > 0
