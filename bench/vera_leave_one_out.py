#!/usr/bin/env python
"""Check the general call-type rules against the Vera Institute's labels.

Why: ``cfs_spiders/normalize/rules.py`` categorizes call types that no feed
crosswalk covers. Vera's file (``tests/fixtures/reference/vera_call_types.csv``)
labels about 2,600 raw call types of New Orleans, Seattle, Detroit and Dallas
with call counts, so it measures how often the rules put a real call where a
careful human did. It is "leave one city out" in the strict sense that the
rules are generic keywords written without any evaluated city's strings (no
rule is fitted to this file); every city is therefore an out-of-sample test.

How it is counted, per city:

* Every Vera row is one (column, raw value) with a call count; agreement is
  count-weighted.
* Vera's 24 labels are translated to sets of our codes with ``CORRESPONDENCE``
  (many-to-one both ways). The rules agree with a row when their category is
  in the set of Vera's label. ``agree_alt`` also accepts Vera's own
  "Category - Alternate" when it names a real label.
* Rows are excluded, and reported with counts, when Vera has no label (blank
  category), when Vera's label has no counterpart in our scheme (``Statuses``,
  ``Training Academy``), or when ``docs/VERA_REVIEW.md`` lists the row as a
  place where the project disagrees with Vera (Vera error, or DOMAIN.md puts the
  call type elsewhere by definition). The review table is read from the doc so
  the doc and the benchmark cannot drift apart.

Run ``python bench/vera_leave_one_out.py`` (``--disagreements 30`` lists the
largest remaining disagreements; ``--excluded`` lists excluded rows).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python bench/vera_leave_one_out.py`
    sys.path.insert(0, str(ROOT))

from cfs_spiders.config import vocab  # noqa: E402
from cfs_spiders.normalize import rules  # noqa: E402

REFERENCE = ROOT / "tests" / "fixtures" / "reference" / "vera_call_types.csv"
REVIEW = ROOT / "docs" / "VERA_REVIEW.md"
CITIES = ("New Orleans", "Seattle", "Detroit", "Dallas")
TARGET = 0.85

# Vera label -> the set of our codes that mean the same thing. Labels are
# compared after stripping (Vera's file has trailing spaces and one typo).
CORRESPONDENCE: dict[str, frozenset[str]] = {
    "Accidents/Traffic Safety": frozenset(
        {"traffic_collision", "traffic_enforcement", "traffic_hazard_parking"}
    ),
    "Alarms": frozenset({"alarm"}),
    # Vera's assists include motorist aid ("AID MOTORIST") and welfare-type
    # help; our scheme files motorist assists under traffic_hazard_parking.
    "Assisting the Public": frozenset(
        {"assist_public", "welfare_check", "traffic_hazard_parking"}
    ),
    "Behavioral Health": frozenset({"mental_health"}),
    "Call Related Issues": frozenset({"call_problem", "administrative"}),
    "Call Related Isuues": frozenset({"call_problem", "administrative"}),
    "Callback": frozenset({"administrative", "call_problem"}),
    # Nuisances, hazards, animals, lost property, parking complaints.
    "Complaints/Environmental Conditions": frozenset(
        {
            "disturbance",
            "hazard_rescue",
            "animal",
            "assist_public",
            "traffic_hazard_parking",
        }
    ),
    "Domestic Violence": frozenset({"domestic"}),
    "Drugs": frozenset({"drugs_vice"}),
    "Liquor Violations": frozenset({"drugs_vice"}),
    "Fire": frozenset({"fire"}),
    "Medical": frozenset({"medical"}),
    "Medical Emergencies": frozenset({"medical"}),
    "Missing Persons": frozenset({"missing_person"}),
    "Officer Needs Help": frozenset({"officer_agency_assist"}),
    # Vera's examples: OTHER, UNKNOWN TROUBLE, WEAPONS/CARRYING CONCEALED.
    "Other (Not Crime)": frozenset(
        {"assist_public", "administrative", "call_problem", "weapons_shots"}
    ),
    # Vera has no weapons label: shots and weapon calls sit in Other Crimes or
    # Violent Crime, so weapons_shots corresponds to both.
    "Other Crimes": frozenset({"other_crime", "weapons_shots"}),
    "Violent Crime": frozenset({"violent_crime", "weapons_shots"}),
    "Property Crime": frozenset({"property_crime"}),
    "Sex Offenses": frozenset({"sex_offense"}),
    "Status Offenses": frozenset({"juvenile_status"}),
    "Suspicion": frozenset({"suspicious"}),
    "Warrants": frozenset({"warrant"}),
}
# Vera labels with no counterpart in our scheme: reported, then excluded.
NO_COUNTERPART: dict[str, str] = {
    "Statuses": (
        "Vera's catch-all for officer activity and non-crime events (premise "
        "checks, follow-ups, welfare checks, found property, agency assists); "
        "it spans several of our categories"
    ),
    "Training Academy": "not a call type",
}


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    """One row of the exclusion table in docs/VERA_REVIEW.md."""

    id: str
    city: str
    vera_category: str
    match: str
    project_category: str
    kind: str
    reason: str

    def matches(self, city: str, vera_category: str, value: str) -> bool:
        """True when this entry covers the Vera row (city, label, raw value)."""
        if self.city != "*" and self.city != city:
            return False
        if self.vera_category != vera_category:
            return False
        if self.match.startswith("/") and self.match.endswith("/"):
            return re.search(self.match[1:-1], value, re.IGNORECASE) is not None
        return self.match.casefold() == value.strip().casefold()


REVIEW_KINDS = ("vera_error", "scheme_difference")


def load_review(path: Path = REVIEW) -> list[ReviewEntry]:
    """Read the exclusion table (the one whose header starts ``| id |``).

    Why strict: a malformed or stale entry would silently change the
    benchmark, so bad rows raise ``ValueError``.
    """
    entries: list[ReviewEntry] = []
    in_table = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("| id |"):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in _split_row(line)]
        if len(cells) != 7:
            raise ValueError(f"review row needs 7 cells: {line!r}")
        cells = [c.strip("`") if i == 3 else c for i, c in enumerate(cells)]
        entry = ReviewEntry(*cells)
        if entry.kind not in REVIEW_KINDS:
            raise ValueError(f"{entry.id}: kind must be one of {REVIEW_KINDS}")
        if entry.project_category not in vocab.CALL_TYPE_CATEGORIES:
            raise ValueError(f"{entry.id}: unknown category {entry.project_category}")
        if entry.vera_category not in CORRESPONDENCE:
            raise ValueError(f"{entry.id}: unknown Vera label {entry.vera_category}")
        if entry.match.startswith("/"):
            re.compile(entry.match[1:-1])
        entries.append(entry)
    if len({e.id for e in entries}) != len(entries):
        raise ValueError("duplicate review ids")
    return entries


def _split_row(line: str) -> list[str]:
    """Split a markdown table row on unescaped pipes (``\\|`` is a literal)."""
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.replace("\\|", "|") for p in parts]


@dataclass
class CityResult:
    """Counts for one city; ``agreement`` is the headline number."""

    city: str
    rows: int = 0
    calls: int = 0
    counted_rows: int = 0
    counted_calls: int = 0
    agree_calls: int = 0
    agree_alt_calls: int = 0
    all_labelled_calls: int = 0
    all_labelled_agree_calls: int = 0
    excluded_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    excluded_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def agreement(self) -> float:
        """Share of counted calls whose rule category matches Vera's label."""
        return self.agree_calls / self.counted_calls if self.counted_calls else 0.0

    @property
    def agreement_alt(self) -> float:
        """As ``agreement`` but also accepting Vera's alternate label."""
        if not self.counted_calls:
            return 0.0
        return self.agree_alt_calls / self.counted_calls

    @property
    def agreement_before_review(self) -> float:
        """Agreement over every row with a comparable Vera label, i.e. without
        the docs/VERA_REVIEW.md exclusions: the number to quote next to the
        headline, so the effect of the review is visible."""
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
    review_rule_agrees: dict[str, int]  # id -> calls where rules give project cat
    disagreements: list[tuple[int, str, str, str, str, str]]
    excluded: list[tuple[int, str, str, str, str]]


