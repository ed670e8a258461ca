"""docs/VOCABULARY.md, the reference of every closed vocabulary, from ``vocab.py``.

The codes come from ``vocab.py`` (where the schemas, normalizers and exports read
them), the explanations from the project's domain reference; ``python -m
cfs_spiders.config.vocabulary_doc`` rewrites the file and a test fails when the
committed file and ``vocab.py`` drift apart.
"""

from __future__ import annotations

from pathlib import Path

from . import vocab
from .paths import PROJECT_ROOT

VOCABULARY_DOC = PROJECT_ROOT / "docs" / "VOCABULARY.md"

# What each call-type category holds (one row per ``vocab.CALL_TYPE_CATEGORIES``).
CATEGORY_MEANINGS = {
    "violent_crime": "assault, battery, robbery, homicide, shooting or stabbing victim, kidnapping, carjacking",
    "weapons_shots": "shots fired, person with a gun or weapon",
    "sex_offense": "sexual assault, indecent exposure, lewd conduct",
    "domestic": "domestic violence or disturbance, protective order violation, child or elder abuse",
    "property_crime": "burglary, theft, shoplifting, auto theft, car prowl, vandalism, fraud",
    "drugs_vice": "narcotics, liquor, intoxication, prostitution, gambling",
    "other_crime": "trespass, threats, harassment, other criminal",
    "warrant": "warrant service, wanted person",
    "disturbance": "general disturbance, fight, noise, loud party, crowd, nuisance, fireworks",
    "suspicious": "suspicious person, vehicle or circumstance; prowler; open door",
    "alarm": "burglar, robbery, panic or vehicle alarm (fire alarms are `fire`, medical alarms `medical`)",
    "traffic_collision": "crash, hit and run",
    "traffic_enforcement": "traffic stop, moving violation, reckless driving, DUI",
    "traffic_hazard_parking": "road hazard, disabled or abandoned vehicle, parking, tow, motorist assist",
    "mental_health": "person in crisis, suicide threat or attempt",
    "welfare_check": "check welfare, person down",
    "medical": "EMS, sick or injured person, overdose, aid response",
    "fire": "structure, vehicle, brush or trash fire; smoke; fire alarm",
    "hazard_rescue": "gas leak, hazmat, wires down, water or elevator rescue",
    "missing_person": "missing adult or juvenile, runaway, found person",
    "assist_public": "citizen assist, civil matter, lost or found property, meet complainant, lockout",
    "animal": "animal complaint, bite",
    "officer_agency_assist": "officer needs help, assist another agency, standby",
    "proactive_patrol": 'premise, area or business check; directed patrol; pedestrian stop; "walk and talk"',
    "administrative": "administrative, information, report-number, prisoner, errand, follow-up, callback",
    "call_problem": "911 hang-up or open line, incomplete call, unknown trouble, test call",
    "juvenile_status": "curfew, truancy, juvenile problem",
    "unmapped": (
        "no crosswalk row, no rule and no close labelled example: counted and "
        "reported, never guessed"
    ),
}


