"""General keyword rules that put a raw call type into a common category.

Why this module exists: a feed's crosswalk (``crosswalks/<feed_id>.csv``) is the
authority for its call types, but new values appear all the time and some feeds
have no crosswalk yet. These rules fill that gap with ordinary dispatch
vocabulary ("SHOTS FIRED", "TRAFFIC STOP", "BURGLAR ALARM" ...) and say so: a
result from here is recorded with ``category_basis = "rule"``.

This module is the matcher; the rules themselves are data, in
``data/call_type_rules.yaml``: an ordered list of rules, each with a category,
word-level alternatives (regex fragments), an APCO code, a confidence, and
examples and counter-examples that the tests run. The first rule that matches
wins, so the order encodes "specific beats general" (``BURG MOTOR VEH`` before
any vehicle word, ``FIRE ALARM`` before ``ALARM``).

The rules are keyword rules, not a lookup of any city's list: their words come
from DOMAIN.md, the APCO common incident types and ordinary dispatch usage, and
no rule spells out a whole raw value of Vera's file (a test enforces it). Local
jargon belongs in the feed's crosswalk.

Text is prepared the way a dispatcher reads it (:func:`normalize_text`):

1. upper case; ``W/O`` is "without", ``W/`` is "with";
2. CAD abbreviations are expanded (:mod:`.abbreviations`: ``DIST``,
   ``RESID``, ``HIT/RUN``, ``NON-INJ`` ...);
3. a negation qualifies only the words it governs: ``(NO WEAPONS)`` is
   dropped whole; ``NON-`` drops one word; ``NO``/``NOT``/``WITHOUT``/
   ``EXCEPT`` drop the words after them up to a separator (``,`` ``;`` ``-``
   ``/`` or a parenthesis) but never the event noun of a collision, so
   ``NO INJURY ACCIDENT`` is still an accident. Phrases that *name* a
   condition with a negation (``NOT BREATHING``, ``NO PULSE``, ``NO PARKING``)
   are kept as they are;
4. punctuation becomes single spaces; ``&`` stays inside words (``B&E``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ..config import vocab
from .abbreviations import expand

__all__ = [
    "RULES",
    "Rule",
    "RuleMatch",
    "classify",
    "load_rules",
    "match_rule",
    "normalize_text",
    "strip_negations",
]

CONFIDENCES = ("high", "medium", "low")
RULES_FILE = "call_type_rules.yaml"
_RULE_KEYS = {"name", "category", "apco", "confidence", "match", "examples", "counter"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One keyword rule: if ``pattern`` matches the normalized text, the call
    type is ``category``. ``examples`` must land here and ``counter`` must not
    (both are run by the tests)."""

    name: str
    category: str
    pattern: str
    apco_code: str | None = None
    confidence: str = "medium"
    examples: tuple[str, ...] = ()
    counter: tuple[str, ...] = ()
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.category not in vocab.CALL_TYPE_CATEGORIES or (
            self.category == "unmapped"
        ):
            raise ValueError(f"rule {self.name}: bad category {self.category!r}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"rule {self.name}: bad confidence {self.confidence!r}")
        object.__setattr__(self, "regex", re.compile(self.pattern))


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """What :func:`classify` returns when a rule fired."""

    category: str
    apco_code: str | None
    confidence: str
    rule: str


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: must be a list of strings")
    return tuple(value)


def _build(entry: Any, n: int, source: str) -> Rule:
    where = f"{source}: rule #{n}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a mapping")
    name = entry.get("name")
    where = f"{source}: rule {name!r}"
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
    alternatives = _strings(entry.get("match"), f"{where} match")
    if not isinstance(name, str) or not alternatives:
        raise ValueError(f"{where}: needs a name and at least one match")
    body = "|".join(f"(?:{a})" for a in alternatives)
    try:
        return Rule(
            name,
            str(entry.get("category")),
            rf"\b(?:{body})\b",
            entry.get("apco"),
            entry.get("confidence", "medium"),
            _strings(entry.get("examples"), f"{where} examples"),
            _strings(entry.get("counter"), f"{where} counter"),
        )
    except re.error as exc:
        raise ValueError(f"{where}: bad pattern: {exc}") from exc


def load_rules(text: str | None = None, source: str = RULES_FILE) -> tuple[Rule, ...]:
    """Parse the rule table (the shipped one when ``text`` is None).

    Strict: a malformed table raises ``ValueError`` naming the file and rule,
    because a broken rule would silently re-file calls.
    """
    if text is None:
        ref = resources.files(__package__).joinpath("data", RULES_FILE)
        text, source = ref.read_text(encoding="utf-8"), str(ref)
    data = yaml.safe_load(text)
    if not isinstance(data, list):
        raise ValueError(f"{source}: must be a list of rules")
    rules = tuple(_build(e, i, source) for i, e in enumerate(data, start=1))
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{source}: duplicate rule names {dupes}")
    return rules


RULES: tuple[Rule, ...] = load_rules()

# --- text normalization ------------------------------------------------------

