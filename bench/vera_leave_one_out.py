#!/usr/bin/env python
"""How often do the rules plus the learned fallback agree with careful labels
on a city they have never seen? Two tables, one command.

1. **Leave one city out on Vera.** The Vera Institute's file
   (``tests/fixtures/reference/vera_call_types.csv``) labels about 2,600 raw
   call types of New Orleans, Seattle, Detroit and Dallas, with call counts.
   For each city the learned fallback is rebuilt *without* that city's Vera
   rows and *without* the crosswalk of any project feed of that city
   (``wa_seattle_*`` for Seattle, ``tx_dallas_*`` for Dallas); the rules are
   generic keywords, written without any city's strings. The city's values
   then go through rules, else fallback, else ``unmapped``.
2. **Leave one feed out over the project's crosswalks.** For each feed, the
   fallback is rebuilt without that feed's crosswalk, without the crosswalks
   of other feeds of the same city, and without Vera's rows of that city; each
   description row of the feed's crosswalk is then categorized as a new city's
   value would be and compared with the row's category.

How Vera is counted (per city):

* agreement is count-weighted over Vera's rows (``agree%``) and, separately,
  per distinct row, i.e. each (column, raw value) once (``distinct%``);
* Vera's labels translate to sets of our codes (``cfs_spiders.normalize.vera``
  ``CORRESPONDENCE``); we agree when our category is in the set;
* rows without a Vera label, with a label that has no counterpart
  (``Statuses``), or listed in ``docs/VERA_REVIEW.md`` as a place where the
  project disagrees with Vera are excluded and reported with counts; the
  review table is read from the doc so the doc and the numbers cannot drift;
  ``pre-rev%`` is the agreement without the review exclusions.

Run ``python bench/vera_leave_one_out.py`` (``--disagreements 30``,
``--excluded 30``, ``--feed-disagreements 30``, ``--rules-only``).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:  # allow `python bench/vera_leave_one_out.py`
        sys.path.insert(0, str(extra))

from feed_captures import READERS, capture_records  # noqa: E402

from cfs_spiders.config.loader import get_config  # noqa: E402
from cfs_spiders.normalize import rules, training, vera  # noqa: E402
from cfs_spiders.normalize.crosswalk import load_crosswalk, normalize_key  # noqa: E402
from cfs_spiders.normalize.similar import (  # noqa: E402
    DEFAULT_K,
    DEFAULT_THRESHOLD,
    SimilarityIndex,
)

REFERENCE = ROOT / "tests" / "fixtures" / "reference" / "vera_call_types.csv"
REVIEW = ROOT / "docs" / "VERA_REVIEW.md"
CITIES = vera.CITIES
CORRESPONDENCE = vera.CORRESPONDENCE
NO_COUNTERPART = vera.NO_COUNTERPART
ReviewEntry = vera.ReviewEntry
# Targets of issue 13.
TARGET = 0.93  # Vera, count-weighted, each city
TARGET_DISTINCT = 0.85  # Vera, per distinct row, each city
TARGET_FEEDS = 0.90  # leave-one-feed-out, all feeds together


def load_review(path: Path = REVIEW) -> list[ReviewEntry]:
    """The exclusion table of docs/VERA_REVIEW.md (strict, see vera.parse_review)."""
    return vera.parse_review(path.read_text(encoding="utf-8"))


@cache
def feed_city(feed_id: str) -> str:
    """The city a feed's config names (``"Seattle"``)."""
    return str(get_config(feed_id)["city"])


def city_feeds(city: str) -> list[str]:
    """Feeds with a crosswalk whose config names ``city``."""
    return [f for f in training.crosswalk_feeds() if feed_city(f) == city]


class Categorizer:
    """Rules, then the fallback index (when given), then unmapped."""

    def __init__(self, index: SimilarityIndex | None) -> None:
        self.index = index
        self._cache: dict[str, tuple[str, str]] = {}

    def __call__(self, value: str) -> tuple[str, str]:
        """(category, basis) for one raw value."""
        hit = self._cache.get(value)
        if hit is not None:
            return hit
        match = rules.classify(value)
        if match is not None:
            out = (match.category, "rule")
        else:
            sim = self.index.query(value) if self.index is not None else None
            out = (sim.category, "similar") if sim else ("unmapped", "unmapped")
        self._cache[value] = out
        return out