def _codes(values: tuple[str, ...]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _section(title: str, field: str, values: tuple[str, ...], note: str) -> str:
    return f"## {title} (`{field}`)\n\n{_codes(values)}\n\n{note}\n"


def render() -> str:
    """The text of docs/VOCABULARY.md."""
    if list(CATEGORY_MEANINGS) != list(vocab.CALL_TYPE_CATEGORIES):
        raise ValueError(
            "vocabulary_doc.CATEGORY_MEANINGS and vocab.CALL_TYPE_CATEGORIES differ: "
            "give every category one meaning, in the same order"
        )
    categories = "".join(
        f"| `{code}` | {meaning} |\n" for code, meaning in CATEGORY_MEANINGS.items()
    )
    parts = [
        "# Vocabularies of the common record\n\n"
        "Generated from `cfs_spiders/config/vocab.py` by `python -m "
        "cfs_spiders.config.vocabulary_doc`; do not edit by hand (a test fails when "
        "this file and `vocab.py` differ). Every normalized value of a record is one "
        "of these codes; the raw value it came from is kept beside it.\n",
        _section(
            "Address granularity",
            "address_granularity",
            vocab.ADDRESS_GRANULARITY,
            "The finest the published location can mean under the feed's "
            "documented policy. `exact`: house number as published; `block`: "
            "hundred block (`8800 BLOCK OF N SYRACUSE ST`, `43XX ...`, a range, or "
            "a number rounded to 00 where the policy says so); `intersection`: two "
            "streets; `street`: a street name only; `area`: only a zone, beat, ZIP, "
            "place or venue; `withheld`: empty, redacted or suppressed; `unknown`. "
            "Precision is a partial order, not this list: `exact` is finer than "
            "`block` and `intersection`, both finer than `street`, then `area`; a "
            "block and an intersection are not comparable "
            "(`vocab.finer_or_equal` answers `None`). The policy lowers a form "
            "strictly finer than itself and leaves any other form as it is.",
        ),
        _section(
            "Address form",
            "address_form",
            vocab.ADDRESS_FORMS,
            "What the published string is, read without the feed's policy (the "
            "same codes): `6600 ALVARADO RD` has the form `exact` and, in a "
            "block-rounded feed, the granularity `block`.",
        ),
        _section(
            "Coordinate granularity",
            "coord_granularity",
            vocab.COORD_GRANULARITY,
            "Independent of the address: a feed may blur points and not addresses.",
        ),
        "## Call-type categories (`call_type_category`)\n\n"
        "One code per record, from the feed's versioned crosswalk "
        "(`cfs_spiders/crosswalks/`), else a keyword rule, else the nearest "
        "labelled example (`similar`), else `unmapped`; "
        f"`category_basis` in {{{', '.join(vocab.CATEGORY_BASIS)}}} says which, "
        f"`category_confidence` in {{{', '.join(vocab.CATEGORY_CONFIDENCE)}}} how "
        "sure it is, `crosswalk_version` which crosswalk was read.\n\n"
        "| code | meaning |\n|---|---|\n" + categories,
        _section(
            "Call source",
            "call_source",
            vocab.CALL_SOURCES,
            f"`call_source_basis` in {{{', '.join(vocab.CALL_SOURCE_BASIS)}}}. "
            "`public_unknown`: public-originated, channel unknown. `911` is never "
            "inferred from absence; officer-initiated work read off a call type says "
            "`inferred_from_call_type`.",
        ),
        _section(
            "Status",
            "status",
            vocab.STATUSES,
            f"`status_basis` in {{{', '.join(vocab.STATUS_BASIS)}}} (`none`: the "
            "record says nothing about its status). A call that leaves a live "
            "listing of active calls is `closed` by `feed_presence`; a history "
            "dataset's calls are `closed`; an append-only board keeps only "
            "`closed` or `unknown`; one unit clearing does not close a call.",
        ),
        _section(
            "Disposition",
            "disposition_category",
            vocab.DISPOSITIONS,
            "Most severe first: when a record holds several, the first wins. "
            '"No report" is never "unfounded".',
        ),
        _section(
            "Time zone basis",
            "tz_basis",
            vocab.TZ_BASIS,
            "How a timestamp's zone is known. Flags of a time (`time_flags`): "
            f"{_codes(vocab.TIME_FLAGS)}: an ambiguous or non-existent local time "
            "is flagged, never guessed; `date`: a date without a time of day, "
            "stored as that date (`*_local`) with no UTC instant.",
        ),
        _section(
            "Key elements",
            "record_key",
            vocab.KEY_ELEMENTS,
            "What a feed without call ids may key a call on. Refused unless a "
            "config allows them by name, because they change while a call lives: "
            f"{_codes(vocab.KEY_ELEMENTS_MUTABLE)}.",
        ),
        _section(
            "Area types",
            "area_<type>",
            vocab.AREA_TYPES,
            "Every area keeps its type: never one untyped area string.",
        ),
        _section(
            "Availability",
            "comparison",
            vocab.AVAILABILITY,
            "What the comparison says of an element of a feed (measured from the "
            "store; without stored records, the level the project read from the "
            "feed's documentation, `<element>_documented`). The comparison adds "
            "`not in capture` (the capture cannot carry it), `time of day only` "
            "(every time given is a time of day without a date) and `count only` "
            "(a number of units, not which units). Chicago's elements are one of "
            f"{_codes(vocab.CHICAGO_STATUS)}, each with the source of the claim.",
        ),
        _section(
            "Compared elements",
            "element",
            vocab.ELEMENTS,
            "The common elements compared city by city.",
        ),
    ]
    return "\n".join(parts)


def write(path: Path = VOCABULARY_DOC) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
