"""Expand the abbreviations of CAD call-type vocabulary before keyword matching.

Why: real dispatch systems abbreviate heavily (``DIST`` disturbance, ``RESID``
residential, ``HIT/RUN``, ``FLW UP``, ``PD ASST``, ``NON-INJ``), and a keyword
rule written for the full word misses the short one. Writing every short form
into every rule would double the rules and still miss some, so the short forms
are expanded once, here, and the rules are written against full words.

The dictionary is data (``data/cad_abbreviations.csv``): one row per
abbreviation with its expansion, its ``scope`` and where it was seen
(``seen_in``: the project's feeds, the second-set captures, the reference
files, or ordinary CAD usage). Two scopes:

* ``word``: the abbreviation is expanded wherever it stands as a word (or, for
  a multi-word key, as a run of words joined by spaces or punctuation:
  ``HIT/RUN`` and ``HIT RUN`` both match the key ``HIT RUN``);
* ``whole``: a short code expanded only when it is the entire value
  (PulsePoint's ``ME`` is "Medical Emergency", but ``ME`` inside a sentence
  is not).

City-only jargon (Detroit ``AUTO X``, SFD's ``1RED``) is deliberately not in
the dictionary: it belongs in a feed's crosswalk. The offence names of a
state's penal code are not city jargon: every agency of the state writes them
(California ``415``, Texas ``UUMV``, Michigan ``UDAA``), so they are here, each
with the statute in its ``note``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["Abbreviation", "expand", "load_abbreviations"]

DATA_FILE = "cad_abbreviations.csv"
SCOPES = ("word", "whole")
_KEY = re.compile(r"^[A-Z0-9&]+(?: [A-Z0-9&]+)*$")
# A word is a run of letters, digits and "&" (so B&E, H&R stay one word).
_WORD_CHARS = "A-Z0-9&"
_JOIN = re.compile(r"[ ./&]+")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """One dictionary row."""

    key: str
    expansion: str
    scope: str
    seen_in: str
    note: str = ""


def _read_rows(text: str, source: str) -> list[Abbreviation]:
    """Parse and check the dictionary; a bad row raises ``ValueError`` naming
    the file and line, because a silent typo would change every category."""
    rows: list[Abbreviation] = []
    seen: set[tuple[str, str]] = set()
    reader = csv.DictReader(text.splitlines())
    for n, rec in enumerate(reader, start=2):
        key = (rec.get("abbreviation") or "").strip().upper()
        expansion = (rec.get("expansion") or "").strip().upper()
        scope = (rec.get("scope") or "").strip()
        if not _KEY.match(key) or not _KEY.match(expansion):
            raise ValueError(f"{source}:{n}: bad abbreviation or expansion {key!r}")
        if scope not in SCOPES:
            raise ValueError(f"{source}:{n}: scope must be one of {SCOPES}")
        if (key, scope) in seen:
            raise ValueError(f"{source}:{n}: duplicate abbreviation {key!r}")
        if key == expansion:
            raise ValueError(f"{source}:{n}: {key!r} expands to itself")
        seen.add((key, scope))
        rows.append(
            Abbreviation(
                key,
                expansion,
                scope,
                (rec.get("seen_in") or "").strip(),
                (rec.get("note") or "").strip(),
            )
        )
    return rows


@lru_cache(maxsize=1)
def load_abbreviations() -> tuple[Abbreviation, ...]:
    """The shipped dictionary (package data, read once)."""
    ref = resources.files(__package__).joinpath("data", DATA_FILE)
    return tuple(_read_rows(ref.read_text(encoding="utf-8"), str(ref)))


@lru_cache(maxsize=1)
def _tables() -> tuple[re.Pattern[str] | None, dict[str, str], dict[str, str]]:
    words: dict[str, str] = {}
    whole: dict[str, str] = {}
    for row in load_abbreviations():
        if row.scope == "word":
            words[_JOIN.sub(" ", row.key)] = row.expansion
        else:
            whole[row.key] = row.expansion
    if not words:
        return None, words, whole
    # Longest keys first so "HIT RUN" wins over a shorter key; words of a
    # multi-word key may be joined by spaces or punctuation (not by a comma,
    # a parenthesis or " - ", which separate clauses).
    alts = []
    keys = [r.key for r in load_abbreviations() if r.scope == "word"]
    for key in sorted(keys, key=lambda k: (-len(k), k)):
        parts = [re.escape(p) for p in key.split(" ")]
        alts.append(r"[ ./&]{1,3}".join(parts))
    pattern = re.compile(
        rf"(?<![{_WORD_CHARS}])(?:{'|'.join(alts)})(?![{_WORD_CHARS}])"
    )
    return pattern, words, whole


def expand(upper: str) -> str:
    """Expand abbreviations in upper-case ``upper``, keeping its punctuation.

    Punctuation is kept because negation scope (``NON-INJ ACC``, ``(NO
    WPNS)``) is read from it afterwards. Never raises.
    """
    pattern, words, whole = _tables()
    stripped = upper.strip()
    if stripped in whole:
        return whole[stripped]
    if pattern is None:
        return upper

    def repl(m: re.Match[str]) -> str:
        key = _JOIN.sub(" ", m.group(0)).strip()
        return words.get(key, m.group(0))

    return pattern.sub(repl, upper)
