"""Nearest labelled example: the learned fallback for call types no rule knows.

Why: a new city's call types are mostly ordinary dispatch vocabulary in its own
spelling (``DISTURBANCE-NEIGHBOR``, ``Trfc Collision-Unkn Inj``, ``MVC No
Injuries``). Where no crosswalk row and no keyword rule fires, the most similar
value some person already labelled is the best evidence there is. The project
has thousands of such labels: every feed crosswalk, the Vera Institute's
labels of four cities and the APCO common incident types
(:mod:`.training` gathers them).

How: character n-grams (2 to 4, within word boundaries) of the normalized text
(:func:`.rules.normalize_text`: abbreviations expanded, negated words
dropped), TF-IDF weighted, compared by cosine similarity. The ``k`` nearest
examples vote with their similarity; the winning category's closest example is
reported with its similarity. Below ``threshold``, or when the neighbours do not
agree (the winner holds less than ``min_share`` of the votes), the answer is
``None`` and the value stays ``unmapped``: on the values the rules miss, an
answer from a merely close neighbour was right 27 times in 64, one from
agreeing neighbours 25 times in 40 (``docs/VERA_REVIEW.md``).

Deterministic: the vectorizer and the arithmetic have no randomness, and ties
are broken by category name. Built in well under a second from the shipped
data the first time it is needed (no download, no pickled model); answers are
cached per distinct value by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ..config import vocab
from .rules import normalize_text

__all__ = [
    "DEFAULT_K",
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


class SimilarityIndex:
    """A TF-IDF nearest-neighbour index over labelled examples.

    ``examples`` with an empty normalized text are skipped; identical
    normalized texts are kept once per category (a text labelled two ways
    votes both ways).
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
        texts: list[str] = []
        for ex in examples:
            if ex.category not in vocab.CALL_TYPE_CATEGORIES or (
                ex.category == "unmapped"
            ):
                raise ValueError(f"example {ex.text!r}: bad category {ex.category!r}")
            norm = normalize_text(ex.text)
            if not norm or (norm, ex.category) in seen:
                continue
            seen.add((norm, ex.category))
            keep.append(ex)
            texts.append(norm)
        if not keep:
            raise ValueError("a similarity index needs at least one example")
        self.examples: tuple[Example, ...] = tuple(keep)
        self._categories = np.array([ex.category for ex in keep])
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 4),
            sublinear_tf=True,
            lowercase=False,
            dtype=np.float64,
        )
        self._matrix = self._vectorizer.fit_transform(texts).tocsr()

    def __len__(self) -> int:
        return len(self.examples)

    def _similarities(self, text: str | None) -> np.ndarray | None:
        norm = normalize_text(text) if text else ""
        if not norm:
            return None
        vec = self._vectorizer.transform([norm])
        if vec.nnz == 0:
            return None
        return (self._matrix @ vec.T).toarray().ravel()

    def best_within(self, text: str | None, allowed: frozenset[str]) -> str | None:
        """The nearest example's category among ``allowed`` codes only, or
        ``None`` below the threshold. Used to narrow a many-code label."""
        sims = self._similarities(text)
        if sims is None:
            return None
        mask = np.isin(self._categories, sorted(allowed))
        if not mask.any():
            return None
        sims = np.where(mask, sims, -1.0)
        i = int(np.lexsort((np.arange(sims.size), -sims))[0])
        return str(self._categories[i]) if sims[i] >= self.threshold else None

    def query(self, text: str | None) -> SimilarMatch | None:
        """The nearest examples' category for ``text``, or ``None`` below the
        threshold (or for text with no letters or digits)."""
        sims = self._similarities(text)
        if sims is None:
            return None
        k = min(self.k, sims.size)
        # Stable order: similarity descending, then example position.
        top = np.lexsort((np.arange(sims.size), -sims))[:k]
        best_sim = float(sims[top[0]])
        if best_sim < self.threshold:
            return None
        votes: dict[str, float] = {}
        for i in top:
            if sims[i] <= 0:
                continue
            votes[self._categories[i]] = votes.get(self._categories[i], 0.0) + float(
                sims[i]
            )
        category = min(votes, key=lambda c: (-votes[c], c))
        if votes[category] < self.min_share * sum(votes.values()):
            return None
        winner = next(i for i in top if self._categories[i] == category)
        ex = self.examples[winner]
        sim = round(float(sims[winner]), 4)
        if sim < self.threshold:
            return None
        return SimilarMatch(ex.category, ex.text, sim, ex.source, ex.apco_code)
