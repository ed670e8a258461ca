"""Call-type categorization: the contract of categorize, the crosswalk files.

The general rules are tested in ``test_call_type_rules.py``, the learned
fallback in ``test_similar.py``, the benchmarks in ``test_vera_benchmark.py``.

The captures are read from the project's own tree (``tests/fixtures/<feed_id>/``,
byte-for-byte copies of ``shared/captures``) so the tests do not depend on
anything outside the repository.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.config import vocab
from cfs_spiders.normalize import call_type, crosswalk, rules
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

# --- reading the captures (shared with the benchmark) ---------------------------


def _load(name: str):
    path = ROOT / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_captures = _load("feed_captures")
FEEDS = _captures.FEEDS
capture_records = _captures.capture_records


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(newline="", encoding=encoding) as fh:
        return list(csv.DictReader(fh))


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
    # The rules alone call Houston's AUTOMATIC ALARM a burglar alarm; the
    # feed's crosswalk knows it is a fire alarm, and wins.
    assert categorize("AUTOMATIC ALARM").category == "alarm"
    houston = categorize("AUTOMATIC ALARM", feed_id="tx_houston_hec_active_incidents")
    assert (houston.category, houston.basis) == ("fire", "crosswalk")


def test_unmapped_is_reported_not_guessed() -> None:
    res = categorize("zxqv 123")
    assert res == CategoryResult("unmapped", "unmapped", None, None)
    assert (res.matched_example, res.similarity, res.crosswalk_version) == (
        None,
        None,
        None,
    )
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
    monkeypatch.setattr(crosswalk, "CROSSWALK_DIR", tmp_path)
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
        crosswalk._parse("t", text, "t.csv")


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


# --- what a result records ---------------------------------------------------------


def test_crosswalk_result_records_its_version() -> None:
    fid = "tx_dallas_police_active_calls"
    res = categorize("38 - Meet Complainant", feed_id=fid)
    assert res.basis == "crosswalk"
    assert res.crosswalk_version == crosswalk_version(fid) == "1"
    assert res.confidence == "high"
    assert (res.rule, res.matched_example, res.similarity) == (None, None, None)


def test_rule_result_records_rule_and_consulted_crosswalk() -> None:
    fid = "tx_dallas_police_active_calls"
    res = categorize("PERSON NOT BREATHING", feed_id=fid)
    assert (res.category, res.basis, res.rule) == ("medical", "rule", "not_breathing")
    # The feed's crosswalk was consulted and had no row: its version is kept.
    assert res.crosswalk_version == "1"
    assert categorize("PERSON NOT BREATHING").crosswalk_version is None


def test_similar_result_records_example_and_similarity() -> None:
    # Oakland's SLEEPER (a second-set value): no rule knows it; Vera's label of
    # Seattle's "SLEEPER ABOARD BUS/COMMUTER TRAIN" is the nearest example.
    assert rules.classify("SLEEPER") is None, "a rule now decides this value"
    res = categorize("SLEEPER")
    assert (res.category, res.basis) == ("disturbance", "similar")
    assert res.matched_example == "SLEEPER ABOARD BUS/COMMUTER TRAIN"
    assert res.matched_source == "vera:Seattle"
    assert 0.5 <= res.similarity < 0.8
    assert res.confidence == "low"
    assert res.rule is None


def test_unmapped_below_the_threshold_keeps_the_version() -> None:
    res = categorize("zxqv 123", feed_id="tx_dallas_police_active_calls")
    assert (res.category, res.basis, res.crosswalk_version) == (
        "unmapped",
        "unmapped",
        "1",
    )


def test_positional_fields_are_unchanged() -> None:
    """The record builder reads the first four fields by name and position."""
    names = [f for f in CategoryResult.__slots__][:4]
    assert names == ["category", "basis", "apco_code", "confidence"]
