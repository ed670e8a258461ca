"""Where a call stands: ``pending``, ``dispatched``, ``en_route``, ``on_scene``,
``closed`` or ``unknown`` (``vocab.STATUSES``).

Three sources, in this order:

* **The feed's own status crosswalk** (``status_crosswalk`` in its config): the
  published words mean what that publisher means. Milwaukee's ``Status`` column
  holds ``Service in Progress`` or an outcome such as ``Advised``; Dallas's
  ``status`` is the state of one *unit* (``At Scene``, ``Available``), not of the
  call. The crosswalk says whose state its words describe (``of: call|unit``).
* **The general table** below, only for words the feed's crosswalk does not hold.
  It holds words whose meaning does not depend on the publisher (``DISPATCHED``,
  ``EN ROUTE``, ``CLOSED``). ``OPEN INVESTIGATION`` is not here (a case can be
  open while the call is over, or not), nor is ``AVAILABLE`` (a unit's state).
* **Stage timestamps** (:func:`status_from_times`) when no word says anything.

:func:`call_status` then applies what the board can promise. A history dataset
holds calls after they close (``closed`` by construction). An append-only board
(Seattle Fire) never takes a call off, so an in-progress stage read there would
stay in the store for ever: only ``closed`` or ``unknown`` are kept. A unit's
``closed`` (it cleared) does not close the call: the call is at least
``dispatched``, and it closes when the call itself does (it leaves an active
board, or a call-level word or close time says so).

Seattle Fire ``active``: every row of that page is a dispatch message, so a row
exists only once units were sent; ``active`` says the incident is not closed
but not whether units are en route or on scene, so the general table gives
``dispatched`` (and the append-only rule then stores ``unknown``).

Every function is total: any input gives a vocabulary value, never an error.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..config import vocab
from .text import to_text

__all__ = [
    "IN_PROGRESS",
    "StatusCrosswalk",
    "StatusResult",
    "call_status",
    "classify_status",
    "merge_unit_statuses",
    "status_from_raw",
    "status_from_times",
]

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
    "STACKED": "pending",
    # A unit was sent.
    "DISPATCHED": "dispatched",
    "DISP": "dispatched",
    "ASSIGNED": "dispatched",
    "ACKNOWLEDGED": "dispatched",
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
    "IN PROGRESS": "on_scene",
    "TRANSPORTING": "on_scene",  # still committed, past on-scene
    "AT HOSPITAL": "on_scene",
    # Over.
    "CLOSED": "closed",
    "CLEARED": "closed",
    "CLEAR": "closed",
    "COMPLETED": "closed",
    "COMPLETE": "closed",
    "CANCELLED": "closed",
    "CANCELED": "closed",
    "INACTIVE": "closed",
}
IN_PROGRESS = frozenset({"pending", "dispatched", "en_route", "on_scene"})
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


def _key(text: str) -> str:
    return _NON_WORD.sub(" ", text.upper()).strip()


@lru_cache(maxsize=4096)
def _from_text(text: str) -> str:
    return _TABLE.get(_key(text), "unknown")


@dataclass(frozen=True)
class StatusCrosswalk:
    """A feed's own status words (config ``status_crosswalk``).

    ``of`` says whose state the words describe: ``call``, or ``unit`` where each
    row is one unit's (Dallas). ``values`` maps the published word, compared
    without case and punctuation, to a status code.
    """

    version: int = 0
    of: str = "call"
    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, spec: Mapping[str, Any] | None, *, rows_per: str = "call"
    ) -> StatusCrosswalk:
        """From a config's ``status_crosswalk`` block (absent: an empty one whose
        words are a unit's where the feed publishes one row per unit)."""
        default_of = "unit" if rows_per == "unit" else "call"
        if not spec:
            return cls(0, default_of, {})
        values = {_key(str(k)): str(v) for k, v in (spec.get("values") or {}).items()}
        bad = set(values.values()) - set(vocab.STATUSES)
        if bad:
            raise ValueError(f"status_crosswalk: unknown status codes {sorted(bad)}")
        return cls(int(spec.get("version", 1)), spec.get("of", default_of), values)


