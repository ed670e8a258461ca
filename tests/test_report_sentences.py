"""Every generated sentence of report.html, written again from the raw evidence.

Nothing here imports the comparison's code. The expected findings and place
paragraphs are rebuilt, word for word, from ``calls.csv`` (the csv module), the
store's ``runs`` table (sqlite3) and the YAML configs, with the definitions the
project documents (docs/VOCABULARY.md, the report's method section) written out
again in ``tests/report_recompute.py``. The report's findings list and place paragraphs must then equal the
rebuilt ones in content and order: a sentence the report adds without a
recomputation here, or a number that drifts, fails the test.
"""

# ruff: noqa: F811  (the shared fixture of test_compare, imported by name)
from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.report_recompute import (
    COUNT,
    ELEMENTS,
    TIME_ONLY,
    disagreement_pairs,
    expected_findings,
    expected_places,
    fetch_times,
    iso,
    kind_label,
    load_evidence,
    marks,
    place_level,
    place_map,
    timing,
    ts,
)
from tests.test_compare import cfs_run  # noqa: F401  (shared fixture)


@pytest.fixture(scope="module")
def evidence(cfs_run: dict) -> dict:  # noqa: F811
    return load_evidence(
        cfs_run["output"] / "calls.csv", cfs_run["db"], ROOT / "city_configs"
    )


# ------------------------------------------------------------ the page
class Sentences(HTMLParser):
    """The findings (``ul.findings li``) and place paragraphs (``p.place``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self.places: dict[str, str] = {}
        self._where: str | None = None
        self._place: str | None = None
        self._bold = False
        self._in_findings = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "ul" and a.get("class") == "findings":
            self._in_findings = True
        elif tag == "li" and self._in_findings:
            self.findings.append("")
            self._where = "finding"
        elif tag == "p" and a.get("class") == "place":
            self._place = a["data-place"]
            self.places[self._place] = ""
            self._where = "place"
        elif tag == "b" and self._where == "place":
            self._bold = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul":
            self._in_findings = False
        if tag in ("li", "p"):
            self._where = None
        if tag == "b":
            self._bold = False

    def handle_data(self, data: str) -> None:
        if self._where == "finding":
            self.findings[-1] += data
        elif self._where == "place" and not self._bold:
            self.places[self._place] += data


def page_sentences(path: Path) -> Sentences:
    parser = Sentences()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.findings = [" ".join(s.split()) for s in parser.findings]
    parser.places = {p: " ".join(t.split()) for p, t in parser.places.items()}
    return parser


def check_findings(path: Path, ev: dict) -> None:
    """Fail unless the page's findings are exactly the recomputed ones."""
    shown = page_sentences(path).findings
    expected = expected_findings(ev)
    assert len(shown) > 15
    extra = [s for s in shown if s not in expected]
    missing = [s for s in expected if s not in shown]
    assert not extra, f"findings nothing here recomputes: {extra}"
    assert not missing, f"recomputed findings the report lacks: {missing}"
    assert shown == expected  # and in the same order


def test_every_finding_is_recomputed(cfs_run: dict, evidence: dict) -> None:  # noqa: F811
    check_findings(cfs_run["output"] / "report.html", evidence)


def test_every_place_paragraph_is_recomputed(
    cfs_run: dict,  # noqa: F811
    evidence: dict,
) -> None:
    shown = page_sentences(cfs_run["output"] / "report.html").places
    expected = expected_places(evidence)
    assert list(shown) == list(expected)
    for place, text in expected.items():
        assert shown[place] == text, place


