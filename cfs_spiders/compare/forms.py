"""Value-form checks: a value of the wrong form does not publish the element.

A column can be filled in every record and still not carry what the element
means. Caddo Parish's page gives each call's time as ``HHMM`` with no date (the
record builder dates it from the fetch and flags it ``time_only``), so "100% have
a received time" would claim a timestamp the publisher never gave. Its ``units``
column is a number of units, not which units were sent. Each check below reads
only what the record itself says (a time flag, which units field the config's
mapping filled), never a feed id, so any feed with the same form is treated the
same way: the records in the reduced form count at their real precision, as a
level of their own (``time of day only``, ``count only``), not as ``published``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .constants import COUNT_ONLY, TIME_OF_DAY_ONLY

_STAGES = ("dispatched", "enroute", "onscene", "closed")


def _present(value: Any) -> bool:
    return value is not None and value != "" and value == value


def _time_only(names: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    """True when every stamp of the element the record carries is a time of day."""

    def reduced(rec: dict[str, Any]) -> bool:
        flags = str(rec.get("time_flags") or "")
        carried = [n for n in names if _present(rec.get(f"{n}_at_utc"))]
        return bool(carried) and all(f"{n}_at:time_only" in flags for n in carried)

    return reduced


def _count_only(rec: dict[str, Any]) -> bool:
    return not _present(rec.get("units_raw")) and _present(rec.get("unit_count"))


# element -> (the reduced form's level, the test on a record carrying the element,
# what the form is, in a reader's words)
FORMS: dict[str, tuple[str, Callable[[dict[str, Any]], bool], str]] = {
    "received_time": (
        TIME_OF_DAY_ONLY,
        _time_only(("received",)),
        "a time of day with no date (the date is the fetch's)",
    ),
    "stage_times": (
        TIME_OF_DAY_ONLY,
        _time_only(_STAGES),
        "times of day with no date (the date is the fetch's)",
    ),
    "units": (
        COUNT_ONLY,
        _count_only,
        "a number of units, not which units were sent",
    ),
}


def split_by_form(
    element: str, carrying: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records carrying the element in its full form, records in a reduced form)."""
    form = FORMS.get(element)
    if form is None:
        return carrying, []
    reduced = form[1]
    full = [c for c in carrying if not reduced(c)]
    return full, [c for c in carrying if reduced(c)]


def form_level(element: str) -> str | None:
    """The level a feed gets when every value it carries is in the reduced form."""
    form = FORMS.get(element)
    return form[0] if form else None


def form_words(element: str) -> str | None:
    form = FORMS.get(element)
    return form[2] if form else None


def timestamp_stages(calls: list[dict[str, Any]], min_share: float) -> str | None:
    """The time stages a feed gives in at least ``min_share`` of its records.

    Two feeds of one agency that each give a single timestamp should name the same
    stage for it; when one maps it to ``received`` and the other to ``dispatched``
    (Seattle Fire's dataset and the HTML page it mirrors), the comparison says so
    instead of counting the one as a received time and the other as a stage time.
    """
    if not calls:
        return None
    stages = [
        s
        for s in ("received", *_STAGES)
        if sum(1 for c in calls if _present(c.get(f"{s}_at_utc"))) / len(calls)
        >= min_share
    ]
    return ";".join(stages) or None
