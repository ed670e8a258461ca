"""Which record fields carry each common element, and when a record "has" it.

One definition serves the run report's fill rates, the comparison's measured
availability and the withheld table, so they always agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import vocab

STAGE_FIELDS = tuple(
    f"{ts}_at_utc" for ts in ("dispatched", "enroute", "onscene", "closed")
)
AREA_FIELDS = tuple(f"area_{a}" for a in vocab.AREA_TYPES)


def _any(*fields: str) -> Callable[[dict[str, Any]], bool]:
    def has(r: dict[str, Any]) -> bool:
        # a loop, not any(<generator>): this runs for every record
        for f in fields:  # noqa: SIM110
            if r.get(f) not in (None, ""):
                return True
        return False

    return has


HAS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "id": _any("call_id"),
    "received_time": _any("received_at_utc"),
    "stage_times": _any(*STAGE_FIELDS),
    "address": lambda r: (
        r.get("address_granularity") not in (None, "withheld", "unknown")
    ),
    "coordinates": lambda r: (
        r.get("latitude") is not None and r.get("longitude") is not None
    ),
    "call_type": _any("call_type_raw", "call_type_code_raw"),
    "priority": _any("priority_raw"),
    # Published status only: a status this project derives from stage times or
    # from presence on a listing is an inference; stage_times shows those times.
    "status": _any("status_raw"),
    "disposition": _any("disposition_raw"),
    "call_source": _any("source_raw"),
    "area": _any(*AREA_FIELDS),
    "units": _any("units_raw", "unit_count"),
}
_HAS_ITEMS = tuple(HAS.items())
# Fields whose values show an element (for examples and distinct counts).
EXAMPLE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("call_id",),
    "received_time": ("received_at_raw",),
    "stage_times": (
        "dispatched_at_raw",
        "enroute_at_raw",
        "onscene_at_raw",
        "closed_at_raw",
    ),
    "address": ("address_raw",),
    "coordinates": ("latitude", "longitude"),
    "call_type": ("call_type_raw", "call_type_code_raw"),
    "priority": ("priority_raw",),
    "status": ("status_raw",),
    "disposition": ("disposition_raw",),
    "call_source": ("source_raw",),
    "area": AREA_FIELDS,
    "units": ("units_raw",),
}


class FillCounter:
    """Streaming fill rates, for runs too large to keep in memory."""

    def __init__(self) -> None:
        self.n = 0
        self.hits = dict.fromkeys(HAS, 0)

    def add(self, record: dict[str, Any]) -> None:
        self.n += 1
        hits = self.hits
        for element, has in _HAS_ITEMS:
            if has(record):
                hits[element] += 1

    def rates(self) -> dict[str, float]:
        if not self.n:
            return {}
        return {e: round(h / self.n, 4) for e, h in self.hits.items()}
