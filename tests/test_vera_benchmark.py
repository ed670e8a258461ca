"""The two benchmarks of bench/vera_leave_one_out.py, with the targets of issue 13.

Leave one city out on Vera's labels (rules + the fallback rebuilt without the
city's Vera rows and without the crosswalks of the city's feeds), and leave one
feed out over the project's crosswalks. Targets that are met are asserted as
targets; the one that is not (Dallas, count-weighted) is asserted at its
measured floor so a regression still fails, and docs/VERA_REVIEW.md says why.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from cfs_spiders.config import vocab

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "fixtures" / "reference"
# Dallas misses 93 % count-weighted: 09V UUMV (Texas "unauthorized use of a
# motor vehicle", jargon only the held-out Dallas crosswalk knows) and signal
# "40 - OTHER" are 6.5 % of its counted calls. See docs/VERA_REVIEW.md.
DALLAS_FLOOR = 0.925


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


@pytest.fixture(scope="module")
def feed_result(bench):
    return bench.run_feed_benchmark()


def test_leave_one_city_out_targets(bench, bench_result) -> None:
    assert set(bench_result.cities) == {"New Orleans", "Seattle", "Detroit", "Dallas"}
    for city in bench_result.cities.values():
        assert city.counted_calls > 0
        assert city.excluded_total + city.counted_calls == city.calls
        assert city.agreement_distinct >= bench.TARGET_DISTINCT, city.city
        floor = DALLAS_FLOOR if city.city == "Dallas" else bench.TARGET
        assert city.agreement >= floor, (city.city, city.agreement)


def test_held_out_city_has_no_crosswalk_and_no_examples(bench, bench_result) -> None:
    held = bench_result.held_out_feeds
    assert held["Dallas"] == ["tx_dallas_police_active_calls"]
    assert set(held["Seattle"]) == {
        "wa_seattle_fire_realtime911",
        "wa_seattle_fire_realtime911_html",
        "wa_seattle_police_calls",
    }
    from cfs_spiders.normalize import training

    index = training.build_index(
        exclude_feeds=held["Seattle"], exclude_cities=["Seattle"]
    )
    sources = {ex.source for ex in index.examples}
    assert not any("seattle" in s or s == "vera:Seattle" for s in sources)


def test_fallback_is_used_and_counted(bench_result) -> None:
    used = sum(c.calls_by_basis["similar"] for c in bench_result.cities.values())
    assert used > 0
    for city in bench_result.cities.values():
        assert sum(city.calls_by_basis.values()) == city.counted_calls


def test_leave_one_feed_out_target(bench, feed_result) -> None:
    assert feed_result.agreement >= bench.TARGET_FEEDS
    assert feed_result.agreement_calls >= bench.TARGET_FEEDS
    assert len(feed_result.feeds) >= 16
    for res in feed_result.feeds.values():
        assert res.rows > 0


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
        bench.run_benchmark(review=bad, fallback=False)


def test_benchmark_command_prints_both_tables(
    bench, capsys: pytest.CaptureFixture
) -> None:
    code = bench.main([])
    out = capsys.readouterr().out
    for city in ("New Orleans", "Seattle", "Detroit", "Dallas"):
        assert city in out
    assert "1. Leave one city out" in out and "2. Leave one feed out" in out
    assert "agree%" in out and "distinct%" in out and "all feeds" in out
    # Exit status says whether every target is met; Dallas is not (see above).
    assert code == 1 and "NOT met for Dallas" in out


def test_reference_copies_are_in_tree() -> None:
    for name in (
        "vera_call_types.csv",
        "apco_common_incident_types_2.103.2-2019.csv",
    ):
        assert (REF / name).is_file()
    with (REF / "vera_call_types.csv").open(encoding="utf-8") as fh:
        assert any(r["City"] == "Dallas" for r in csv.DictReader(fh))