@dataclass
class CityResult:
    """Counts for one city; ``agreement`` is the headline number."""

    city: str
    rows: int = 0
    calls: int = 0
    counted_rows: int = 0
    counted_calls: int = 0
    agree_rows: int = 0
    agree_calls: int = 0
    agree_alt_calls: int = 0
    all_labelled_calls: int = 0
    all_labelled_agree_calls: int = 0
    rules_only_agree_calls: int = 0
    calls_by_basis: Counter[str] = field(default_factory=Counter)
    excluded_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    excluded_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def agreement(self) -> float:
        """Share of counted calls whose category matches Vera's label."""
        return self.agree_calls / self.counted_calls if self.counted_calls else 0.0

    @property
    def agreement_distinct(self) -> float:
        """Share of counted rows (distinct column + value) that agree."""
        return self.agree_rows / self.counted_rows if self.counted_rows else 0.0

    @property
    def agreement_alt(self) -> float:
        """As ``agreement`` but also accepting Vera's alternate label."""
        if not self.counted_calls:
            return 0.0
        return self.agree_alt_calls / self.counted_calls

    @property
    def agreement_rules_only(self) -> float:
        """As ``agreement`` with the rules alone (no learned fallback)."""
        if not self.counted_calls:
            return 0.0
        return self.rules_only_agree_calls / self.counted_calls

    @property
    def agreement_before_review(self) -> float:
        """Agreement over every row with a comparable Vera label, i.e. without
        the docs/VERA_REVIEW.md exclusions, so the effect of the review shows."""
        if not self.all_labelled_calls:
            return 0.0
        return self.all_labelled_agree_calls / self.all_labelled_calls

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded_calls.values())


@dataclass
class BenchmarkResult:
    cities: dict[str, CityResult]
    review_hits: dict[str, tuple[int, int]]  # id -> (rows, calls)
    review_rule_agrees: dict[str, int]  # id -> calls where we give project cat
    disagreements: list[tuple[int, str, str, str, str, str, str]]
    excluded: list[tuple[int, str, str, str, str]]
    held_out_feeds: dict[str, list[str]]
    # city -> the ``source`` of every example in the index that judged it, so
    # a test can check that nothing of the held-out city was learned from.
    index_sources: dict[str, frozenset[str]] = field(default_factory=dict)


def run_benchmark(
    reference: Path = REFERENCE,
    review: Path = REVIEW,
    *,
    fallback: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    k: int = DEFAULT_K,
) -> BenchmarkResult:
    """Leave one city out on Vera (see the module docstring)."""
    entries = load_review(review)
    cities = {c: CityResult(c) for c in CITIES}
    held_out = {c: city_feeds(c) for c in CITIES}
    judges: dict[str, Categorizer] = {}
    sources: dict[str, frozenset[str]] = {}
    for city in CITIES:
        index = None
        if fallback:
            index = training.build_index(
                exclude_feeds=held_out[city],
                exclude_cities=[city],
                threshold=threshold,
                k=k,
            )
            sources[city] = frozenset(ex.source for ex in index.examples)
        judges[city] = Categorizer(index)
    hits: dict[str, list[int]] = {e.id: [0, 0] for e in entries}
    rule_agrees: dict[str, int] = {e.id: 0 for e in entries}
    disagreements: list[tuple[int, str, str, str, str, str, str]] = []
    excluded: list[tuple[int, str, str, str, str]] = []
    for row in vera.load_rows(reference):
        res = cities.get(row.city)
        if res is None:
            continue
        count = row.count
        res.rows += 1
        res.calls += count
        ours, basis = judges[row.city](row.value)
        rule = rules.classify(row.value)
        rules_only = rule.category if rule else "unmapped"
        label = row.label
        if not label:
            reason = "vera_unlabelled"
        elif label in NO_COUNTERPART:
            reason = f"no_counterpart:{label}"
        elif label not in CORRESPONDENCE:
            raise ValueError(f"Vera label without correspondence: {label!r}")
        else:
            res.all_labelled_calls += count
            if ours in CORRESPONDENCE[label]:
                res.all_labelled_agree_calls += count
            entry = vera.find_review(entries, row)
            if entry is not None:
                reason = f"review:{entry.kind}"
                hits[entry.id][0] += 1
                hits[entry.id][1] += count
                if ours == entry.project_category:
                    rule_agrees[entry.id] += count
            else:
                reason = ""
        if reason:
            res.excluded_calls[reason] += count
            res.excluded_rows[reason] += 1
            excluded.append((count, row.city, row.value, label or "(blank)", ours))
            continue
        res.counted_rows += 1
        res.counted_calls += count
        res.calls_by_basis[basis] += count
        ok = ours in CORRESPONDENCE[label]
        alt = row.alt
        ok_alt = ok or (alt in CORRESPONDENCE and ours in CORRESPONDENCE[alt])
        res.agree_rows += ok
        res.agree_calls += count * ok
        res.agree_alt_calls += count * ok_alt
        res.rules_only_agree_calls += count * (rules_only in CORRESPONDENCE[label])
        if not ok:
            disagreements.append(
                (count, row.city, row.column, row.value, label, ours, basis)
            )
    disagreements.sort(reverse=True)
    excluded.sort(reverse=True)
    stale = [key for key, (n, _) in hits.items() if n == 0]
    if stale:
        raise ValueError(f"review entries that match no Vera row: {stale}")
    return BenchmarkResult(
        cities,
        {key: (v[0], v[1]) for key, v in hits.items()},
        rule_agrees,
        disagreements,
        excluded,
        held_out,
        sources,
    )


