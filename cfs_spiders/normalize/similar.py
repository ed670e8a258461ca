"""Nearest labelled example: the learned fallback for call types no rule knows.

Why: a new city's call types are mostly ordinary dispatch vocabulary in its own
spelling (``DISTURBANCE-NEIGHBOR``, ``Trfc Collision-Unkn Inj``, ``MVC No
Injuries``). Where no crosswalk row and no keyword rule fires, the most similar
value some person already labelled is the best evidence there is. The project
has thousands of such labels: every feed crosswalk, the Vera Institute's
labels of four cities and the APCO common incident types
(:mod:`.training` gathers them).

How: character n-grams (2 to 4, within word boundaries, as scikit-learn's
``char_wb`` analyzer) of the normalized text
(:func:`.rules.normalize_text`: abbreviations expanded, negated words
dropped), TF-IDF weighted, compared by cosine similarity. The ``k`` nearest
examples vote with their similarity; the winning category's closest example is
reported with its similarity. Below ``threshold``, or when the neighbours do not
agree (the winner holds less than ``min_share`` of the votes), the answer is
``None`` and the value stays ``unmapped``: on the values the rules miss, an
answer from a merely close neighbour was right 27 times in 64, one from
agreeing neighbours 25 times in 40 (``docs/VERA_REVIEW.md``).

Deterministic: no randomness, ties broken by example order and category name.
Built in about a second from the shipped data (no download, no pickled model, no
machine-learning library); a crawl builds it on a worker thread when a spider
opens (``ingest/extensions.py`` ``WarmFallback``), so the reactor never waits
for it. Answers are cached per distinct value by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from ..config import vocab
from .rules import normalize_text

__all__ = [
    "DEFAULT_K",
    "char_ngrams",
    "is_uninformative",
    "DEFAULT_MIN_SHARE",
    "DEFAULT_THRESHOLD",
    "Example",
    "SimilarMatch",
    "SimilarityIndex",
]

DEFAULT_THRESHOLD = 0.5
DEFAULT_K = 3
# The winning category's share of the neighbours' summed similarity.
DEFAULT_MIN_SHARE = 0.6

# A value made only of the catch-all word OTHER (plus codes and words of
# timing or form) names no kind of call: ``OTHER``, ``40/01 - OTHER``,
# ``41/40 - OTHER - IN PROGRESS``. Its labels disagree wherever it occurs:
# SFFD's ``Other`` is assist_public in the project's crosswalk and Dallas'
# ``40 - Other`` other_crime; Vera's examples file puts ``OTHER`` under Other
# (Not Crime) and its Dallas rows under Other Crimes. What the catch-all holds
# depends on the agency's own list, so a nearest neighbour would copy one
# city's reading onto another: such values are neither learned from nor
# answered, and stay ``unmapped`` unless the feed's crosswalk says what its
# catch-all means. (``MISCELLANEOUS`` is different: every crosswalk that has it
# files it as a service call, and a low-confidence rule says so.)
_CATCH_ALL = frozenset({"OTHER", "OTHERS"})
_FILLER = frozenset(
    {"ALL", "GENERAL", "CALL", "CALLS", "INCIDENT", "INCIDENTS", "TYPE"}
    | {"IN", "PROGRESS", "JUST", "OCCURRED", "OCRD"}
)


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled call type: ``source`` says where the label comes from
    (``crosswalk:<feed_id>``, ``vera:<city>``, ``apco:<code>``)."""

    text: str
    category: str
    source: str
    apco_code: str | None = None


@dataclass(frozen=True, slots=True)
class SimilarMatch:
    """The fallback's answer: the category, and the example that decided it."""

    category: str
    example: str
    similarity: float
    source: str
    apco_code: str | None


def char_ngrams(text: str, low: int = 2, high: int = 4) -> list[str]:
    """Character n-grams within word boundaries, each word padded with one
    space either side (the ``char_wb`` analyzer of scikit-learn's
    ``TfidfVectorizer``; a word shorter than ``n`` counts once)."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def _weights(grams: list[str], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear TF times IDF, L2-normalized; n-grams unknown to ``idf`` drop."""
    counts: dict[str, int] = {}
    for g in grams:
        counts[g] = counts.get(g, 0) + 1
    vec = {g: (1.0 + math.log(c)) * idf[g] for g, c in counts.items() if g in idf}
    norm = math.sqrt(sum(w * w for w in vec.values()))
    return {g: w / norm for g, w in vec.items()} if norm else {}


def is_uninformative(norm: str) -> bool:
    """Whether normalized ``norm`` is only a catch-all word (see
    ``_CATCH_ALL``): tokens holding a digit are codes and do not count."""
    words = {w for w in norm.split() if not any(c.isdigit() for c in w)}
    return bool(words & _CATCH_ALL) and words <= _CATCH_ALL | _FILLER