_WITHOUT = re.compile(r"\bW\s*/\s*O\b")
_WITH = re.compile(r"\bW\s*/\s*(?=[A-Z0-9])")
# Phrases that contain a negation word but name the thing itself.
_NAMED_NEGATIVES = re.compile(
    r"\b(?:NOT BREATHING|NO PULSE|NO HEARTBEAT|NOT (?:CONSCIOUS|ALERT|RESPONSIVE)|"
    r"NON ?RESPONSIVE|NO (?:PARKING|TRESPASS\w*|CONTACT|SMOKING|WAKE|LICENSE))\b"
)
_NEG_WORD = r"(?:NO|NOT|NON|EXCEPT|EXCL(?:UDING|UDES|UDE)?|WITHOUT|OTHER THAN)"
# A parenthetical that negates ("(NO WEAPONS)", "(EXCEPT ABANDONED CAR)") goes.
_NEG_PAREN = re.compile(rf"\([^()]*\b{_NEG_WORD}\b[^()]*\)?")
# "NON-INJURY", "NON DV": the prefix negates one word.
_NEG_NON = re.compile(r"\bNON[\s\-]+[A-Z0-9&]+")
# "NO-PURSUIT": the hyphen joins the negation to its word, it separates nothing.
_NEG_HYPHEN = re.compile(r"\b(NO|NOT)-(?=[A-Z])")
_NEG_START = re.compile(
    r"\b(?:NO|NOT|WITHOUT|EXCEPT|EXCL(?:UDING|UDES|UDE)?|OTHER THAN)\b"
)
_TOKEN = re.compile(r"[A-Z0-9&]+|[,;()/\-]|[^A-Z0-9&,;()/\-]+")
# Words a negation does not reach unless they are joined to the negated words
# by OR/AND: the event noun of a collision ("NO INJURY ACCIDENT" is an
# accident) and a domestic flag ("FIGHT NO WEAPON DV" is domestic, but
# "NO WELFARE CHK OR DV ORDER" negates both).
_HEADS = frozenset(
    {"ACCIDENT", "ACCIDENTS", "COLLISION", "COLLISIONS", "CRASH", "WRECK", "MVA"}
    | {"MVC", "MVI", "HIT", "PDO", "DV", "DOMESTIC"}
)
_JOINERS = frozenset({"OR", "AND", "NOR", "&"})
_NON_WORD = re.compile(r"[^A-Z0-9&]+")
_SPACES = re.compile(r"\s+")


def _strip_clauses(text: str) -> str:
    """Drop the words each NO/NOT/WITHOUT/EXCEPT governs (see module doc)."""
    out: list[str] = []
    pos = 0
    for m in _NEG_START.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        previous = ""
        pos = m.end()
        for tok in _TOKEN.finditer(text, m.end()):
            t = tok.group(0)
            if t in ",;()/-":
                break
            if t[0].isalnum() or t[0] == "&":
                if previous and t in _HEADS and previous not in _JOINERS:
                    break
                previous = t
            pos = tok.end()
        out.append(" ")
    out.append(text[pos:])
    return "".join(out)


def strip_negations(text: str) -> str:
    """Remove negated qualifiers from upper-case ``text``, keep the rest.

    Why: dispatch labels often say what a call is *not* ("FIGHT (NO
    WEAPONS)", "SHOTS - INCLUDES HEARD/NO ASSAULT"). A keyword rule that fires
    on the negated word files the call in exactly the wrong place; one that
    drops the whole label (``NOT BREATHING``) loses the most urgent calls.
    """
    kept: dict[str, str] = {}

    def hide(m: re.Match[str]) -> str:
        token = "QQ" + re.sub(r"[^A-Z]", "Q", m.group(0)) + "QQ"
        kept[token] = m.group(0)
        return token

    text = _NAMED_NEGATIVES.sub(hide, text)
    text = _NEG_HYPHEN.sub(r"\1 ", text)
    text = _NEG_PAREN.sub(" ", text)
    text = _NEG_NON.sub(" ", text)
    text = _strip_clauses(text)
    for token, phrase in kept.items():
        text = text.replace(token, phrase)
    return text


def normalize_text(text: Any) -> str:
    """Upper-case, expand abbreviations, drop negated words, punctuation to
    single spaces.

    The result has no leading or trailing space; words are separated by one
    space and ``&`` is kept as part of a word (``B&E``). Never raises.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _normalize(text)


@lru_cache(maxsize=65536)
def _normalize(text: str) -> str:
    """Cached core of :func:`normalize_text` (rules, fallback and its training
    data normalize the same strings)."""
    upper = text.upper()
    upper = _WITHOUT.sub(" WITHOUT ", upper)
    upper = _WITH.sub(" WITH ", upper)
    upper = expand(upper)
    upper = strip_negations(upper)
    # "H & R" and "B & E" are written with and without spaces.
    upper = re.sub(r"\s*&\s*", "&", upper)
    upper = upper.replace("&", " & ")
    upper = re.sub(r"\b([A-Z]) & ([A-Z])\b", r"\1&\2", upper)
    return _SPACES.sub(" ", _NON_WORD.sub(" ", upper)).strip()


@lru_cache(maxsize=65536)
def match_rule(text: str) -> Rule | None:
    """Return the first rule that matches ``text`` (raw), or ``None``.

    Cached by distinct string because call types repeat heavily.
    """
    norm = normalize_text(text)
    if not norm:
        return None
    for rule in RULES:
        if rule.regex.search(norm):
            return rule
    return None


def classify(text: str | None) -> RuleMatch | None:
    """Categorize ``text`` with the general rules alone (no crosswalk).

    Returns ``None`` when no rule fires; the caller then tries the learned
    fallback or reports ``unmapped``. Never raises.
    """
    if text is None:
        return None
    try:
        rule = match_rule(text if isinstance(text, str) else str(text))
    except Exception:  # noqa: BLE001 - a normalizer must not stop a crawl
        return None
    if rule is None:
        return None
    return RuleMatch(rule.category, rule.apco_code, rule.confidence, rule.name)
