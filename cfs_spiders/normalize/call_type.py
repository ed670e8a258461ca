"""Put a raw call type into one common category (``vocab.CALL_TYPE_CATEGORIES``).

Why the order is what it is: a feed's own crosswalk (``crosswalks/<feed_id>.csv``)
was reviewed by a person value by value, so it is the authority for that feed.
It is consulted by code first (codes are stable; descriptions get re-worded),
then by description. Only when the crosswalk has no row do the general keyword
rules of :mod:`.rules` fill in (``basis="rule"``); when no rule fires either,
the learned fallback of :mod:`.similar` offers the category of the most similar
labelled example (``basis="similar"``, with the example and its similarity).
When nothing is close enough the answer is ``unmapped``: counted and reported,
never guessed.

What a result records (so a low-confidence guess can be told from a sure match):

======================  ==========================================================
``category``            a code of ``vocab.CALL_TYPE_CATEGORIES``
``basis``               ``crosswalk``, ``rule``, ``similar`` or ``unmapped``
``apco_code``           APCO common incident type code, when one fits
``confidence``          ``high``/``medium``/``low``: the crosswalk row's own
                        confidence; the rule's; for ``similar`` ``medium`` at a
                        similarity of 0.8 or more, else ``low``; ``None`` when
                        unmapped
``crosswalk_version``   the ``# version:`` of the feed's crosswalk whenever one
                        was consulted (also when it had no row for the value,
                        since a later version may add one); ``None`` for a feed
                        without a crosswalk
``rule``                name of the keyword rule that fired (``basis=rule``)
``matched_example``     the labelled example that decided (``basis=similar``)
``matched_source``      where that example's label comes from
                        (``crosswalk:<feed_id>``, ``vera:<city>``, ``apco:<code>``)
``similarity``          its cosine similarity, 0..1 (``basis=similar``)
======================  ==========================================================

The crosswalk file format is described in :mod:`.crosswalk` and
``crosswalks/README.md``.

Everything here is total: any input returns a :class:`CategoryResult`, and a
broken crosswalk degrades to the rules (with a logged error) instead of stopping
a crawl. Results are cached per distinct ``(feed_id, raw, code)`` because call
types repeat heavily.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from . import rules
from .crosswalk import (
    CROSSWALK_DIR,
    CROSSWALK_FIELDS,
    Crosswalk,
    CrosswalkError,
    CrosswalkRow,
    _to_text,
    crosswalk_version,
    load_crosswalk,
    normalize_key,
)

__all__ = [
    "CROSSWALK_DIR",
    "CROSSWALK_FIELDS",
    "CategoryResult",
    "Crosswalk",
    "CrosswalkError",
    "CrosswalkRow",
    "categorize",
    "crosswalk_version",
    "load_crosswalk",
    "normalize_key",
    "similar_fallback",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CategoryResult:
    """The category of one call type and how it was decided.

    ``basis`` is in ``vocab.CATEGORY_BASIS``; ``confidence`` is ``high``,
    ``medium`` or ``low`` (``None`` when unmapped); ``apco_code`` is an APCO
    common incident type code when one fits. The other fields are the
    provenance described in the module docstring; the first four keep their
    positions so older callers are unaffected.
    """

    category: str
    basis: str
    apco_code: str | None = None
    confidence: str | None = None
    crosswalk_version: str | None = None
    rule: str | None = None
    matched_example: str | None = None
    matched_source: str | None = None
    similarity: float | None = None


UNMAPPED = CategoryResult("unmapped", "unmapped", None, None)


# A similar example at or above this similarity is reported as ``medium``.
SIMILAR_MEDIUM = 0.8


def _from_row(row: CrosswalkRow, version: str | None) -> CategoryResult:
    return CategoryResult(
        row.category, "crosswalk", row.apco_code, row.confidence, version
    )


def similar_fallback(raw: str) -> CategoryResult | None:
    """The learned fallback alone (no crosswalk, no rules), or ``None``.

    The index is built once per process from the shipped examples
    (:func:`.training.default_index`; a crawl builds it when a spider opens,
    off the reactor, and anything else on first use). A failure to build it is logged and
    the value stays unmapped: the fallback is a help, never a reason to stop.
    """
    try:
        from .training import default_index

        match = default_index().query(raw)
    except Exception:  # noqa: BLE001
        log.exception("similar-example fallback failed for %r", raw)
        return None
    if match is None:
        return None
    confidence = "medium" if match.similarity >= SIMILAR_MEDIUM else "low"
    return CategoryResult(
        match.category,
        "similar",
        match.apco_code,
        confidence,
        matched_example=match.example,
        matched_source=match.source,
        similarity=match.similarity,
    )


@lru_cache(maxsize=65536)
def _categorize(
    feed_id: str | None, raw: str | None, code: str | None
) -> CategoryResult:
    """Cached core of :func:`categorize`; arguments are already plain text."""
    version: str | None = None
    if feed_id:
        try:
            xwalk = load_crosswalk(feed_id)
        except Exception:  # noqa: BLE001 - fall back to the rules, loudly
            log.exception("crosswalk for %r is malformed; using rules only", feed_id)
            xwalk = Crosswalk(feed_id, None)
        version = xwalk.version
        if code:
            row = xwalk.by_code.get(normalize_key(code))
            if row is not None:
                return _from_row(row, version)
        if raw:
            row = xwalk.by_description.get(normalize_key(raw))
            if row is not None:
                return _from_row(row, version)
    if raw:
        match = rules.classify(raw)
        if match is not None:
            return CategoryResult(
                match.category,
                "rule",
                match.apco_code,
                match.confidence,
                version,
                rule=match.rule,
            )
        similar = similar_fallback(raw)
        if similar is not None:
            return replace(similar, crosswalk_version=version)
    if version is not None:
        return replace(UNMAPPED, crosswalk_version=version)
    return UNMAPPED


def categorize(
    call_type_raw: Any,
    *,
    feed_id: Any = None,
    code: Any = None,
) -> CategoryResult:
    """Categorize one call type: crosswalk by code, by description, rules,
    similar labelled example, else unmapped.

    Accepts anything (``None``, numbers, bytes) and never raises: a normalizer
    that throws would drop the whole record.
    """
    try:
        raw = _to_text(call_type_raw).strip() if call_type_raw is not None else None
        cod = _to_text(code).strip() if code is not None else None
        fid = _to_text(feed_id).strip() if feed_id is not None else None
        return _categorize(fid or None, raw or None, cod or None)
    except Exception:  # noqa: BLE001
        log.exception("categorize failed for %r", call_type_raw)
        return UNMAPPED
