"""What field names say about their role: the words dispatch feeds use.

Each role has name patterns of three strengths (matched on the field's last path
part, lower case, letters and digits only: ``Master_Incident_Number`` ->
``masterincidentnumber``) and patterns that rule a name out. A name is only half
of the evidence: the role modules check the values too, so a column named
``Type`` that holds ``911`` and ``ONVIEW`` is read as the call source.

These patterns are about the vocabulary of CAD exports in general, not about any
one feed: a feed's own facts belong in its config.
"""

from __future__ import annotations

import re

from .profile import squash

Patterns = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]

# (strong, medium, weak, never)
ROLE_NAMES: dict[str, Patterns] = {
    "call_type": (
        (
            r"^calltype(final)?(desc|description|text|name)?$",
            r"^finalcalltype$",
            r"natureofcall",
            r"^nature(desc|description|code)?$",
            r"^(incident|event|problem|crime|offense|call)(type)?(desc|description|name|text)$",
            r"^(incident|event|problem|crime|offense)type(name|desc)?$",
            r"^(problem|offense|description|desc)$",
            r"^type$",
            r"(online|extnature)(description|displayname)",
            r"incidentcalltype$",
            r"tencodedesc",
            r"originalcrimetypename",
        ),
        (r"type", r"desc", r"nature", r"category", r"offense", r"crime", r"complaint"),
        (r"title", r"summary", r"reason"),
        (
            r"(agency|unit|address|location|source|apparatus|premise)type",
            r"typegroup|group$|subtype",
            r"(code|id|number|no|notes?|flag)$",
            r"locationdesc",
        ),
    ),
    "call_type_initial": (
        (r"(original|initial|orig)(call)?type(desc|description|name|text)?$",),
        (r"(original|initial).*(type|desc|nature)",),
        (),
        (r"(code|notes?|id)$", r"priority"),
    ),
    "priority": (
        (
            r"^(final)?priority(final)?$",
            r"^pri$|^prio$",
            r"alarmlevel",
            r"responselevel",
            r"^level$",
        ),
        (r"priority", r"urgency", r"severity", r"level"),
        (),
        (r"original|initial|orig", r"description|desc$"),
    ),
    "status": (
        (r"^(call|incident|event)?status(id|code|desc|description)?$", r"^rowclass$"),
        (r"status", r"^state$"),
        (),
        (r"(unit|dispatch).*status", r"statusdatetime", r"time$|date$"),
    ),
    "disposition": (
        (
            r"disposition",
            r"^dispo",
            r"clearance(desc|description)?$",
            r"eventclearance",
        ),
        (r"clearance", r"outcome", r"^result", r"resolution", r"(close|clear)code"),
        (),
        (r"date|time|dttm|group$",),
    ),
    "source": (
        (
            r"callsource",
            r"^source$",
            r"onview",
            r"selfinit",
            r"officerinit",
            r"howreceived",
            r"receivedvia",
            r"callorigin",
            r"callmethod",
        ),
        (r"source", r"initiated", r"origin"),
        (),
        (r"date|time",),
    ),
    "units": (
        (
            r"^units?$",
            r"^unit(s)?(id|number|no|dispatched|assigned|list)s?$",
            r"^(assigned|dispatched|responding)units?$",
            r"apparatus",
            r"^resources?$",
        ),
        (r"units?$", r"vehicles?$", r"^unit"),
        (),
        (r"^(no|num|number|count)units|unitcount|unittype|unitseq|unitsequence",),
    ),
    "unit_count": (
        (r"^(no|num|number|count)(of)?units$", r"^unitcount$", r"^units$"),
        (),
        (),
        (),
    ),
    "agency": (
        (
            r"^agency(id|name|type|code)?$",
            r"^(dept|department)(name)?$",
            r"^discipline$",
            r"^service$",
        ),
        (r"agency", r"department", r"jurisdiction"),
        (),
        (r"date|time",),
    ),
    "cross_street": (
        (r"cross", r"^xstreets?$", r"^xst$"),
        (r"nearestintersection",),
        (),
        (),
    ),
}

AREA_NAMES: dict[str, tuple[str, ...]] = {
    "supervisor_district": (r"supervisor",),
    "council_district": (r"council",),
    "reporting_area": (r"reportingarea|^rpa$|reportingdistrict|^ra$",),
    "district": (r"district|^dist$|poldist",),
    "division": (r"division|^div$",),
    "precinct": (r"precinct|^pct$",),
    "sector": (r"sector|polsect|^sect$",),
    "beat": (r"beat",),
    "zone": (r"zone",),
    "neighborhood": (r"neighbo|^nbhd$|^hood$",),
    "keymap": (r"keymap|mapsco|mappage|^grid$",),
    "zip": (r"^zip|zipcode|postal",),
    "battalion": (r"battalion|^batt$",),
    "station_area": (r"station",),
    "box": (r"^box",),
    "municipality": (r"municipal|^city$|^town|township|^mun$|^community$|^cityname$",),
}
_AREA_NEVER = re.compile(r"date|time|lat|lon|^x$|^y$|type$")