def format_table(result: BenchmarkResult) -> str:
    """The per-city table printed by ``main``."""
    head = (
        f"{'city':<12} {'rows':>5} {'calls':>10} {'counted':>10} {'agree%':>7}"
        f" {'distinct%':>9} {'rules%':>7} {'w/alt%':>7} {'pre-rev%':>8}"
        f" {'by rule':>9} {'similar':>8} {'unmapped':>8}  held-out crosswalks"
    )
    lines = [head, "-" * len(head)]
    for res in result.cities.values():
        basis = res.calls_by_basis
        held = ", ".join(result.held_out_feeds.get(res.city, [])) or "-"
        lines.append(
            f"{res.city:<12} {res.rows:>5} {res.calls:>10,} {res.counted_calls:>10,}"
            f" {100 * res.agreement:>6.1f}% {100 * res.agreement_distinct:>8.1f}%"
            f" {100 * res.agreement_rules_only:>6.1f}%"
            f" {100 * res.agreement_alt:>6.1f}%"
            f" {100 * res.agreement_before_review:>7.1f}%"
            f" {basis['rule']:>9,} {basis['similar']:>8,} {basis['unmapped']:>8,}"
            f"  {held}"
        )
    lines.append("")
    lines.append("excluded by reason (calls):")
    for res in result.cities.values():
        reasons = ", ".join(f"{k}={v:,}" for k, v in sorted(res.excluded_calls.items()))
        lines.append(f"  {res.city:<12} {reasons}")
    return "\n".join(lines)


# --- leave one feed out --------------------------------------------------------


@dataclass
class FeedResult:
    """One feed's crosswalk rows categorized as a never-seen city's values."""

    feed_id: str
    rows: int = 0
    agree_rows: int = 0
    calls: int = 0
    agree_calls: int = 0
    rows_by_basis: Counter[str] = field(default_factory=Counter)
    disagreements: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    index_sources: frozenset[str] = frozenset()

    @property
    def agreement(self) -> float:
        return self.agree_rows / self.rows if self.rows else 0.0

    @property
    def agreement_calls(self) -> float:
        return self.agree_calls / self.calls if self.calls else 0.0


@dataclass
class FeedBenchmarkResult:
    feeds: dict[str, FeedResult]

    def _total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.feeds.values())

    @property
    def agreement(self) -> float:
        """All feeds' crosswalk rows together, each distinct value once."""
        rows = self._total("rows")
        return self._total("agree_rows") / rows if rows else 0.0

    @property
    def agreement_calls(self) -> float:
        """Weighted by how often each value occurs in the feed's capture."""
        calls = self._total("calls")
        return self._total("agree_calls") / calls if calls else 0.0


def _capture_counts(feed_id: str) -> Counter[str]:
    if feed_id not in READERS:
        return Counter()
    return Counter(normalize_key(raw) for raw, _ in capture_records(feed_id) if raw)


def run_feed_benchmark(
    *,
    fallback: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    k: int = DEFAULT_K,
) -> FeedBenchmarkResult:
    """Leave one feed out (with its city) over the project's crosswalks."""
    out: dict[str, FeedResult] = {}
    for feed_id in training.labelled_feeds():
        city = feed_city(feed_id)
        index = None
        if fallback:
            index = training.build_index(
                exclude_feeds=city_feeds(city),
                exclude_cities=[city] if city in CITIES else [],
                threshold=threshold,
                k=k,
            )
        judge = Categorizer(index)
        counts = _capture_counts(feed_id)
        res = FeedResult(feed_id)
        if index is not None:
            res.index_sources = frozenset(ex.source for ex in index.examples)
        for key, row in load_crosswalk(feed_id).by_description.items():
            ours, basis = judge(row.raw_value)
            ok = ours == row.category
            n = counts.get(key, 0)
            res.rows += 1
            res.agree_rows += ok
            res.calls += n
            res.agree_calls += n * ok
            res.rows_by_basis[basis] += 1
            if not ok:
                res.disagreements.append((n, row.raw_value, row.category, ours, basis))
        res.disagreements.sort(key=lambda d: (-d[0], d[1]))
        out[feed_id] = res
    return FeedBenchmarkResult(out)


