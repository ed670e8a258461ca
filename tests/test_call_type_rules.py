"""The general keyword rules: the table, its examples, negation, abbreviations.

Every rule in ``cfs_spiders/normalize/data/call_type_rules.yaml`` carries
examples (raw values it must decide) and counter-examples (values it must not
decide, and that must not land in its category); the first two tests run all of
them, so a rule edit that breaks one of its own cases fails here.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cfs_spiders.config import vocab
from cfs_spiders.normalize import rules
from cfs_spiders.normalize.abbreviations import _read_rows, expand, load_abbreviations

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "fixtures" / "reference"

EXAMPLES = [(r.name, ex) for r in rules.RULES for ex in r.examples]
COUNTERS = [(r.name, r.category, ex) for r in rules.RULES for ex in r.counter]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _apco_codes() -> set[str]:
    rows = _csv(REF / "apco_common_incident_types_2.103.2-2019.csv")
    return {r["code"].strip() for r in rows if r["code"].strip()}


# --- the table and its own examples ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"), EXAMPLES, ids=[f"{n}:{t}" for n, t in EXAMPLES]
)
def test_rule_decides_its_examples(name: str, text: str) -> None:
    rule = rules.match_rule(text)
    assert rule is not None and rule.name == name, (text, rule and rule.name)


@pytest.mark.parametrize(
    ("name", "category", "text"), COUNTERS, ids=[f"{n}:{t}" for n, _, t in COUNTERS]
)
def test_rule_leaves_its_counter_examples(name: str, category: str, text: str) -> None:
    rule = rules.match_rule(text)
    assert rule is None or (rule.name != name and rule.category != category), (
        text,
        rule and rule.name,
    )


def test_every_rule_has_examples_and_counter_examples() -> None:
    missing = [r.name for r in rules.RULES if not r.examples or not r.counter]
    assert not missing, missing


def test_rule_table_is_valid() -> None:
    apco = _apco_codes()
    names = [r.name for r in rules.RULES]
    assert len(names) == len(set(names))
    for rule in rules.RULES:
        assert rule.category in vocab.CALL_TYPE_CATEGORIES
        assert rule.category != "unmapped"
        assert rule.apco_code is None or rule.apco_code in apco, rule.name
        assert rule.confidence in ("high", "medium", "low")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- name: x\n  category: fire\n", "match"),
        ("- name: x\n  category: nope\n  match: ['FIRE']\n", "category"),
        ("- name: x\n  category: fire\n  match: ['(']\n", "bad pattern"),
        ("- name: x\n  category: fire\n  match: ['A']\n  colour: red\n", "unknown key"),
        (
            "- {name: x, category: fire, match: ['A']}\n"
            "- {name: x, category: fire, match: ['B']}\n",
            "duplicate",
        ),
        ("name: x\n", "list of rules"),
        (
            "- name: x\n  category: fire\n  match: ['A']\n  confidence: sure\n",
            "confidence",
        ),
    ],
)
def test_rule_loader_is_strict(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rules.load_rules(text, "test.yaml")


def _literal_alternatives(rule: rules.Rule) -> list[str]:
    """Top-level alternatives of a rule that are plain words (no regex)."""
    body = rule.pattern[len(r"\b(?:") : -len(r")\b")]
    alts = re.findall(r"\(\?:(.*?)\)(?=\||$)", body)
    return [a for a in alts if re.fullmatch(r"[A-Z0-9& ]+", a)]


def test_rules_are_keywords_not_a_lookup_of_vera() -> None:
    """No rule spells out a whole multi-word Vera value: the rules must be
    general keywords, or the leave-one-out benchmark would be circular."""
    vera = {
        rules.normalize_text(r["Field 1"]) for r in _csv(REF / "vera_call_types.csv")
    }
    offenders = [
        (rule.name, alt)
        for rule in rules.RULES
        for alt in _literal_alternatives(rule)
        if len(alt.split()) >= 3 and alt in vera
    ]
    assert not offenders, offenders
    # The literal-alternative reader itself works (or the check above is empty).
    assert any(_literal_alternatives(r) for r in rules.RULES)


# --- issue 13: the cases a dispatcher would get right ------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # A negation qualifies only the words it governs.
        ("NOT BREATHING", "medical"),
        ("PERSON NOT BREATHING", "medical"),
        ("NO PULSE", "medical"),
        ("NO INJURY ACCIDENT", "traffic_collision"),
        ("NON-INJURY ACCIDENT", "traffic_collision"),
        ("FIGHT - IP - PHYSICAL (NO WEAPONS)", "disturbance"),
        ("SHOTS - IP/JO - INCLUDES HEARD/NO ASSAULT", "weapons_shots"),
        ("ASSIST PUBLIC - NO WELFARE CHK OR DV ORDER SER...", "assist_public"),
        ("WEAPN - GUN,DEADLY WPN (NO THRTS/ASLT/DIST)", "weapons_shots"),
        ("INJURED PERSON - AT HOME (OTHER THAN FIREARM)", "medical"),
        ("Hit and Run, no injury and no blocking", "traffic_collision"),
        ("--BURGLARY - NON RESIDENTIAL/COMMERCIAL", "property_crime"),
        ("NO PARKING ZONE", "traffic_hazard_parking"),
        ("FIGHT NO WEAPON DV", "domestic"),
        ("VEHICLE NO-PURSUIT", "traffic_hazard_parking"),
        # Over-broad alternatives, narrowed.
        ("FIREWORKS DISCHARGE", "disturbance"),
        ("FIRE HYDRANT", "hazard_rescue"),
        ("FIRE LANE PARKING", "traffic_hazard_parking"),
        ("PANIC ATTACK", "mental_health"),
        ("SEWER BACKUP", "hazard_rescue"),
        ("ALTERED MENTAL STATUS", "medical"),
        ("Obstruction on highway", "traffic_hazard_parking"),
        ("BREATHALYZER TEST", None),
    ],
)
def test_dispatcher_reading(text: str, category: str | None) -> None:
    match = rules.classify(text)
    assert (match.category if match else None) == category, (text, match)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("GUN SHOT WOUND", "GUNSHOT WOUND"),
        ("INTOXICATED DRIVER", "DRUNK DRIVER"),
        ("HIT/RUN", "HIT AND RUN"),
        ("H&R", "Hit and Run"),
        ("DOA", "D.O.A."),
        ("SUSP VEH", "SUSPICIOUS VEHICLE"),
        ("ALM RESID", "RESIDENTIAL ALARM"),
        ("FLW UP", "FOLLOW UP"),
        ("PD ASST", "POLICE ASSIST"),
        ("NON-INJ ACC", "NON INJURY ACCIDENT"),
        ("DIST", "DISTURBANCE"),
        ("BOLO", "BE ON THE LOOKOUT"),
        ("COMM BURG", "COMMERCIAL BURGLARY"),
        ("Trfc Collision-Unkn Inj", "TRAFFIC COLLISION UNKNOWN INJURY"),
    ],
)
def test_equivalent_wordings_agree(one: str, other: str) -> None:
    a, b = rules.classify(one), rules.classify(other)
    assert a is not None and b is not None, (one, other)
    assert a.category == b.category, (one, a, other, b)


def test_negation_keeps_what_it_does_not_govern() -> None:
    assert rules.strip_negations("NO INJURY ACCIDENT").split() == ["ACCIDENT"]
    assert rules.strip_negations("NOT BREATHING") == "NOT BREATHING"
    assert "DV" in rules.strip_negations("FIGHT NO WEAPON DV")
    assert "DV" not in rules.strip_negations("NO WELFARE CHK OR DV ORDER")
    assert "WEAPONS" not in rules.strip_negations("FIGHT (NO WEAPONS)")


# --- the abbreviation dictionary ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expanded"),
    [
        ("HIT/RUN", "HIT AND RUN"),
        ("H&R", "HIT AND RUN"),
        ("NON-INJ ACC", "NON-INJURY ACCIDENT"),
        ("PD ASST", "POLICE ASSIST"),
        ("FLW UP", "FOLLOW UP"),
        ("DIST-RESID", "DISTURBANCE-RESIDENTIAL"),
        ("ALM COMM", "ALARM COMMERCIAL"),
        ("DOA", "DEAD ON ARRIVAL"),
        ("BOLO", "BE ON THE LOOKOUT"),
        ("ME", "MEDICAL EMERGENCY"),
        ("TC", "TRAFFIC COLLISION"),
    ],
)
def test_abbreviations_expand(raw: str, expanded: str) -> None:
    assert expand(raw) == expanded


@pytest.mark.parametrize(
    "text",
    ["ME TOO", "DISTANCE", "MEDICINE", "B&E", "COMMUNITY", "RESCUE"],
)
def test_abbreviations_leave_words_alone(text: str) -> None:
    """Whole-value codes only expand alone, and a key never matches inside a
    longer word."""
    assert expand(text) == text


def test_abbreviation_table_is_documented() -> None:
    rows = load_abbreviations()
    assert len(rows) > 100
    for row in rows:
        assert row.seen_in, f"{row.key}: say where the abbreviation was seen"
    keys = {r.key for r in rows}
    # City-only jargon stays in the crosswalks (docs/VERA_REVIEW.md).
    assert not keys & {"AUTO X", "AUTO", "X"}
    # State-law offence names are general within their state; each says which
    # statute it comes from, so the dictionary can be audited.
    by_key = {r.key: r for r in rows}
    for key, statute in (
        ("415", "California Penal Code 415"),
        ("UUMV", "Texas Penal Code 31.07"),
        ("UDAA", "Michigan Penal Code 750.413"),
    ):
        assert statute in by_key[key].note, key


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Texas "unauthorized use of a motor vehicle", behind any code prefix.
        ("UUMV", "property_crime"),
        ("09V - UUMV", "property_crime"),
        ("41/09V - UUMV IN PROGRESS", "property_crime"),
        ("Auto Theft - UUMV", "property_crime"),
        # Michigan "unlawful driving away of an automobile".
        ("UDAA", "property_crime"),
        ("UDAA I/P", "property_crime"),
        # The offence name does not outrank the warrant it is served for.
        ("WARRANT (UUMV)", "warrant"),
    ],
)
def test_state_law_offence_names(text: str, category: str) -> None:
    match = rules.classify(text)
    assert match is not None and match.category == category, (text, match)


def test_state_law_keys_are_whole_words() -> None:
    assert expand("UUMVX") == "UUMVX"
    assert expand("09V - UUMV") == "09V - UNAUTHORIZED USE OF MOTOR VEHICLE"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "abbreviation,expansion,scope,seen_in,note\nA B,,word,x,\n",
            "bad abbreviation",
        ),
        ("abbreviation,expansion,scope,seen_in,note\nAB,ABC,some,x,\n", "scope"),
        (
            "abbreviation,expansion,scope,seen_in,note\nAB,ABC,word,x,\nAB,ABD,word,x,\n",
            "duplicate",
        ),
        ("abbreviation,expansion,scope,seen_in,note\nAB,AB,word,x,\n", "itself"),
    ],
)
def test_abbreviation_reader_is_strict(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _read_rows(text, "t.csv")