def test_value_forms_and_timestamp_conflicts_are_reported(
    cfs_run: dict,  # noqa: F811
    evidence: dict,
) -> None:
    # Caddo's page gives HHMM without a date and a number of units; both are in
    # the capture for every call (PROVENANCE.md), so neither counts as published.
    caddo = evidence["feeds"]["la_caddo_911_active_events"]
    assert all("received_at:time_only" in c["time_flags"] for c in caddo)
    assert all(c["unit_count"] and not c["units_raw"] for c in caddo)
    page = page_sentences(cfs_run["output"] / "report.html")
    text = page.places["Caddo Parish, LA"]
    assert "Only a time of day with no date: received time." in text
    assert "Only a count of units, not which units: units." in text
    assert (
        "received time"
        not in text.split("Published for at least 95% of calls:")[1].split(".")[0]
    )
    # Seattle Fire's dataset and its HTML page name their one timestamp differently.
    assert "disagree on which it is" in page.places["Seattle, WA"]
    # withheld.csv names the places with only the coarser form, recomputed
    with open(cfs_run["output"] / "withheld.csv", newline="") as fh:
        withheld = {r["element"]: r for r in csv.DictReader(fh)}
    for element in ELEMENTS:
        forms = sorted(
            f"{p} ({lv})"
            for p, fs in place_map(evidence).items()
            if (lv := place_level(evidence, fs, element)) in (TIME_ONLY, COUNT)
        )
        assert withheld[element]["places_coarser_form"] == ";".join(forms), element
    assert withheld["received_time"]["places_coarser_form"].startswith(
        "Caddo Parish, LA (time of day only)"
    )


def test_a_sentence_nobody_recomputes_fails(
    cfs_run: dict,  # noqa: F811
    evidence: dict,
    tmp_path: Path,
) -> None:
    page = (cfs_run["output"] / "report.html").read_text(encoding="utf-8")
    path = tmp_path / "synthetic_report.html"
    # synthetic: an invented finding
    path.write_text(
        page.replace(
            '<ul class="findings">',
            '<ul class="findings"><li>Every place publishes everything.</li>',
            1,
        ),
        encoding="utf-8",
    )
    with pytest.raises(AssertionError, match="nothing here recomputes"):
        check_findings(path, evidence)
    # synthetic: one count changed by one
    first = expected_findings(evidence)[1]
    bumped = re.sub(r"^(\d+)", lambda m: str(int(m.group(1)) + 1), first)
    path.write_text(page.replace(first, bumped, 1), encoding="utf-8")
    with pytest.raises(AssertionError, match="nothing here recomputes"):
        check_findings(path, evidence)


class FeedRows(HTMLParser):
    """The cells of each feed row of the feed table (``tr[data-feed]``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[str]] = {}
        self._feed: str | None = None
        self._in_table = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self._in_table = a.get("id") == "comparison"
        elif tag == "tr" and self._in_table and "data-feed" in a:
            self._feed = a["data-feed"]
            self.rows[self._feed] = []
        elif tag == "td" and self._feed:
            self.rows[self._feed].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._feed = None

    def handle_data(self, data: str) -> None:
        if self._feed and self.rows[self._feed]:
            self.rows[self._feed][-1] += data


def _minutes(low: float | None, high: float | None, n: int) -> str:
    if not n:
        return ""
    if low is None or high is None or low == high:
        return f"{low if high is None else high:g} minutes (n={n})"
    return f"between {low:g} and {high:g} minutes (n={n})"


def test_duration_cells_of_the_feed_table_are_recomputed(
    cfs_run: dict,  # noqa: F811
    evidence: dict,
) -> None:
    parser = FeedRows()
    parser.feed((cfs_run["output"] / "report.html").read_text(encoding="utf-8"))
    quoted = 0
    for feed_id in evidence["feeds"]:
        t = timing(evidence, feed_id)
        cells = [" ".join(c.split()) for c in parser.rows[feed_id]]
        on_listing, delay = cells[6], cells[7]  # after feed ... calls received
        if t["reason"]:
            assert on_listing == delay == f"not quoted: {t['reason']}", feed_id
            continue
        assert on_listing == _minutes(*t["on"]), feed_id
        assert delay == _minutes(*t["delay"]), feed_id
        quoted += bool(t["on"][2] or t["delay"][2])
    assert quoted  # at least one feed's durations are quoted, and checked


def test_each_feeds_disagreements_are_recomputed(
    cfs_run: dict,  # noqa: F811
    evidence: dict,
) -> None:
    with open(cfs_run["output"] / "comparison.csv", newline="") as fh:
        wide = {r["feed_id"]: r for r in csv.DictReader(fh)}
    expected = disagreement_pairs(evidence)
    shown = {
        (feed_id, part.split(":")[0]): part
        for feed_id, row in wide.items()
        for part in filter(None, row["disagreements"].split("; "))
    }
    assert set(shown) == {(f, e) for f, e, _, _ in expected}
    for f, e, documented, measured in expected:
        assert shown[(f, e)].startswith(
            f"{e}: documented {documented}, measured {measured} ("
        )
        assert wide[f][f"{e}_documented"] == documented
        assert wide[f][f"{e}_documentation_url"] == (
            evidence["configs"][f].get("documentation_url") or ""
        )


class Banner(HTMLParser):
    """The banner's paragraph and its per-feed evidence lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.head = ""
        self.lines: dict[str, str] = {}
        self._where: str | None = None
        self._feed: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id") == "banner":
            self._where = "head"
        elif tag == "li" and "data-feed" in a and self._where:
            self._feed = a["data-feed"]
            self.lines[self._feed] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._where == "head":
            self._where = "lines"
        elif tag == "section":
            self._where = None
        elif tag == "li":
            self._feed = None

    def handle_data(self, data: str) -> None:
        if self._where == "head":
            self.head += data
        elif self._feed:
            self.lines[self._feed] += data


