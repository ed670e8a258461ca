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

Crosswalk file format (documented in ``crosswalks/README.md``): the first line
is ``# version: N``; then a CSV header
``raw_field,raw_value,category,apco_code,confidence,note``. ``raw_field`` is
``call_type_raw`` (the published description) or ``call_type_code_raw`` (the
published code). Descriptions and codes match case- and whitespace-insensitively.

Everything here is total: any input returns a :class:`CategoryResult`, and a
broken crosswalk degrades to the rules (with a logged error) instead of stopping
a crawl. Results are cached per distinct ``(feed_id, raw, code)`` because call
types repeat heavily.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..config import vocab
from . import rules

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

CROSSWALK_DIR = Path(__file__).resolve().parent.parent / "crosswalks"
CROSSWALK_FIELDS = ("raw_field", "raw_value", "category", "apco_code", "confidence")
RAW_FIELDS = ("call_type_raw", "call_type_code_raw")
CONFIDENCES = ("high", "medium", "low")
_FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_]{0,127}$")
_VERSION = re.compile(r"^#\s*version\s*:\s*(\S+)\s*$", re.IGNORECASE)
_WS = re.compile(r"\s+")


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


@dataclass(frozen=True, slots=True)
class CrosswalkRow:
    """One reviewed crosswalk row."""

    raw_field: str
    raw_value: str
    category: str
    apco_code: str | None
    confidence: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Crosswalk:
    """A feed's crosswalk, indexed by normalized code and description."""

    feed_id: str
    version: str | None
    by_code: MappingProxyType[str, CrosswalkRow] = field(
        default_factory=lambda: MappingProxyType({})
    )
    by_description: MappingProxyType[str, CrosswalkRow] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __len__(self) -> int:
        return len(self.by_code) + len(self.by_description)


class CrosswalkError(ValueError):
    """A crosswalk file is malformed; the message names the file and line."""


def normalize_key(value: Any) -> str:
    """Case- and whitespace-insensitive key: ``" Aid  Response"`` == ``"AID
    RESPONSE"``. Never raises."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = _to_text(value)
    return _WS.sub(" ", value).strip().casefold()


def _to_text(value: Any) -> str:
    """Best-effort text for an arbitrary input (bytes, numbers, objects)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not stop a crawl
        return ""


def _parse(feed_id: str, text: str, source: str) -> Crosswalk:
    """Parse crosswalk text. Strict: every problem raises CrosswalkError."""
    lines = text.splitlines(keepends=True)
    version: str | None = None
    body_start = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            body_start = i
            break
        m = _VERSION.match(stripped)
        if m:
            version = m.group(1)
    else:
        body_start = len(lines)
    if version is None:
        raise CrosswalkError(f"{source}: first line must be '# version: N'")
    reader = csv.DictReader(io.StringIO("".join(lines[body_start:])))
    missing = [f for f in CROSSWALK_FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise CrosswalkError(f"{source}: missing column(s) {missing}")
    by_code: dict[str, CrosswalkRow] = {}
    by_desc: dict[str, CrosswalkRow] = {}
    for n, rec in enumerate(reader, start=body_start + 2):
        where = f"{source}:{n}"
        raw_field = (rec.get("raw_field") or "").strip()
        raw_value = rec.get("raw_value") or ""
        category = (rec.get("category") or "").strip()
        apco = (rec.get("apco_code") or "").strip() or None
        confidence = (rec.get("confidence") or "").strip()
        if raw_field not in RAW_FIELDS:
            raise CrosswalkError(f"{where}: raw_field must be one of {RAW_FIELDS}")
        if category not in vocab.CALL_TYPE_CATEGORIES or category == "unmapped":
            raise CrosswalkError(f"{where}: unknown category {category!r}")
        if confidence not in CONFIDENCES:
            raise CrosswalkError(f"{where}: confidence must be one of {CONFIDENCES}")
        key = normalize_key(raw_value)
        if not key:
            raise CrosswalkError(f"{where}: empty raw_value")
        row = CrosswalkRow(
            raw_field, raw_value, category, apco, confidence, rec.get("note") or ""
        )
        index = by_code if raw_field == "call_type_code_raw" else by_desc
        old = index.get(key)
        if old is not None and (old.category, old.apco_code) != (
            row.category,
            row.apco_code,
        ):
            raise CrosswalkError(
                f"{where}: {raw_value!r} conflicts with an earlier row"
            )
        index.setdefault(key, row)
    return Crosswalk(
        feed_id, version, MappingProxyType(by_code), MappingProxyType(by_desc)
    )


@lru_cache(maxsize=256)
def load_crosswalk(feed_id: str | None) -> Crosswalk:
    """Load ``crosswalks/<feed_id>.csv``.

    A feed without a crosswalk (or an id that is not a plain feed id, so no
    path can escape the directory) gets an empty crosswalk with version
    ``None``. A malformed file raises :class:`CrosswalkError`, because that is
    a bug for the tests to catch, not something to paper over.
    """
    fid = feed_id if isinstance(feed_id, str) else ""
    if not _FEED_ID.match(fid):
        return Crosswalk(fid, None)
    path = CROSSWALK_DIR / f"{fid}.csv"
    if not path.is_file():
        return Crosswalk(fid, None)
    return _parse(fid, path.read_text(encoding="utf-8-sig"), str(path))


def crosswalk_version(feed_id: str | None) -> str | None:
    """The ``# version:`` of a feed's crosswalk, ``None`` when there is none.

    Recorded with each run so a category can be traced to the crosswalk that
    produced it. Never raises (a malformed file reports ``None``).
    """
    try:
        return load_crosswalk(feed_id).version
    except Exception:  # noqa: BLE001
        log.exception("crosswalk for %r is malformed", feed_id)
        return None


# A similar example at or above this similarity is reported as ``medium``.
SIMILAR_MEDIUM = 0.8


def _from_row(row: CrosswalkRow, version: str | None) -> CategoryResult:
    return CategoryResult(
        row.category, "crosswalk", row.apco_code, row.confidence, version
    )


def similar_fallback(raw: str) -> CategoryResult | None:
    """The learned fallback alone (no crosswalk, no rules), or ``None``.

    The index is built on first use from the shipped examples
    (:func:`.training.default_index`). A failure to build it is logged and
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