class SimilarityIndex:
    """A TF-IDF nearest-neighbour index over labelled examples.

    ``examples`` with an empty or uninformative normalized text
    (:func:`is_uninformative`) are skipped; identical
    normalized texts are kept once per category (a text labelled two ways
    votes both ways). The vectors live in an inverted index (n-gram ->
    examples), plain Python and numpy: a few thousand short strings need no
    machine-learning library, and a crawl that meets its first unknown value
    should not wait for one to import.
    """

    def __init__(
        self,
        examples: Iterable[Example],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        k: int = DEFAULT_K,
        min_share: float = DEFAULT_MIN_SHARE,
    ) -> None:
        self.threshold = threshold
        self.k = k
        self.min_share = min_share
        seen: set[tuple[str, str]] = set()
        keep: list[Example] = []
        grams: list[list[str]] = []
        for ex in examples:
            if ex.category not in vocab.CALL_TYPE_CATEGORIES or (
                ex.category == "unmapped"
            ):
                raise ValueError(f"example {ex.text!r}: bad category {ex.category!r}")
            norm = normalize_text(ex.text)
            if not norm or (norm, ex.category) in seen or is_uninformative(norm):
                continue
            seen.add((norm, ex.category))
            keep.append(ex)
            grams.append(char_ngrams(norm))
        if not keep:
            raise ValueError("a similarity index needs at least one example")
        self.examples: tuple[Example, ...] = tuple(keep)
        self._categories = tuple(ex.category for ex in keep)
        df: dict[str, int] = {}
        for gs in grams:
            for g in set(gs):
                df[g] = df.get(g, 0) + 1
        n = len(keep)
        # Smoothed IDF, as scikit-learn's default.
        self._idf = {g: math.log((1 + n) / (1 + d)) + 1.0 for g, d in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, gs in enumerate(grams):
            for g, w in _weights(gs, self._idf).items():
                rows, weights = postings.setdefault(g, ([], []))
                rows.append(i)
                weights.append(w)
        self._postings = {
            g: (np.array(rows, dtype=np.intp), np.array(weights))
            for g, (rows, weights) in postings.items()
        }

    def __len__(self) -> int:
        return len(self.examples)

    def _ranked(self, text: str | None) -> list[tuple[float, int]]:
        """(similarity, example position) pairs with a positive similarity,
        best first; ties by position, so the order is deterministic."""
        norm = normalize_text(text) if text else ""
        if not norm or is_uninformative(norm):
            return []
        query = _weights(char_ngrams(norm), self._idf)
        if not query:
            return []
        scores = np.zeros(len(self.examples))
        for g, qw in query.items():
            rows, weights = self._postings[g]
            scores[rows] += qw * weights
        hits = np.flatnonzero(scores > 1e-12)
        order = hits[np.lexsort((hits, -scores[hits]))]
        return [(float(scores[i]), int(i)) for i in order]

    def best_within(
        self,
        text: str | None,
        allowed: frozenset[str],
        *,
        only: Callable[[Example], bool] | None = None,
    ) -> str | None:
        """The nearest example's category among ``allowed`` codes only (and,
        with ``only``, among the examples it accepts), or ``None`` below the
        threshold. Used to narrow a many-code label."""
        for sim, i in self._ranked(text):
            if self._categories[i] in allowed and (
                only is None or only(self.examples[i])
            ):
                return self._categories[i] if sim >= self.threshold else None
        return None

    def relabel(self, categories: dict[int, str]) -> None:
        """Give the examples at these positions new categories (the vectors
        do not depend on labels, so nothing else changes)."""
        if not categories:
            return
        examples = list(self.examples)
        cats = list(self._categories)
        for i, category in categories.items():
            if category not in vocab.CALL_TYPE_CATEGORIES or category == "unmapped":
                raise ValueError(f"bad category {category!r}")
            examples[i] = replace(examples[i], category=category)
            cats[i] = category
        self.examples = tuple(examples)
        self._categories = tuple(cats)

    def query(self, text: str | None) -> SimilarMatch | None:
        """The nearest examples' category for ``text``, or ``None`` below the
        threshold, when the neighbours disagree, or for text with no letters
        or digits."""
        top = self._ranked(text)[: self.k]
        if not top or top[0][0] < self.threshold:
            return None
        votes: dict[str, float] = {}
        for sim, i in top:
            votes[self._categories[i]] = votes.get(self._categories[i], 0.0) + sim
        category = min(votes, key=lambda c: (-votes[c], c))
        if votes[category] < self.min_share * sum(votes.values()):
            return None
        sim, winner = next(p for p in top if self._categories[p[1]] == category)
        if sim < self.threshold:
            return None
        ex = self.examples[winner]
        return SimilarMatch(
            ex.category, ex.text, round(sim, 4), ex.source, ex.apco_code
        )