def _label(raw: str) -> str:
    return raw.strip()


def run_benchmark(
    reference: Path = REFERENCE, review: Path = REVIEW
) -> BenchmarkResult:
    """Score the general rules (no crosswalk) against Vera, city by city."""
    entries = load_review(review)
    cities = {c: CityResult(c) for c in CITIES}
    hits: dict[str, list[int]] = {e.id: [0, 0] for e in entries}
    rule_agrees: dict[str, int] = {e.id: 0 for e in entries}
    disagreements: list[tuple[int, str, str, str, str, str]] = []
    excluded: list[tuple[int, str, str, str, str]] = []
    with reference.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            city = row["City"].strip()
            if city not in cities:
                continue
            res = cities[city]
            value = row["Field 1"]
            count = int(row["Count"] or 0)
            vera = _label(row["Category"] or "")
            alt = _label(row["Category - Alternate"] or "")
            res.rows += 1
            res.calls += count
            match = rules.classify(value)
            ours = match.category if match else "unmapped"
            if not vera:
                reason = "vera_unlabelled"
            elif vera in NO_COUNTERPART:
                reason = f"no_counterpart:{vera}"
            elif vera not in CORRESPONDENCE:
                raise ValueError(f"Vera label without correspondence: {vera!r}")
            else:
                res.all_labelled_calls += count
                if ours in CORRESPONDENCE[vera]:
                    res.all_labelled_agree_calls += count
                entry = next((e for e in entries if e.matches(city, vera, value)), None)
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
                excluded.append((count, city, value, vera or "(blank)", ours))
                continue
            res.counted_rows += 1
            res.counted_calls += count
            ok = ours in CORRESPONDENCE[vera]
            ok_alt = ok or (alt in CORRESPONDENCE and ours in CORRESPONDENCE[alt])
            res.agree_calls += count * ok
            res.agree_alt_calls += count * ok_alt
            if not ok:
                disagreements.append(
                    (count, city, row["Column_name"], value, vera, ours)
                )
    disagreements.sort(reverse=True)
    excluded.sort(reverse=True)
    stale = [k for k, (n, _) in hits.items() if n == 0]
    if stale:
        raise ValueError(f"review entries that match no Vera row: {stale}")
    return BenchmarkResult(
        cities,
        {k: (v[0], v[1]) for k, v in hits.items()},
        rule_agrees,
        disagreements,
        excluded,
    )


