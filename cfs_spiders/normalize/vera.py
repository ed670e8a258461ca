"""The Vera Institute's call-type labels, read as evidence for the project's scheme.

Why here and not only in the benchmark: Vera's file (``data/vera_call_types.csv``,
a copy of ``shared/reference/vera_call_types.csv``) is both the benchmark of the
general rules (``bench/vera_leave_one_out.py``) and part of the training data
of the learned fallback (:mod:`.training`). Both must read Vera's 24 labels the
same way, so the translation lives in one place:

* ``CORRESPONDENCE``: Vera label -> the set of our codes that mean the same;
  the benchmark counts agreement when our category is in the set;
* ``PRIMARY``: the one code a Vera label gives a training example when nothing
  narrows the set down (see :func:`project_label`);
* the review table of ``docs/VERA_REVIEW.md`` (rows where the project disagrees
  with Vera, with the category the project gives), parsed by
  :func:`parse_review`. The package ships the same table as
  ``data/vera_review.csv`` (docs are not package data); a test keeps the two
  identical.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..config import vocab

__all__ = [
    "CITIES",
    "CORRESPONDENCE",
    "NO_COUNTERPART",
    "PRIMARY",
    "REVIEW_KINDS",
    "ReviewEntry",
    "VeraRow",
    "find_review",
    "load_review_data",
    "load_rows",
    "parse_review",
    "project_label",
]

CITIES = ("New Orleans", "Seattle", "Detroit", "Dallas")
VERA_FILE = "vera_call_types.csv"
REVIEW_FILE = "vera_review.csv"
REVIEW_KINDS = ("vera_error", "scheme_difference")
REVIEW_COLUMNS = (
    "id",
    "city",
    "vera_category",
    "match",
    "project_category",
    "kind",
    "reason",
)

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
# The code a Vera label stands for when nothing else narrows it down.
PRIMARY: dict[str, str] = {
    "Accidents/Traffic Safety": "traffic_collision",
    "Assisting the Public": "assist_public",
    "Call Related Issues": "call_problem",
    "Call Related Isuues": "call_problem",
    "Callback": "administrative",
    "Complaints/Environmental Conditions": "disturbance",
    "Other (Not Crime)": "assist_public",
    "Other Crimes": "other_crime",
    "Violent Crime": "violent_crime",
} | {
    label: next(iter(codes))
    for label, codes in CORRESPONDENCE.items()
    if len(codes) == 1
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
class VeraRow:
    """One row of Vera's file; ``label`` and ``alt`` are stripped."""

    city: str
    column: str
    value: str
    count: int
    label: str
    alt: str


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    """One row of the review table in docs/VERA_REVIEW.md."""

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


def _data(name: str) -> str:
    return resources.files(__package__).joinpath("data", name).read_text("utf-8")


def load_rows(path: Path | None = None) -> list[VeraRow]:
    """Vera's rows (the shipped copy unless ``path`` is given)."""
    text = path.read_text(encoding="utf-8") if path else _data(VERA_FILE)
    rows = []
    for rec in csv.DictReader(text.splitlines()):
        rows.append(
            VeraRow(
                rec["City"].strip(),
                rec["Column_name"].strip(),
                rec["Field 1"],
                int(float(rec["Count"] or 0)),
                (rec["Category"] or "").strip(),
                (rec["Category - Alternate"] or "").strip(),
            )
        )
    return rows


def _check(entry: ReviewEntry) -> ReviewEntry:
    if entry.kind not in REVIEW_KINDS:
        raise ValueError(f"{entry.id}: kind must be one of {REVIEW_KINDS}")
    if entry.project_category not in vocab.CALL_TYPE_CATEGORIES:
        raise ValueError(f"{entry.id}: unknown category {entry.project_category}")
    if entry.vera_category not in CORRESPONDENCE:
        raise ValueError(f"{entry.id}: unknown Vera label {entry.vera_category}")
    if entry.match.startswith("/"):
        re.compile(entry.match[1:-1])
    return entry


def _split_row(line: str) -> list[str]:
    """Split a markdown table row on unescaped pipes (``\\|`` is a literal)."""
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.replace("\\|", "|").strip() for p in parts]


def parse_review(markdown: str) -> list[ReviewEntry]:
    """Read the exclusion table (the one whose header starts ``| id |``).

    Why strict: a malformed or stale entry would silently change the
    benchmark and the training labels, so bad rows raise ``ValueError``.
    """
    entries: list[ReviewEntry] = []
    in_table = False
    for line in markdown.splitlines():
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
        cells = _split_row(line)
        if len(cells) != 7:
            raise ValueError(f"review row needs 7 cells: {line!r}")
        cells = [c.strip("`") if i == 3 else c for i, c in enumerate(cells)]
        entries.append(_check(ReviewEntry(*cells)))
    if len({e.id for e in entries}) != len(entries):
        raise ValueError("duplicate review ids")
    return entries


@lru_cache(maxsize=1)
def load_review_data() -> tuple[ReviewEntry, ...]:
    """The review table as shipped with the package (``data/vera_review.csv``)."""
    rows = csv.DictReader(_data(REVIEW_FILE).splitlines())
    return tuple(_check(ReviewEntry(*(r[c] for c in REVIEW_COLUMNS))) for r in rows)


def find_review(entries: Iterable[ReviewEntry], row: VeraRow) -> ReviewEntry | None:
    """The first review entry that covers ``row``, if any."""
    return next((e for e in entries if e.matches(row.city, row.label, row.value)), None)


def project_label(
    row: VeraRow,
    *,
    rule_category: str | None,
    review: Iterable[ReviewEntry],
    narrow: Callable[[str, frozenset[str]], str | None] | None = None,
) -> str | None:
    """The category a Vera row teaches, in the project's scheme, or ``None``.

    Why this order: the review table is the project's own reading of the
    rows it disagrees on; a rule category inside Vera's set is the most
    specific reading that Vera's label allows; ``narrow`` (the fallback's
    nearest project example restricted to Vera's set) picks among a
    many-code label such as *Complaints/Environmental Conditions*; the
    label's primary code is the last resort. Rows without a comparable label
    (blank, *Statuses*) teach nothing.
    """
    entry = find_review(review, row)
    if entry is not None:
        return entry.project_category
    allowed = CORRESPONDENCE.get(row.label)
    if not allowed:
        return None
    if rule_category in allowed:
        return rule_category
    if len(allowed) > 1 and narrow is not None:
        picked = narrow(row.value, allowed)
        if picked in allowed:
            return picked
    return PRIMARY[row.label]