def test_the_banner_is_recomputed(cfs_run: dict, evidence: dict) -> None:  # noqa: F811
    parser = Banner()
    parser.feed((cfs_run["output"] / "report.html").read_text(encoding="utf-8"))
    head = " ".join(parser.head.split())
    modes = {m for f in evidence["feeds"] for m, _ in evidence["runs"][f]}
    times = [t for f in evidence["feeds"] for t in fetch_times(evidence, f)]
    live = [
        iso(ts(t))
        for f in evidence["feeds"]
        for m, t in evidence["runs"][f]
        if m == "live"
    ]
    assert modes == {"replay"}  # `cfs run --replay`
    stated = (
        "Run mode: REPLAY: every number below comes from recorded captures served "
        "again, not from a live fetch of the feeds. Evidence dates (first to last "
        f"capture or fetch, UTC): {iso(min(times))[:10]} to {iso(max(times))[:10]}; "
        f"last live fetch: {max(live) if live else 'never'}. "
    )
    assert re.fullmatch(
        re.escape(stated) + r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", head
    ), head
    listed = {
        f
        for f, cfg in evidence["configs"].items()
        if cfg.get("platform") not in (None, "none")
    }
    assert set(parser.lines) == listed
    for feed_id in sorted(listed):
        line = " ".join(parser.lines[feed_id].split())
        if feed_id not in evidence["feeds"]:
            assert line == f"{feed_id}: no stored records (documentation only)"
            continue
        t = fetch_times(evidence, feed_id)
        mode = "+".join(sorted({m for m, _ in evidence["runs"][feed_id]}))
        mark = marks(evidence, feed_id)
        assert line == (
            f"{feed_id}: {iso(t[0])} to {iso(t[-1])}, {mode}, "
            f"{kind_label(evidence['configs'][feed_id])}; last live fetch: never"
            + (f" {mark}" if mark else "")
        ), feed_id


def test_the_method_states_the_rules_the_recomputation_uses(
    cfs_run: dict,  # noqa: F811
) -> None:
    page = (cfs_run["output"] / "report.html").read_text(encoding="utf-8")
    section = re.search(r'<section id="method">(.*?)</section>', page, re.S)
    assert section, "no method section"
    text = " ".join(re.sub(r"<[^>]+>", " ", section.group(1)).split())
    for rule in (  # the thresholds tests/report_recompute.py applies
        "carries it in at least 95% of those records",
        "when at least 5% of its records carry it",
        "at least 90% of a feed's house numbers classed exact end in 00 "
        "(and at least 20 do)",
        "Evidence older than 730 days",
        "fewer than 3 runs saw the feed",
        "more than twice the documented update interval",
        "time of day only",
        "count only",
    ):
        assert rule in text, rule