@dataclass(frozen=True, slots=True)
class StatusResult:
    """A call's status, how it was known, and which table read the word
    (``feed``, ``general`` or ``None``)."""

    status: str
    basis: str
    table: str | None = None


def classify_status(
    raw: Any, crosswalk: StatusCrosswalk | None = None
) -> tuple[str, str | None]:
    """(status, table) of a published status word: the feed's crosswalk first,
    then the general table; ``("unknown", None)`` when neither knows it."""
    try:
        text = _text(raw)
        if crosswalk is not None and crosswalk.values:
            hit = crosswalk.values.get(_key(text))
            if hit is not None:
                return hit, "feed"
        status = _from_text(text)
        return status, ("general" if status != "unknown" else None)
    except Exception:  # noqa: BLE001
        log.exception("classify_status failed for %r", raw)
        return "unknown", None


def status_from_raw(raw: Any, crosswalk: StatusCrosswalk | None = None) -> str:
    """Status named by a published status value; ``unknown`` if unrecognized.

    Matching ignores case and punctuation (``En-Route``, ``EN ROUTE``,
    ``ENROUTE`` are one value). Never raises.
    """
    return classify_status(raw, crosswalk)[0]


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


def call_status(
    status_raw: Any,
    times: Mapping[str, Any] | None = None,
    *,
    board: str = "active_calls",
    crosswalk: StatusCrosswalk | None = None,
) -> StatusResult:
    """The status of one record of a call, with its basis (``vocab.STATUS_BASIS``).

    The word first (feed crosswalk, then general table), then the stage times;
    then what the board allows: ``history`` gives ``closed`` (by construction,
    basis ``feed_presence`` unless the record itself said so), ``append_only``
    keeps only ``closed`` or ``unknown``. A unit's ``closed`` reads ``dispatched``
    for the call. Never raises.
    """
    try:
        status, basis, table = "unknown", "none", None
        if status_raw is not None and _text(status_raw).strip():
            status, table = classify_status(status_raw, crosswalk)
            basis = "explicit" if status != "unknown" else "none"
            if status == "closed" and crosswalk is not None and crosswalk.of == "unit":
                # one unit cleared: the call had a unit, it is not closed by that
                status = "dispatched"
        stage_times = times or {}
        if status == "unknown" and any(
            _present(stage_times.get(t))
            for t in ("dispatched", "enroute", "onscene", "closed")
        ):
            status = status_from_times(stage_times)
            basis = "derived_from_timestamps"
        if board == "history" and status != "closed":
            status, basis = "closed", "feed_presence"
        elif board == "append_only" and status in IN_PROGRESS:
            status, basis = "unknown", "none"
        return StatusResult(status, basis, table)
    except Exception:  # noqa: BLE001
        log.exception("call_status failed for %r", status_raw)
        return StatusResult("unknown", "none", None)


_STAGE_ORDER = {
    s: i
    for i, s in enumerate(
        ("unknown", "pending", "dispatched", "en_route", "on_scene", "closed")
    )
}


def merge_unit_statuses(statuses: Iterable[str]) -> str:
    """The status of a call published one row per unit: its furthest stage.

    Each unit's ``closed`` has already become ``dispatched`` (:func:`call_status`
    with a unit crosswalk), so only a call-level close (a close time, a history
    board) makes the merged call ``closed``."""
    best = "unknown"
    for status in statuses:
        if _STAGE_ORDER.get(status, 0) > _STAGE_ORDER[best]:
            best = status
    return best


def _check_table() -> None:
    bad = (set(_TABLE.values()) | set(_STAGE_ORDER)) - set(vocab.STATUSES)
    if bad:
        raise RuntimeError(f"status table uses unknown codes: {bad}")
    if not {k for k, _ in _STAGES} <= set(vocab.TIMESTAMPS):
        raise RuntimeError("status stages out of step with vocab.TIMESTAMPS")


_check_table()
