"""General keyword rules that put a raw call type into a common category.

Why this module exists: a feed's crosswalk (``crosswalks/<feed_id>.csv``) is the
authority for its call types, but new values appear all the time and some feeds
have no crosswalk yet. These rules fill that gap with ordinary dispatch
vocabulary ("SHOTS FIRED", "TRAFFIC STOP", "BURGLAR ALARM" ...) and say so: a
result from here is recorded with ``category_basis = "rule"``.

Design choices, each for a reason:

* The rules are data: one ordered tuple of :class:`Rule` (category, regex, APCO
  code, confidence). The first rule that matches wins, so the order encodes
  "specific beats general" (``BURG MOTOR VEH`` before any vehicle word,
  ``FIRE ALARM`` before ``ALARM``, ``HOLD UP ALARM`` before ``HOLD UP``).
* The rules are keyword rules, not a lookup of any city's list. Their words
  come from DOMAIN.md, the APCO common incident types and ordinary dispatch
  usage. They are checked against the Vera Institute's call-type labels of four
  cities (``bench/vera_leave_one_out.py``). That check was used to find
  *general* faults (negations, rule order, "assault" labels that describe
  threats), never to add a city's strings: no rule spells out a whole raw value
  of Vera's file or a city-only code or abbreviation (``UUMV``, ``UDAA``,
  ``AUTO X``, ``ATTACHMENT``, ``WNTD``...); a test enforces the first part.
  Local jargon belongs in the feed's crosswalk.
* Text is normalized before matching (upper case, punctuation to spaces) so
  ``HIT-AND-RUN``, ``Hit and Run`` and ``HIT/AND/RUN`` look the same, and
  negated qualifiers are removed first: ``FIGHT (NO WEAPONS)`` is not a weapons
  call and ``ASSIST PUBLIC - NO WELFARE CHK OR DV ORDER`` is neither welfare
  nor domestic.
* Patterns are written against the normalized text, in which words are
  separated by single spaces and ``&`` is kept (``B&E``, ``H&R``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..config import vocab

__all__ = [
    "RULES",
    "Rule",
    "RuleMatch",
    "classify",
    "match_rule",
    "normalize_text",
    "strip_negations",
]

CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Rule:
    """One keyword rule: if ``pattern`` matches the normalized text, the call
    type is ``category``. ``name`` only helps reading reports and tests."""

    name: str
    category: str
    pattern: str
    apco_code: str | None = None
    confidence: str = "medium"
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


def _r(
    name: str,
    category: str,
    *alternatives: str,
    apco: str | None = None,
    confidence: str = "medium",
) -> Rule:
    """Build a rule from word-level alternatives.

    Each alternative is a regex fragment over the normalized text; it is
    wrapped in word boundaries so ``FIRE`` never matches ``FIREWORKS``.
    """
    body = "|".join(f"(?:{a})" for a in alternatives)
    return Rule(name, category, rf"\b(?:{body})\b", apco, confidence)


# Ordered: the first match wins. Keep groups in this order unless a test says why.
RULES: tuple[Rule, ...] = (
    # --- the call itself is the problem ------------------------------------
    _r(
        "hang_up",
        "call_problem",
        r"911 HANG ?UPS?",
        r"HANG ?UPS?( CALLS?)?",
        r"HANGUP( CALLS?)?",
        r"ABANDONED 911",
        r"911 (DISCONNECT|ABANDON\w*)",
        r"MISDIAL\w*",
        apco="911H",
    ),
    _r("open_line", "call_problem", r"OPEN LINE", r"SILENT (E )?911", apco="911OPN"),
    _r(
        "test_or_unknown_call",
        "call_problem",
        r"TEST (CALL|INCIDENT|EVENT)\w*",
        r"UNKNOWN (TROUBLE|PROBLEM|NATURE)",
        r"UNK (TROUBLE|PROBLEM)",
        r"COMPLAINT (OF )?UNK\w*",
        r"INCOMPLETE CALL",
        apco="TROUBLE",
    ),
    # --- emergencies of the responders themselves --------------------------
    _r(
        "officer_needs_help",
        "officer_agency_assist",
        r"OFFICERS? NEEDS? (HELP|ASSIST\w*)",
        r"HELP (THE )?OFFICER",
        r"ASSIST (THE )?OFFICER",
        r"OFFICER (DOWN|IN TROUBLE)",
        r"(PERSONNEL|UNIT) IN TROUBLE",
        r"IMMEDIATE BACK ?UP",
        r"MAYDAY",
        apco="HLP1",
    ),
    _r(
        "assist_fire_ems",
        "officer_agency_assist",
        r"ASSIST\w* (ON |TO |WITH )?(FIRE|MEDIC|EMS|AMBULANCE)",
        r"FIRE ASSIST",
        r"REQUESTED BY (FIRE|ANOTHER AGENCY|OTHER AGENCY)",
        r"TAKEN BY (ANOTHER|OTHER) AGENCY",
        apco="ASSIST",
    ),
    # --- warrants: "WARRANT ... (MURDER)" is warrant service -----------------
    _r(
        "warrant",
        "warrant",
        r"WARRANTS?",
        r"WANTED",
        r"FUGITIVE\w*",
        apco="PERWANT",
    ),
    # --- alarms: fire and medical alarms are not burglar alarms -------------
    _r(
        "fire_alarm",
        "fire",
        r"FIRE ALARMS?",
        r"ALARM FIRE",
        r"AUTO(MATIC)? FIRE",
        r"SMOKE (DETECTOR|ALARM)S?",
        r"WATER ?FLOW( ALARM)?",
        r"SPRINKLER( ALARM)?",
        apco="ALRF",
    ),
    _r(
        "medical_alarm",
        "medical",
        r"MEDICAL ALARMS?",
        r"LIFE ALERT",
        apco="ALRMED",
    ),
    _r(
        "co_alarm",
        "hazard_rescue",
        r"CO (DETECTOR|ALARM)S?",
        r"CARBON MONOXIDE",
        apco="ALRCO",
    ),
    _r(
        "alarm",
        "alarm",
        r"ALARMS?",
        r"PANIC",
        r"DURESS",
        apco="ALRU",
    ),
    # --- vehicle property crime before any vehicle/traffic word -------------
    _r(
        "vehicle_burglary",
        "property_crime",
        r"BMV",
        r"BURG\w* (OF )?(A )?(MOTOR )?(VEH\w*|AUTO\w*|CARS?)",
        r"CAR PROWL\w*",
        r"AUTO (BOOST|STRIP)\w*",
        r"(BREAKING (AND|&) ENTERING|B&E|ENTRY) (OF )?(AUTO|VEH)\w*",
        r"(VEH\w*|AUTO\w*|CAR) (B&E|BREAK ?IN)",
        r"THEFT FROM (A )?(MOTOR )?(VEH\w*|AUTO\w*|CARS?)",
        apco="BURGLARY",
    ),
    _r(
        "vehicle_theft",
        "property_crime",
        r"AUTO THEFT",
        r"(VEH\w*|AUTO|CAR) THEFT",
        r"STOLEN (MOTOR )?(VEH\w*|AUTO\w*|CARS?|TAGS?|PLATES?)",
        r"(VEH\w*|AUTO|CAR) STOLEN",
        r"UNAUTHORIZED USE",
        r"(LICENSE )?PLATES? (THEFT|STOLEN)",
        apco="VEHSTLN",
    ),
    # --- the gravest crimes against persons --------------------------------
    _r(
        "homicide",
        "violent_crime",
        r"HOMICIDE\w*",
        r"MURDER\w*",
        r"MANSLAUGHTER",
        apco="HOMICIDE",
    ),
    _r(
        "carjacking",
        "violent_crime",
        r"CAR ?JACK\w*",
        r"CARJACK\w*",
        apco="CARJACK",
    ),
    # --- child and elder abuse, even when the label also says "molested" ----
    _r(
        "child_elder_abuse",
        "domestic",
        r"(CHILD\w*|ELDER\w*|JUVENILE\w*|VULNERABLE ADULT)\b.*\b(ABUS\w*|NEGLECT\w*|"
        r"ABAND\w*|ENDANGER\w*)",
        apco="ABUSE",
    ),
    # --- sexual offences (before assault and battery) -----------------------
    _r(
        "sex_offender_compliance",
        "other_crime",
        r"SEX OFFENDERS? (REGISTRATION|FAIL\w*|DUTY|VIOLATION)",
        r"FAIL\w* TO REGISTER",
        apco="MISCON",
    ),
    _r(
        "phone_harassment",
        "other_crime",
        r"(OBSCENE|HARASS\w*|NUISANCE|THREAT\w*) (OR \w+ )?PHONE CALLS?",
        r"PHONE CALLS? (OBSCENE|HARASS\w*|THREAT\w*)",
        apco="HARR",
    ),
    _r(
        "sex_offense",
        "sex_offense",
        r"RAPE\w*",
        r"SEX\w* (ASSAULT|BATTERY|ABUSE|OFFEN\w*|CRIMES?|MISCONDUCT)",
        r"SEX",
        r"MOLEST\w*",
        r"INDECEN\w*",
        r"EXPOSING",
        r"INDECENT EXPOSURE",
        r"LEWD\w*",
        r"OBSCEN\w*",
        r"FLASHING",
        r"PEEPING",
        r"VOYEUR\w*",
        r"CARNAL",
        r"PANDER\w*",
        r"SEXTING",
        r"CHILD PORN\w*",
        r"PORNOGRAPHY",
        r"FONDL\w*",
        r"GROP\w*",
        apco="SEXOFFNS",
    ),
    # --- behavioural health before medical and before "threat" --------------
    _r(
        "mental_health",
        "mental_health",
        r"SUICID\w*",
        r"MENTAL\w*",
        r"CRISIS",
        r"EDP",
        r"EMOTIONAL\w*",
        r"BEHAVIOU?RAL",
        r"PSYCH\w*",
        r"5150",
        r"ABNORM\w* BEHAV\w*",
        r"DISTURBED PERSON",
        apco="EDP",
    ),
    _r(
        "overdose",
        "medical",
        r"OVERDOSE\w*",
        r"OD",
        r"POISON\w*",
        r"NALOXONE",
        r"NARCAN",
        apco="OD",
    ),
    # --- domestic ------------------------------------------------------------
    _r(
        "domestic",
        "domestic",
        r"DOMESTIC\w*",
        r"DV",
        r"FAMILY (TROUBLE?|TRBL|DISTURBANCE|DISPUTE|VIOLENCE|FIGHT|OFFENSE)",
        r"DISTURBANCE FAMILY",
        r"PROTECT(IVE|ION) ORDERS?",
        r"RESTRAINING ORDERS?",
        r"(VIOL|VIO)\w* (REST|RESTR)\w* ORD\w*",
        r"INJUNCTION",
        r"(CHILD\w*|ELDER\w*|JUVENILE\w*|VULNERABLE ADULT|SPOUS\w*) "
        r"(\w+ )?(ABUS\w*|NEGLECT\w*|ABAND\w*|ENDANGER\w*|MOLEST\w*|LUR\w*|"
        r"EXPLOIT\w*)",
        r"(ABUS\w* OF|NEGLECT\w* OF|CRUEL\w* TO) (A |AN )?(CHILD\w*|JUVENILE\w*|"
        r"ELDER\w*|MINOR\w*)",
        r"CHILD\w*( \w+)? (ABUSE|NEGLECT|ENDANGERMENT)",
        r"VULNERABLE ADULT",
        r"CHILD CUSTODY",
        r"CUSTODIAL INTERFERENCE",
        r"CUSTODY (DISPUTE|ISSUE|VIOLATION|ORDER)S?",
        r"VISITATION",
        r"CHILD PROTECT\w*",
        apco="DVNA",
    ),
    # --- juveniles ----------------------------------------------------------
    _r(
        "juvenile_status",
        "juvenile_status",
        r"CURFEW",
        r"TRUAN\w*",
        r"UNDER ?AGE DRINK\w*",
        r"MINORS? IN POSS\w*",
        r"INCORRIGIBLE",
        r"UNRULY (JUV\w*|CHILD\w*|MINOR\w*)",
        r"JUV\w* (PROBLEM|CASE|COMPLAINT|TROUBLE|TRBL|VIOLATION|OFFENSE)S?",
        r"(TROUBLE|TRBL|PROBLEM) (WITH |W )?(JUV\w*|YOUTH\w*|KIDS?)",
        r"SCHOOL OFFENSE",
        apco="JUV",
    ),
    # --- property that is lost or found: an assist, not a crime -------------
    _r(
        "lost_found_property",
        "assist_public",
        r"(LOST|FOUND|MISSING|ABANDONED|ABAND) (OR (STOLEN|MISSING|FOUND) )?"
        r"(PROP\w*|ITEMS?|BIKES?|BICYCLES?)",
        r"PROP\w* (LOST|FOUND|MISSING)( OR (LOST|FOUND|MISSING|STOLEN))?",
        r"LOST OR (STOLEN|MISSING)",
        r"LOST ?FOUND",
        apco="PROPLOST",
    ),
    # --- missing persons -----------------------------------------------------
    _r(
        "missing_person",
        "missing_person",
        r"MISSING\w*",
        r"RUN ?AWAY\w*",
        r"AWOL",
        r"A W O L",
        r"LOST (CHILD|PERSON|ADULT|JUVENILE)\w*",
        r"FOUND (CHILD|PERSON|ADULT|JUVENILE)\w*",
        r"(PERSON|CHILD|JUVENILE) FOUND",
        r"AMBER",
        r"SILVER ALERT",
        r"ALZHEIMER\w*",
        r"ENDANGERED (ADULT|PERSON|CHILD)",
        apco="PERMISS",
    ),
    # --- animals (before bites, fights and dangerous conditions) ------------
    _r(
        "animal",
        "animal",
        r"ANIMALS?",
        r"DOGS?",
        r"CATS?",
        r"BITES?",
        r"LIVESTOCK",
        r"HORSES?",
        r"COWS?",
        r"WILDLIFE",
        r"RABI\w*",
        apco="ANIMAL",
    ),
    # --- threats and harassment dressed as "assault" -------------------------
    _r(
        "non_contact_assault",
        "other_crime",
        r"ASSAULTS?( \w+)? (VERBAL|TELEPHONE|PHONE|WRITING|HARASS\w*|THREATS?)",
        r"VERBAL THREATS?",
        apco="THREATS",
    ),
    # --- violent crime ------------------------------------------------------
    _r(
        "violent_crime",
        "violent_crime",
        r"ASSAULT\w*",
        r"ASLT",
        r"BATTERY",
        r"ROBB\w*",
        r"HOLD ?UPS?",
        r"KIDNAP\w*",
        r"ABDUCT\w*",
        r"HOSTAGE\w*",
        r"BARRICADE\w*",
        r"STAB",
        r"STABS",
        r"STABB\w*",
        r"CUTTING",
        r"SHOOTINGS?",
        r"(PERSON|VICTIM|SUBJ\w*|SOMEONE) SHOT",
        r"SHOT AT",
        r"GUNSHOT WOUND",
        r"PENETRATING TRAUMA",
        r"PURSE SNATCH\w*",
        r"SNATCH\w*",
        r"STRONG ?ARM",
        r"AGG\w* (ASSAULT|BATTERY)",
        apco="ASSAULT",
    ),
    # --- nuisance: "MISCHIEF OR NUISANCE" is a nuisance complaint ---------------
    _r("nuisance", "disturbance", r"NUISANCES?", apco="DISORD"),
    # --- theft, burglary, vandalism: "THEFT OF FIREARM" is a theft --------------
    _r(
        "theft_burglary",
        "property_crime",
        r"BURG\w*",
        r"B&E",
        r"BREAKING (AND|&) ENTERING",
        r"BREAK ?INS?",
        r"THEFTS?",
        r"LARCEN\w*",
        r"SHOPLIFT\w*",
        r"STOLEN",
        r"STEAL\w*",
        r"PICKPOCKET\w*",
        r"EMBEZZL\w*",
        r"VANDAL\w*",
        r"MISCH\w*",
        r"GRAFFITI",
        apco="LARCENY",
    ),
    # --- weapons and shots ---------------------------------------------------
    _r(
        "weapons_shots",
        "weapons_shots",
        r"SHOTS?( FIRED| HEARD)?",
        r"SHOT ?SPOTTER",
        r"GUN ?SHOTS?",
        r"GUN ?FIRE",
        r"DISCHARG\w*",
        r"FIREARMS?",
        r"WEAP\w*",
        r"WPNS?",
        r"GUNS?",
        r"KNIFE",
        r"KNIVES",
        r"ARMED",
        r"ACTIVE SHOOTER",
        r"SHOOTER",
        apco="WEAPON",
    ),
    # --- fire (arson is a crime first) ----------------------------------------
    _r("arson", "property_crime", r"ARSON\w*", apco="FARSON"),
    _r(
        "fire",
        "fire",
        r"FIRES?(?! ?(WORKS?|CRACKERS?|ARMS?)\b)",
        r"BURN(ING)?",
        r"ILLEGAL BURN",
        r"SMOKE",
        r"FLAMES?",
        apco="FUNK",
    ),
    # --- water, air and rail emergencies (before "accident") ----------------
    _r(
        "water_air_rail",
        "hazard_rescue",
        r"WATER (RESCUE|EMERGENC\w*|JOB|MAIN|LEAK|PROBLEM)",
        r"DROWN\w*",
        r"BOATS?",
        r"BOATERS?",
        r"BOATING",
        r"VESSELS?",
        r"MARINE",
        r"WATERCRAFT",
        r"AIR ?(CRAFT|PLANE)S?",
        r"PLANE CRASH",
        r"TRAIN (WRECK|DERAIL\w*|ACCIDENT|INCIDENT)",
        r"DERAIL\w*",
        apco="WATER",
    ),
    _r(
        "non_traffic_injury",
        "medical",
        r"(INDUSTRIAL|OCCUPATIONAL|HOME|FARM|WORK) (ACCIDENT|INJURY)",
        r"ACCIDENTAL (INJURY|DEATH|FALL)",
        apco="ACCIND",
    ),
    # --- traffic enforcement -------------------------------------------------
    _r(
        "traffic_enforcement",
        "traffic_enforcement",
        r"TRAFFIC STOPS?",
        r"TRAF\w* VIO\w*",
        r"MOVING VIOL\w*",
        r"(PEDESTRIAN|BICYCLE|BIKE|SCHOOL ZONE) (VIOL\w*|ENFORCEMENT)",
        r"TRAFFIC ENF\w*",
        r"SPEED\w*",
        r"RECKLESS (DRIV\w*|VEH\w*|DRIVER|OPERAT\w*)",
        r"CARELESS DRIV\w*",
        r"DUI",
        r"DWI",
        r"OWI",
        r"D U I",
        r"DRUNK DRIV\w*",
        r"DRIVING (WHILE|UNDER)",
        r"IMPAIRED (DRIV\w*|OPERAT\w*)",
        r"ROAD RAGE",
        r"RADAR",
        r"LASER",
        r"DRIV\w* (W OUT|W O|WITHOUT) (A )?(VALID )?LIC\w*",
        r"SUSPENDED (LICENSE|DRIVER)",
        r"CRIMINAL TRAFFIC",
        apco="TSTOP",
    ),
    # --- collisions ----------------------------------------------------------
    _r(
        "traffic_collision",
        "traffic_collision",
        r"ACCIDENTS?",
        r"ACC",
        r"ACCS",
        r"MVA",
        r"MVC",
        r"MVI",
        r"CRASH\w*",
        r"COLLISIONS?",
        r"HIT (AND|&) RUN",
        r"H&R",
        r"H & R",
        r"WRECK",
        r"PDO",
        r"MOTOR VEH\w* (INCIDENT|ACCIDENT|COLLISION)",
        r"LEAV\w* (THE )?SCENE",
        apco="MVA",
    ),
    # --- medical -------------------------------------------------------------
    _r(
        "medical",
        "medical",
        r"MEDICAL\w*",
        r"MEDIC",
        r"MED",
        r"EMS",
        r"AID (RESPONSE|CALL)",
        r"AIDED",
        r"AMBULANCE",
        r"SICK\w*",
        r"ILL (PERSON|SUBJECT)",
        r"INJURED PERSONS?",
        r"UNCONSCIOUS\w*",
        r"FAINT\w*",
        r"CHEST PAIN\w*",
        r"BREATH\w*",
        r"RESPIRATORY",
        r"CARDIAC",
        r"HEART",
        r"STROKE",
        r"SEIZURE\w*",
        r"CONVULS\w*",
        r"DIABET\w*",
        r"HEMORRHAGE",
        r"BLEED\w*",
        r"PREGNAN\w*",
        r"CHILDBIRTH",
        r"ALLERG\w*",
        r"CHOK\w*",
        r"PATIENT",
        r"ALS",
        r"BLS",
        r"CASUALTY",
        r"DEATH",
        r"DEAD",
        r"DOA",
        r"D O A",
        r"CORPSE",
        r"DECEASED",
        r"BODY FOUND",
        apco="SICK",
    ),
    # --- hazards and rescues -------------------------------------------------
    _r(
        "lockout",
        "assist_public",
        r"LOCK ?(OUT|IN)S?",
        r"LOCKED (IN|OUT)",
        apco="VEHLOCK",
    ),
    _r(
        "road_hazard",
        "traffic_hazard_parking",
        r"(TRAFFIC|ROAD|ROADWAY|HIGHWAY|STREET) (HAZARD|OBSTRUCT\w*|DEBRIS)\w*",
        r"DEBRIS (IN|ON) (THE )?(ROAD\w*|HIGHWAY|STREET|LANES?)",
        apco="THAZ",
    ),
    _r(
        "bomb_threat",
        "other_crime",
        r"BOMB (THREAT|SCARE)S?",
        apco="BOMB",
    ),
    _r(
        "hazard_rescue",
        "hazard_rescue",
        r"GAS (LEAK\w*|ODOR|SMELL)",
        r"NATURAL GAS",
        r"(ODOR|SMELL) OF GAS",
        r"HAZ ?MAT",
        r"HZMAT",
        r"HAZARD\w*",
        r"HAZ",
        r"WIRES?( \w+)? (DOWN|ARCING|BURNING)",
        r"POWER (LINES?|OUT)",
        r"ELECTRICAL",
        r"TRANSFORMERS?",
        r"TREES? DOWN",
        r"FLOOD\w*",
        r"RESCUE",
        r"ELEVATOR",
        r"ENTRAP\w*",
        r"TRAPPED",
        r"EXTRICAT\w*",
        r"CONFINED SPACE",
        r"COLLAPSE\w*",
        r"EXPLOS\w*",
        r"EXPLO",
        r"SPILL\w*",
        r"LEAK\w*",
        r"DANGEROUS CONDITION",
        r"UNSAFE",
        r"MUDSLIDE\w*",
        r"LANDSLIDE\w*",
        r"EARTHQUAKE",
        r"WEATHER",
        r"STORM",
        r"SINKHOLE",
        r"DEBRIS",
        apco="HAZ",
    ),
    # --- fraud and damage --------------------------------------------------------
    _r(
        "fraud_damage",
        "property_crime",
        r"FRAUD\w*",
        r"FORGERY",
        r"COUNTERFEIT\w*",
        r"BUNCO",
        r"SCAMS?",
        r"ID THEFT",
        r"IDENTITY",
        r"CREDIT CARD",
        r"(WORTHLESS|BAD|FORGED) (CHECKS?|CHKS?)",
        r"ALTERED CURRENCY",
        r"DAMAGE\w*",
        r"DAMG",
        r"DEST",
        r"DESTRUCTION",
        r"TILL TAP",
        apco="LARCENY",
    ),
    # --- drugs and vice --------------------------------------------------------
    _r(
        "drugs_vice",
        "drugs_vice",
        r"NARC\w*",
        r"DRUGS?",
        r"MARIJUANA",
        r"CANNABIS",
        r"CONT\w* SUB\w*",
        r"COCAINE",
        r"HEROIN",
        r"METH\w*",
        r"OPIOID\w*",
        r"PARAPHERNALIA",
        r"LIQUOR",
        r"ALCOHOL\w*",
        r"INTOX\w*",
        r"DRUNK\w*",
        r"DETOX",
        r"OPEN CONTAINER",
        r"PROSTITU\w*",
        r"SOLICIT\w* (FOR )?PROST\w*",
        r"GAMBL\w*",
        r"VICE",
        apco="DRUGS",
    ),
    # --- suspicious --------------------------------------------------------------
    _r(
        "suspicious",
        "suspicious",
        r"SUSP\w*",
        r"PROWL\w*",
        r"CASERS?",
        r"CASING",
        r"OPEN (DOOR|WINDOW|BUILDING|GARAGE|STRUCTURE)S?",
        r"UNSECURED? (BUILDING|DOOR|PREMISES?)",
        r"UNATTENDED (PACKAGE|BAG|ITEM)",
        apco="SUSP",
    ),
    # --- other crime -------------------------------------------------------------
    _r(
        "other_crime",
        "other_crime",
        r"TRESPASS\w*",
        r"THREAT\w*",
        r"HARASS\w*",
        r"STALK\w*",
        r"EXTORT\w*",
        r"BLACKMAIL",
        r"ESCAPE\w*",
        r"ELUD\w*",
        r"EVAD\w*",
        r"FLEE\w*",
        r"PURSUIT",
        r"RESIST\w*",
        r"IMPERSONAT\w*",
        r"BRIBERY",
        r"OBSTRUCTION",
        r"HATE CRIME",
        apco="THREATS",
    ),
    # --- welfare -----------------------------------------------------------------
    _r(
        "welfare_check",
        "welfare_check",
        r"WELFARE\w*",
        r"WELL ?BEING",
        r"(PERSON|MAN|WOMAN|SUBJ\w*) DOWN",
        r"DOWN (PERSON|MAN|SUBJ\w*)",
        r"SLUMPED",
        apco="WELFARE",
    ),
    # --- disturbances and nuisances ------------------------------------------------
    _r(
        "disturbance",
        "disturbance",
        r"DISTURB\w*",
        r"DIST",
        r"FIGHT\w*",
        r"NOISE",
        r"LOUD",
        r"PARTY",
        r"PARTIES",
        r"MUSIC",
        r"CROWDS?",
        r"NUISANCE",
        r"FIRE ?WORKS?",
        r"FIRE ?CRACKERS?",
        r"PANHANDL\w*",
        r"BEGG\w*",
        r"VAGRAN\w*",
        r"HOMELESS",
        r"ENCAMPMENT",
        r"DISORDERLY",
        r"QUALITY OF LIFE",
        r"UNWANTED (PERSON|SUBJECT|GUEST|SUBJ)S?",
        r"NEIGHBOR\w* (PROBLEM|DISPUTE|TROUBLE)",
        r"(TROUBLE|TRBL) (WITH |W )?(SUBJ\w*|PERSON|CUSTOMER|PATRON)",
        r"RIOT\w*",
        r"DEMONSTRAT\w*",
        r"PROTEST\w*",
        r"PICKET\w*",
        r"DUMPING",
        r"LITTER\w*",
        r"URINAT\w*",
        r"DEFECAT\w*",
        r"SIT LIE",
        r"LOITER\w*",
        apco="DISORD",
    ),
    # --- parking, tows, road hazards, stalled vehicles --------------------------
    _r(
        "traffic_hazard_parking",
        "traffic_hazard_parking",
        r"PARKING",
        r"PARKED",
        r"(ABANDONED|ABAND|ABANDON|DISABLED|STALLED|JUNK\w*) (MOTOR )?(VEH\w*|AUTO\w*|"
        r"CARS?|OCCUPIED)",
        r"TOW(S|ED|ING)?",
        r"TOW TRUCKS?",
        r"(TRAFFIC|ROAD|ROADWAY|HIGHWAY) (HAZARD|OBSTRUCT\w*|DEBRIS)",
        r"OBSTRUCT\w* (ON )?(THE )?(HIGHWAY|ROAD\w*|STREET|TRAFFIC)",
        r"(STREET|FREEWAY|HIGHWAY|ROAD|LANE) (BLOCK\w*|CLOS\w*)",
        r"BLOCKING (THE )?(ROADWAY|ROAD|TRAFFIC|STREET|RIGHT OF WAY|DRIVEWAY)",
        r"MOTORISTS?",
        r"SIGNALS?( \w+)? (OUT|MALF\w*|DOWN)",
        r"(TRAFFIC|STREET) (LIGHT|SIGNAL)\w*",
        r"DOWN SIGNS",
        r"DIRECT\w* TRAFFIC",
        r"TRAFFIC CONTROL",
        r"REPOSS\w*",
        apco="THAZ",
    ),
    # --- assisting the public ------------------------------------------------------
    _r(
        "assist_public",
        "assist_public",
        r"ASSIST\w* (THE )?(PUBLIC|CITIZEN\w*|PERSON|RESIDENT)",
        r"CITIZEN\w* (ASSIST\w*|CONTACT|SERVICE)",
        r"PUBLIC (ASSIST\w*|SERVICE)",
        r"SERVICE CALL",
        r"CIVIL\w*",
        r"KEEP THE PEACE",
        r"PEACE STANDBY",
        r"MEET (THE |A |W )?(COMPLAINANT|CITIZEN|CALLER|PERSON)",
        r"LANDLORD\w*",
        r"TENANT\w*",
        r"CALL FOR POLICE",
        r"ASSISTANCE",
        apco="CITASST",
    ),
    # --- help for other agencies and units ------------------------------------------
    _r(
        "officer_agency_assist",
        "officer_agency_assist",
        r"ASSIST\w* (THE )?(OTHER|ANOTHER|OUTSIDE|ALLIED) (AGENCY|AGENCIES|DEPT\w*)",
        r"(OTHER|ANOTHER|OUTSIDE) AGENCY",
        r"MUTUAL AID",
        r"BACK ?UP",
        r"STAND ?BY",
        r"MEET (THE |W )?(OFFICER|AGENCY|GOVT\w*|FIRE|EMS)",
        r"ASSIST\w* (SPD|PD|POLICE|UNIT|PERSONNEL|OFFICERS?)",
        r"COVER (UNIT|OFFICER)",
        apco="ASSIST",
    ),
    # --- officer-initiated, proactive work ----------------------------------------
    _r(
        "proactive_patrol",
        "proactive_patrol",
        r"(PREMISES?|AREA|BUSINESS|BUILDING|BLDG|RESIDENCE|RESIDENTIAL|HOUSE|HOME|"
        r"VACANT\w*|TAVERN|BAR|PARK|PERIODIC|SPECIAL|SECURITY|PROPERTY|SCHOOL|"
        r"ZONE|BEAT|VACATION|EXTRA|CLOSE) (CHECKS?|CHKS?|CHK)",
        r"(HOUSE|HOME) BUSINESS CHECKS?",
        r"PATROL\w*",
        r"WALK (AND|&) TALK",
        r"PARK (AND|&) WALK",
        r"FOOT (BEAT|PATROL)",
        r"PASSING CALLS?",
        r"COMMUNITY (POLICING|ORIENT\w*|ENGAGEMENT|MEETING|MTNG|EVENT|CONTACT)",
        r"COMMUNITY MTNG",
        r"(PEDESTRIAN|PED|SUBJ\w*|SUBJECT|TERRY|INVESTIGATIVE) STOPS?",
        r"FIELD (INTERVIEW|INTERROGATION|CONTACT)S?",
        r"SCHOOL (MONITOR\w*|PERIMETER|VISIT|PATROL)",
        r"HOT ?SPOT\w*",
        r"ONVIEW",
        r"ON VIEW",
        apco="INVEST",
    ),
    # --- administrative, follow-up, out of service -----------------------------------
    _r(
        "administrative",
        "administrative",
        r"ADMIN\w*",
        r"INFORMATION\w*",
        r"INFO",
        r"FOLLOW ?UPS?",
        r"CALL ?BACKS?",
        r"CALLBACK\w*",
        r"RETURN (FOR|TO) (ADD\w*|STATION|HQ)",
        r"RETURN STATION",
        r"ADD\w* INFO\w*",
        r"ADDL INFO",
        r"PRISONERS?",
        r"TRANSPORT\w* (PRISONER|SUSPECT|ARRESTEE|EVIDENCE|EQUIPMENT)",
        r"ESCORTS?",
        r"CONVEY\w*",
        r"ERRANDS?",
        r"MEAL( BREAK)?",
        r"BREAK",
        r"LUNCH",
        r"OUT OF SERVICE",
        r"COURT\w*",
        r"TRAINING",
        r"ASSIGNMENTS?",
        r"SPECIAL ASSIGN\w*",
        r"DETAIL",
        r"OFF DUTY",
        r"EMPLOYMENT",
        r"(HOSPITAL|PRISONER) GUARD",
        r"GUARD",
        r"EVIDENCE",
        r"NOTIFICATION\w*",
        r"MESSAGES?",
        r"BROADCASTS?",
        r"BOLO",
        r"BE ON THE LOOK ?OUT",
        r"ATTEMPT TO LOCATE",
        r"BACKGROUND",
        r"FINGERPRINT\w*",
        r"PROPERTY PICKUP",
        r"PICK ?UP PROPERTY",
        r"K ?9",
        r"FIXED POST",
        r"REPORTS?",
        r"INVESTIGATION",
        apco="ADMIN",
    ),
    # --- last-resort, low-confidence fallbacks -------------------------------------
    _r(
        "generic_traffic",
        "traffic_hazard_parking",
        r"TRAFFIC",
        r"TRAF",
        r"MOTOR VEH\w*",
        r"VEHICLES?",
        apco="THAZ",
        confidence="low",
    ),
    _r(
        "generic_complaint",
        "disturbance",
        r"COMPLAINTS?",
        r"COMPLAINANT",
        apco="DISORD",
        confidence="low",
    ),
    _r(
        "generic_crime",
        "other_crime",
        r"CRIM\w*",
        r"OFFENSES?",
        r"OFFENCES?",
        r"MISDEMEANOR\w*",
        r"FELONY",
        r"VIOLATIONS?",
        r"ORDINANCE",
        apco="MISCON",
        confidence="low",
    ),
    _r(
        "generic_injury",
        "medical",
        r"INJUR\w*",
        r"INJ",
        apco="TRAUMA",
        confidence="low",
    ),
)

# --- text normalization ------------------------------------------------------

# A parenthetical that negates ("(NO WEAPONS)", "(DOES NOT INCLUDE SHOPLIFT)",
# "(EXCEPT ABANDONED CAR)", "(NON-SPD SIN)") is removed whole.
_NEG_WORD = r"(?:NO|NOT|NON|EXCEPT|EXCL(?:UDING|UDES|UDE)?|W/O|OTHER THAN)"
_NEG_PAREN = re.compile(rf"\([^()]*\b{_NEG_WORD}\b[^()]*\)?")
# "NON-INJURY", "NON DV": the prefix negates one word.
_NEG_NON = re.compile(r"\bNON[\s\-]+[A-Z0-9]+")
# "NO ASSAULT", "no injury and no blocking": up to the next separator. Some
# "NO ..." phrases name the thing itself and are kept ("NO PARKING ZONE").
_NEG_CLAUSE = re.compile(
    r"\b(?:NO|NOT|EXCEPT|EXCL(?:UDING|UDES|UDE)?|OTHER THAN)\b"
    r"(?! (?:PARKING|TRESPASS\w*|CONTACT|SMOKING|WAKE|LICENSE)\b)"
    r"(?:(?! - )[^,;()])*"
)
_NON_WORD = re.compile(r"[^A-Z0-9&]+")
_SPACES = re.compile(r"\s+")


def strip_negations(text: str) -> str:
    """Remove negated qualifiers from upper-case ``text``.

    Why: dispatch labels often say what a call is *not* ("FIGHT (NO
    WEAPONS)", "SHOTS - INCLUDES HEARD/NO ASSAULT"). A keyword rule that
    fires on the negated word files the call in exactly the wrong place.
    """
    text = _NEG_PAREN.sub(" ", text)
    text = _NEG_NON.sub(" ", text)
    return _NEG_CLAUSE.sub(" ", text)


def normalize_text(text: str) -> str:
    """Upper-case, drop negations, turn punctuation into single spaces.

    The result has no leading or trailing space; words are separated by one
    space and ``&`` is kept as part of a word (``B&E``). Never raises.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    upper = text.upper()
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

    Returns ``None`` when no rule fires; the caller then reports ``unmapped``
    rather than guessing. Never raises.
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