ID_NEVER = re.compile(
    r"^(objectid|fid|oid|rowid|uid|gid|ogcfid|index|rownum|rownumber|pk|globalid)$"
    r"|objectid$|hash"
)
ID_STRONG = re.compile(
    r"(incident|event|call|cad|case|crime|master|sequence|item|cfs|ticket|alarm)"
    r".*(number|num|no|nbr|nr|id|key)$"
)
ID_EXACT = frozenset(
    {"guid", "incident", "event", "innum", "incidentno", "eventno", "cadno", "inum"}
)
ID_GENERIC = frozenset({"id", "number", "no", "num", "key"})
ID_OTHER = re.compile(
    r"unit|agency|beat|report|complaint|box|zip|tencode|code|type|status|station"
    r"|district|area|zone|priority|phone|run|person|vehicle|premise"
)

ADDRESS_NAMES = (
    (1.0, re.compile(r"address|addr")),
    (0.9, re.compile(r"^location|incidentlocation|location$|locationtxt")),
    (0.8, re.compile(r"^street(name)?$|^streetname|^street$")),
    (0.7, re.compile(r"intersection")),
    (0.4, re.compile(r"premise|place|landmark|common")),
)
ADDRESS_NEVER = re.compile(
    r"cross|desc|type|^city|state|zip|municipal|apt|aptlot|lat|lon|coord|point|geo"
    r"|mapx|mapy|number$|^block$|hundred|^blk$|truncated|public|reportlocation"
)
BLOCK_NUMBER = re.compile(
    r"^block$|^blk$|hundred|housenumber|streetnumber|^stnum|^houseno"
)
LAT_NAMES = re.compile(r"^lat|latitude|lat$")
LON_NAMES = re.compile(r"^lon|^lng|longitude|lon$|lng$|^long$")

# stage times: (stage, pattern); checked in this order
STAGE_NAMES = (
    (
        "exclude",
        re.compile(
            r"firstseen|lastseen|collected|generated|scraped|fetched|loaded|asof|inserted"
            r"|ingest|watch|transport|hospital|^entry|entrydttm|entrydatetime|reportdate"
            r"|offense|eastern|^dow$|^hour$|birth|^dob$|expir"
        ),
    ),
    ("updated", re.compile(r"updat|modif|lastchange|changed")),
    ("closed", re.compile(r"clos|clear|availab|complet|finish|ended|^end|resolved")),
    ("onscene", re.compile(r"onscene|arriv|atscene|onlocation")),
    ("enroute", re.compile(r"enroute|responding|enrt")),
    ("response", re.compile(r"respon")),
    ("dispatched", re.compile(r"dispatch|assign")),
    (
        "received",
        re.compile(
            r"receiv|creat|calltime|calldate|callreceived|opened|reported|incidentdate"
            r"|incidenttime|starttime"
        ),
    ),
    ("queued", re.compile(r"queue")),
    ("generic", re.compile(r"date|time|dttm|timestamp|pubdate|published|when")),
)


def _match(patterns: tuple[str, ...], name: str) -> bool:
    return any(re.search(p, name) for p in patterns)


def role_name_score(role: str, name: str) -> float:
    """1.0 / 0.7 / 0.4 for a strong / medium / weak name, 0 for none, -1 never."""
    s = squash(name)
    strong, medium, weak, never = ROLE_NAMES[role]
    if never and _match(never, s):
        return -1.0
    if _match(strong, s):
        return 1.0
    if _match(medium, s):
        return 0.7
    if _match(weak, s):
        return 0.4
    return 0.0


def id_name_score(name: str) -> float:
    s = squash(name)
    if ID_NEVER.search(s):
        return -1.0
    if s in ID_EXACT or (ID_STRONG.search(s) and not ID_OTHER.search(s)):
        return 1.0
    if ID_STRONG.search(s):
        return 0.2
    if s in ID_GENERIC:
        return 0.6
    if re.search(r"(number|num|no|nbr|id)$", s) and not ID_OTHER.search(s):
        return 0.3
    return 0.0


def area_type(name: str) -> str | None:
    s = squash(name)
    if _AREA_NEVER.search(s):
        return None
    for area, patterns in AREA_NAMES.items():
        if _match(patterns, s):
            return area
    return None


def address_name_score(name: str) -> float:
    s = squash(name)
    if ADDRESS_NEVER.search(s):
        return -1.0
    for weight, pattern in ADDRESS_NAMES:
        if pattern.search(s):
            return weight
    return 0.0


def stage_of(name: str) -> str | None:
    """The stage a time field's name points to (``generic`` for plain ``Date``)."""
    s = squash(name)
    if re.fullmatch(r"col\d+", s):
        return "generic"
    for stage, pattern in STAGE_NAMES:
        if pattern.search(s):
            return None if stage == "exclude" else stage
    return None
