"""Every labelled call type the project has, as training data for the fallback.

Why a module of its own: the learned fallback (:mod:`.similar`) must be built
the same way in a crawl and in the benchmarks, and the benchmarks must be able
to leave a city or a feed out of it. Three sources, all shipped with the
package:

* every feed crosswalk (``crosswalks/*.csv``, description rows; code rows are
  not text), labelled by a person value by value;
* the APCO common incident types (``data/apco_call_types.csv``: code,
  description, notes and the category the project gives each code);
* the Vera Institute's labels of four cities (``data/vera_call_types.csv``),
  translated to the project's codes by :func:`.vera.project_label`, with the
  review table of ``docs/VERA_REVIEW.md`` (``data/vera_review.csv``) taking
  precedence. A many-code Vera label is narrowed with an index of the first
  two sources, restricted to the codes the label allows.

Nothing is downloaded; building the default index takes well under a second.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterable
from dataclasses import replace
from importlib import resources

from . import rules, vera
from .crosswalk import crosswalk_feeds, load_crosswalk
from .similar import DEFAULT_K, DEFAULT_THRESHOLD, Example, SimilarityIndex

__all__ = [
    "apco_examples",
    "build_index",
    "crosswalk_examples",
    "crosswalk_feeds",
    "labelled_feeds",
    "default_index",
    "default_index_built",
    "vera_examples",
]

APCO_FILE = "apco_call_types.csv"


def crosswalk_examples(exclude_feeds: Iterable[str] = ()) -> list[Example]:
    """The description rows of every crosswalk except ``exclude_feeds``."""
    skip = set(exclude_feeds)
    out: list[Example] = []
    for feed_id in crosswalk_feeds():
        if feed_id in skip:
            continue
        for row in load_crosswalk(feed_id).by_description.values():
            out.append(
                Example(
                    row.raw_value, row.category, f"crosswalk:{feed_id}", row.apco_code
                )
            )
    return out


def apco_examples() -> list[Example]:
    """The APCO list: description and (when it adds words) the notes."""
    text = resources.files(__package__).joinpath("data", APCO_FILE).read_text("utf-8")
    out: list[Example] = []
    for rec in csv.DictReader(text.splitlines()):
        code, category = rec["code"], rec["category"]
        for part in (rec["description"], rec["notes"]):
            if part and part.strip():
                out.append(Example(part, category, f"apco:{code}", code))
    return out


def _vera_candidates(
    exclude_cities: Iterable[str],
) -> tuple[list[Example], list[tuple[Example, frozenset[str]]]]:
    """Vera's rows in our codes, and those whose many-code label still has to
    be narrowed (each with the codes the label allows); those carry the
    label's primary code until then."""
    skip = set(exclude_cities)
    review = vera.load_review_data()
    out: list[Example] = []
    pending: list[tuple[Example, frozenset[str]]] = []
    for row in vera.load_rows():
        if row.city in skip:
            continue
        match = rules.classify(row.value)
        rule_category = match.category if match else None
        label = vera.project_label(row, rule_category=rule_category, review=review)
        if label is None:
            continue
        ex = Example(row.value, label, f"vera:{row.city}")
        out.append(ex)
        allowed = vera.CORRESPONDENCE.get(row.label, frozenset())
        if (
            vera.find_review(review, row) is None
            and len(allowed) > 1
            and rule_category not in allowed
        ):
            pending.append((ex, allowed))
    return out, pending


def _not_vera(ex: Example) -> bool:
    return not ex.source.startswith("vera:")


def vera_examples(
    exclude_cities: Iterable[str] = (),
    *,
    narrow_with: SimilarityIndex | None = None,
) -> list[Example]:
    """Vera's rows of every city except ``exclude_cities``, in our codes,
    many-code labels narrowed with ``narrow_with`` when given."""
    examples, pending = _vera_candidates(exclude_cities)
    if narrow_with is None:
        return examples
    narrowed: dict[int, str] = {}
    for ex, allowed in pending:
        picked = narrow_with.best_within(ex.text, allowed, only=_not_vera)
        if picked is not None and picked != ex.category:
            narrowed[id(ex)] = picked
    return [
        replace(ex, category=narrowed[id(ex)]) if id(ex) in narrowed else ex
        for ex in examples
    ]


def build_index(
    *,
    exclude_feeds: Iterable[str] = (),
    exclude_cities: Iterable[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    k: int = DEFAULT_K,
) -> SimilarityIndex:
    """An index of every labelled example, minus what a benchmark holds out.

    One index is built: the vectors do not depend on the labels, so Vera's
    many-code labels are narrowed afterwards against the crosswalk and APCO
    examples of the same index, and relabelled in place.
    """
    base = crosswalk_examples(exclude_feeds) + apco_examples()
    vera_ex, pending = _vera_candidates(exclude_cities)
    index = SimilarityIndex(base + vera_ex, threshold=threshold, k=k)
    position = {id(ex): i for i, ex in enumerate(index.examples)}
    changes: dict[int, str] = {}
    for ex, allowed in pending:
        i = position.get(id(ex))
        if i is None:  # an identical text with the same label was kept instead
            continue
        picked = index.best_within(ex.text, allowed, only=_not_vera)
        if picked is not None and picked != ex.category:
            changes[i] = picked
    index.relabel(changes)
    return index


_DEFAULT: list[SimilarityIndex] = []
_DEFAULT_LOCK = threading.Lock()


def default_index() -> SimilarityIndex:
    """The index a crawl uses: every example the package ships, built once
    per process. Thread-safe: the crawl builds it on a worker thread when a
    spider opens (``ingest.extensions.WarmFallback``), and a caller that asks
    meanwhile waits for that build instead of starting a second one."""
    if _DEFAULT:
        return _DEFAULT[0]
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            _DEFAULT.append(build_index())
        return _DEFAULT[0]


def default_index_built() -> bool:
    """Whether :func:`default_index` has been built in this process."""
    return bool(_DEFAULT)


def labelled_feeds() -> list[str]:
    """Feeds whose crosswalk has description rows: the ones that teach the
    fallback. A crosswalk of codes only (PulsePoint's ``ME``, Oakland's ``945A``)
    holds no wording to learn from, nor to hold out."""
    return [f for f in crosswalk_feeds() if load_crosswalk(f).by_description]
