"""Where a call stands: ``pending``, ``dispatched``, ``en_route``, ``on_scene``,
``closed`` or ``unknown`` (``vocab.STATUSES``).

Two ways to know, both here:

* :func:`status_from_raw` reads a published status word: Dallas unit statuses
  (``At Scene``, ``Dispatched``, ``En Route``), Monroe County's RSS
  (``WAITING``, ``DISPATCHED``, ``ENROUTE``, ``ONSCENE``), Milwaukee's
  ``Status`` column (``Service in Progress`` or an outcome such as ``Advised``,
  which means the call is over), and the Seattle Fire page's cell class
  (``active``/``closed``).
* :func:`status_from_times` derives it from the stage timestamps that are
  present: the latest stage wins, a close time means ``closed``, none means
  ``pending``.

Seattle Fire ``active``: every row of that page is a dispatch message, so a row
exists only once units were sent; ``active`` says the incident is not closed
but not whether units are en route or on scene. The latest stage known for
sure is ``dispatched``, so that is what ``active`` gives.

Both functions are total: any input gives a vocabulary value, never an error.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..config import vocab
from .text import to_text

__all__ = ["status_from_raw", "status_from_times"]

log = logging.getLogger(__name__)

_TABLE: dict[str, str] = {
    # Waiting for a unit.
    "PENDING": "pending",
    "WAITING": "pending",
    "HOLDING": "pending",
    "HOLD": "pending",
    "QUEUED": "pending",
    "IN QUEUE": "pending",
    "RECEIVED": "pending",
    "NEW": "pending",
    "UNASSIGNED": "pending",
    "NOT DISPATCHED": "pending",
    # A unit was sent.
    "DISPATCHED": "dispatched",
    "DISP": "dispatched",
    "ASSIGNED": "dispatched",
    "ACTIVE": "dispatched",  # Seattle Fire td class; see the module docstring
    # On the way.
    "EN ROUTE": "en_route",
    "ENROUTE": "en_route",
    "ENRT": "en_route",
    "RESPONDING": "en_route",
    # There.
    "AT SCENE": "on_scene",
    "ON SCENE": "on_scene",
    "ONSCENE": "on_scene",
    "ARRIVED": "on_scene",
    "ONSITE": "on_scene",
    "ON SITE": "on_scene",
    "WORKING": "on_scene",
    "SERVICE IN PROGRESS": "on_scene",  # Milwaukee: an officer is serving the call
    "IN PROGRESS": "on_scene",
    "TRANSPORTING": "on_scene",  # still committed, past on-scene
    "AT HOSPITAL": "on_scene",
    # Over.
    "CLOSED": "closed",
    "CLEARED": "closed",
    "CLEAR": "closed",
    "COMPLETED": "closed",
    "COMPLETE": "closed",
    "AVAILABLE": "closed",
    "CANCELLED": "closed",
    "CANCELED": "closed",
    "INACTIVE": "closed",
    # Milwaukee "Status" values that are outcomes: the call is over.
    "ADVISED": "closed",
    "ASSIGNMENT COMPLETED": "closed",
    "TO BE FILED": "closed",
    "CITY CITATION S ISSUED": "closed",
    "UNABLE TO LOCATE COMPLAINANT": "closed",
    "ADVISED REFERRAL": "closed",
    "OPEN INVESTIGATION": "closed",
    "FALSE ALARM": "closed",
    "CLEARED BY ARREST": "closed",
    "NO PROSECUTION": "closed",
    "FILED DRIVER EXCHANGE REPORT": "closed",
    "REFERRAL": "closed",
}
_NON_WORD = re.compile(r"[^A-Z0-9]+")
# Stage order for the timestamps, latest last.
_STAGES = (
    ("dispatched", "dispatched"),
    ("enroute", "en_route"),
    ("onscene", "on_scene"),
)
_ABSENT_TEXT = frozenset({"", "NONE", "NULL", "NAN", "NAT", "N/A", "NA"})


def _text(value: Any) -> str:
    return to_text(value) or ""


@lru_cache(maxsize=4096)
def _from_text(text: str) -> str:
    key = _NON_WORD.sub(" ", text.upper()).strip()
    return _TABLE.get(key, "unknown")


def status_from_raw(raw: Any) -> str:
    """Status named by a published status value; ``unknown`` if unrecognized.

    Matching ignores case and punctuation (``En-Route``, ``EN ROUTE``,
    ``ENROUTE`` are one value). Never raises.
    """
    try:
        return _from_text(_text(raw))
    except Exception:  # noqa: BLE001
        log.exception("status_from_raw failed for %r", raw)
        return "unknown"


def _present(value: Any) -> bool:
    """Is a timestamp present? ``None``, blanks, NaN and NaT are absent."""
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    try:
        text = str(value).strip().upper()
    except Exception:  # noqa: BLE001
        return True
    return text not in _ABSENT_TEXT


def status_from_times(
    times: Any = None,
    enroute: Any = None,
    onscene: Any = None,
    closed: Any = None,
    *,
    dispatched: Any = None,
    **_: Any,
) -> str:
    """Status from the stage timestamps that are present.

    A close time means ``closed``; otherwise the latest stage present wins
    (``on_scene`` > ``en_route`` > ``dispatched``); with none, ``pending``.
    Call as ``status_from_times(dispatched=..., enroute=..., onscene=...,
    closed=...)``, positionally in that order, or with one mapping of those
    keys (``vocab.TIMESTAMPS`` names). Unknown keywords are ignored. Never
    raises.
    """
    try:
        if isinstance(times, Mapping):
            values = {k: times.get(k) for k in ("dispatched", "enroute", "onscene")}
            values["closed"] = times.get("closed")
        else:
            values = {
                "dispatched": dispatched if dispatched is not None else times,
                "enroute": enroute,
                "onscene": onscene,
                "closed": closed,
            }
        if _present(values["closed"]):
            return "closed"
        status = "pending"
        for key, stage in _STAGES:
            if _present(values[key]):
                status = stage
        return status
    except Exception:  # noqa: BLE001
        log.exception("status_from_times failed")
        return "unknown"


def _check_table() -> None:
    bad = set(_TABLE.values()) - set(vocab.STATUSES)
    if bad:
        raise RuntimeError(f"status table uses unknown codes: {bad}")
    if not {k for k, _ in _STAGES} <= set(vocab.TIMESTAMPS):
        raise RuntimeError("status stages out of step with vocab.TIMESTAMPS")


_check_table()