def format_feed_table(result: FeedBenchmarkResult) -> str:
    head = (
        f"{'feed (held out with its city)':<44} {'values':>6} {'agree%':>7}"
        f" {'calls':>6} {'calls%':>7} {'rule':>5} {'similar':>7} {'unmapped':>8}"
    )
    lines = [head, "-" * len(head)]
    for res in result.feeds.values():
        b = res.rows_by_basis
        calls = f"{100 * res.agreement_calls:>6.1f}%" if res.calls else f"{'-':>7}"
        lines.append(
            f"{res.feed_id:<44} {res.rows:>6} {100 * res.agreement:>6.1f}%"
            f" {res.calls:>6} {calls} {b['rule']:>5} {b['similar']:>7}"
            f" {b['unmapped']:>8}"
        )
    rows = sum(r.rows for r in result.feeds.values())
    calls = sum(r.calls for r in result.feeds.values())
    lines.append(
        f"{'all feeds':<44} {rows:>6} {100 * result.agreement:>6.1f}%"
        f" {calls:>6} {100 * result.agreement_calls:>6.1f}%"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--review", type=Path, default=REVIEW)
    parser.add_argument("--disagreements", type=int, default=0, metavar="N")
    parser.add_argument("--excluded", type=int, default=0, metavar="N")
    parser.add_argument("--feed-disagreements", type=int, default=0, metavar="N")
    parser.add_argument("--review-hits", action="store_true")
    parser.add_argument(
        "--rules-only", action="store_true", help="leave the learned fallback out"
    )
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--k", type=int, default=DEFAULT_K)
    args = parser.parse_args(argv)
    fallback = not args.rules_only
    how = "rules + learned fallback" if fallback else "rules alone"
    result = run_benchmark(
        args.reference,
        args.review,
        fallback=fallback,
        threshold=args.threshold,
        k=args.k,
    )
    print(f"1. Leave one city out: {how} vs Vera's labels")
    print(format_table(result))
    if args.review_hits:
        print("\nreview entries: id rows calls calls_given_project_category")
        for key, (n, calls) in result.review_hits.items():
            print(f"  {key:<5} {n:>4} {calls:>9,} {result.review_rule_agrees[key]:>9,}")
    if args.disagreements:
        print(
            f"\nlargest {args.disagreements} disagreements (calls city column raw"
            " | vera -> ours (basis)):"
        )
        for count, city, col, value, label, ours, basis in result.disagreements[
            : args.disagreements
        ]:
            print(
                f"  {count:>8,} {city:<11} {col:<22} {value!r} | {label} -> {ours}"
                f" ({basis})"
            )
    if args.excluded:
        print(f"\nlargest {args.excluded} excluded rows:")
        for count, city, value, label, ours in result.excluded[: args.excluded]:
            print(f"  {count:>8,} {city:<11} {value!r} | {label} -> {ours}")
    feeds = run_feed_benchmark(fallback=fallback, threshold=args.threshold, k=args.k)
    print(f"\n2. Leave one feed out: {how} vs the project's crosswalks")
    print(format_feed_table(feeds))
    if args.feed_disagreements:
        print(
            "\nlargest disagreements per feed (capture count, value | xwalk -> ours):"
        )
        for res in feeds.feeds.values():
            for n, value, want, got, basis in res.disagreements[
                : args.feed_disagreements
            ]:
                print(
                    f"  {res.feed_id[:28]:<28} {n:>4} {value!r} | {want} -> {got} ({basis})"
                )
    failed = [
        c.city
        for c in result.cities.values()
        if c.agreement < TARGET or c.agreement_distinct < TARGET_DISTINCT
    ]
    feeds_ok = feeds.agreement >= TARGET_FEEDS
    print(
        f"\ntargets: Vera >= {TARGET:.0%} count-weighted and >= {TARGET_DISTINCT:.0%}"
        " per distinct value, each city: "
        + ("met" if not failed else "NOT met for " + ", ".join(failed))
        + f"; leave-one-feed-out >= {TARGET_FEEDS:.0%}: "
        + ("met" if feeds_ok else f"NOT met ({100 * feeds.agreement:.1f}%)")
    )
    return 0 if not failed and feeds_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