def format_table(result: BenchmarkResult) -> str:
    """The per-city table printed by ``main``."""
    head = (
        f"{'city':<12} {'rows':>5} {'calls':>10} {'counted':>10} {'excluded':>10}"
        f" {'agree%':>7} {'w/alt%':>7} {'pre-rev%':>8}  excluded by reason (calls)"
    )
    lines = [head, "-" * len(head)]
    for res in result.cities.values():
        reasons = ", ".join(f"{k}={v:,}" for k, v in sorted(res.excluded_calls.items()))
        lines.append(
            f"{res.city:<12} {res.rows:>5} {res.calls:>10,} {res.counted_calls:>10,}"
            f" {res.excluded_total:>10,} {100 * res.agreement:>6.1f}%"
            f" {100 * res.agreement_alt:>6.1f}%"
            f" {100 * res.agreement_before_review:>7.1f}%  {reasons}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--review", type=Path, default=REVIEW)
    parser.add_argument("--disagreements", type=int, default=0, metavar="N")
    parser.add_argument("--excluded", type=int, default=0, metavar="N")
    parser.add_argument("--review-hits", action="store_true")
    args = parser.parse_args(argv)
    result = run_benchmark(args.reference, args.review)
    print("General rules alone vs Vera's labels (count-weighted)")
    print(format_table(result))
    if args.review_hits:
        print("\nreview entries: id rows calls rules_give_project_category")
        for key, (n, calls) in result.review_hits.items():
            print(f"  {key:<5} {n:>4} {calls:>9,} {result.review_rule_agrees[key]:>9,}")
    if args.disagreements:
        print(
            f"\nlargest {args.disagreements} disagreements (calls city column raw"
            " | vera -> rules):"
        )
        for count, city, col, value, vera, ours in result.disagreements[
            : args.disagreements
        ]:
            print(f"  {count:>8,} {city:<11} {col:<22} {value!r} | {vera} -> {ours}")
    if args.excluded:
        print(f"\nlargest {args.excluded} excluded rows:")
        for count, city, value, vera, ours in result.excluded[: args.excluded]:
            print(f"  {count:>8,} {city:<11} {value!r} | {vera} -> {ours}")
    failed = [c for c in result.cities.values() if c.agreement < TARGET]
    print(
        f"\ntarget {TARGET:.0%} per city: "
        + ("met" if not failed else "NOT met for " + ", ".join(c.city for c in failed))
    )
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
