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
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from . import rules, vera
from .crosswalk import crosswalk_feeds, load_crosswalk
from .similar import DEFAULT_K, DEFAULT_THRESHOLD, Example, SimilarityIndex

__all__ = [
    "apco_examples",
    "build_index",
    "crosswalk_examples",
    "crosswalk_feeds",
    "default_index",
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


def vera_examples(
    exclude_cities: Iterable[str] = (),
    *,
    narrow_with: SimilarityIndex | None = None,
) -> list[Example]:
    """Vera's rows of every city except ``exclude_cities``, in our codes."""
    skip = set(exclude_cities)
    review = vera.load_review_data()

    def narrow(value: str, allowed: frozenset[str]) -> str | None:
        return narrow_with.best_within(value, allowed) if narrow_with else None

    out: list[Example] = []
    for row in vera.load_rows():
        if row.city in skip:
            continue
        match = rules.classify(row.value)
        label = vera.project_label(
            row,
            rule_category=match.category if match else None,
            review=review,
            narrow=narrow,
        )
        if label is not None:
            out.append(Example(row.value, label, f"vera:{row.city}"))
    return out


def build_index(
    *,
    exclude_feeds: Iterable[str] = (),
    exclude_cities: Iterable[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    k: int = DEFAULT_K,
) -> SimilarityIndex:
    """An index of every labelled example, minus what a benchmark holds out."""
    base = crosswalk_examples(exclude_feeds) + apco_examples()
    narrow_with = SimilarityIndex(base, threshold=threshold, k=k)
    examples = base + vera_examples(exclude_cities, narrow_with=narrow_with)
    return SimilarityIndex(examples, threshold=threshold, k=k)


@lru_cache(maxsize=1)
def default_index() -> SimilarityIndex:
    """The index a crawl uses: every example the package ships."""
    return build_index()
