"""The comparison's fixed names and thresholds, shared by every compare module."""

from __future__ import annotations

CHICAGO_FEED_ID = "il_chicago_oemc"
FEED = "feed"  # the pseudo-element of feed-level facts in the long table
LONG_COLUMNS = ("feed", "element", "metric", "value")

# Measured availability from the fill rate (design note in the issue).
PUBLISHED_MIN = 0.95
NO_DATA = "no data"
NO_FEED = "no feed"
# An element the capture cannot carry (``capture.lacks``): neither published nor not.
NOT_IN_CAPTURE = "not in capture"
# Levels of a value whose form is coarser than the element (``forms.py``): carried,
# but not at the precision "published" would claim.
TIME_OF_DAY_ONLY = "time of day only"
COUNT_ONLY = "count only"
FORM_LEVELS = (TIME_OF_DAY_ONLY, COUNT_ONLY)
# A granularity counts as "published" by a feed only if at least this share of its
# records carry it: one odd string classified ``exact`` does not make a feed exact.
FINEST_MIN_SHARE = 0.05
# Publication delay and time on feed are read off consecutive runs. When two runs
# are further apart than this, a call first seen (or last seen) between them could
# have appeared (or left) at any time in the gap, so the gap says nothing useful.
MAX_RUN_GAP_S = 24 * 3600

# Chicago's statuses on the availability scale (the heatmap and the table); the
# status itself is kept verbatim in ``documented``.
CHICAGO_TO_AVAILABILITY = {
    "published": "published",
    "published_aggregate": "published_aggregate",
    "foia_only": "foia_only",
    "withheld": "withheld",
    "not_collected": "not_published",
    "unknown": "not_published",
}
# Levels that mean "no record-level value reaches the public".
ABSENT = {"not_published", "withheld", "foia_only", "published_aggregate"}

TIME_RESOLUTIONS = ("seconds", "minutes", "time_only", "date", "unparsed")
ELEMENT_LABELS = {
    "id": "call id",
    "received_time": "received time",
    "stage_times": "other stage times",
    "address": "address",
    "coordinates": "coordinates",
    "call_type": "call type",
    "priority": "priority",
    "status": "status",
    "disposition": "disposition",
    "call_source": "call source",
    "area": "area",
    "units": "units",
}
