"""Read a feed's call-type crosswalk (``crosswalks/<feed_id>.csv``).

Why a module of its own: the crosswalks are read by :mod:`.call_type` (the
authority for a feed's values) and by :mod:`.training` (every crosswalk is also
training data of the learned fallback), and the fallback is itself used by
:mod:`.call_type`; keeping the reader here keeps those imports one-way.

Crosswalk file format (documented in ``crosswalks/README.md``): the first line
is ``# version: N``; then a CSV header
``raw_field,raw_value,category,apco_code,confidence,note``. ``raw_field`` is
``call_type_raw`` (the published description) or ``call_type_code_raw`` (the
published code). Descriptions and codes match case- and whitespace-insensitively.

:func:`load_crosswalk` is strict: a malformed file raises
:class:`CrosswalkError` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..config import vocab

__all__ = [
    "CROSSWALK_DIR",
    "CROSSWALK_FIELDS",
    "Crosswalk",
    "CrosswalkError",
    "CrosswalkRow",
    "crosswalk_feeds",
    "crosswalk_version",
    "load_crosswalk",
    "normalize_key",
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


def crosswalk_feeds() -> list[str]:
    """Feed ids that have a crosswalk file, sorted."""
    return sorted(p.stem for p in CROSSWALK_DIR.glob("*.csv"))
