"""Which record fields carry each common element, and when a record "has" it.

One definition serves the run report's fill rates, the comparison's measured
availability and the withheld table, so they always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from ..config import vocab

STAGE_FIELDS = tuple(
    f"{ts}_at_utc" for ts in ("dispatched", "enroute", "onscene", "closed")
)
AREA_FIELDS = tuple(f"area_{a}" for a in vocab.AREA_TYPES)


# When a record has each element: its fields, the values that do not count,
# and whether one field with another value suffices ("any") or every field
# needs one ("all"). ``HAS`` (one record) and ``FillCounter.add_many`` (a page)
# both read these rules.
_BLANK = (None, "")
RULES: dict[str, tuple[tuple[str, ...], tuple[Any, ...], str]] = {
    "id": (("call_id",), _BLANK, "any"),
    "received_time": (("received_at_utc",), _BLANK, "any"),
    "stage_times": (STAGE_FIELDS, _BLANK, "any"),
    "address": (("address_granularity",), (None, "withheld", "unknown"), "any"),
    "coordinates": (("latitude", "longitude"), (None,), "all"),
    "call_type": (("call_type_raw", "call_type_code_raw"), _BLANK, "any"),
    "priority": (("priority_raw",), _BLANK, "any"),
    # Published status only: a status this project derives from stage times or
    # from presence on a listing is an inference; stage_times shows those times.
    "status": (("status_raw",), _BLANK, "any"),
    "disposition": (("disposition_raw",), _BLANK, "any"),
    "call_source": (("source_raw",), _BLANK, "any"),
    "area": (AREA_FIELDS, _BLANK, "any"),
    "units": (("units_raw", "unit_count"), _BLANK, "any"),
}


def _has(
    fields: tuple[str, ...], blank: tuple[Any, ...], mode: str
) -> Callable[[dict[str, Any]], bool]:
    # loops, not any(<generator>): this runs for every record
    if len(fields) == 1:  # "any" and "all" agree
        (field,) = fields
        return lambda r: r.get(field) not in blank
    if mode == "any":

        def has(r: dict[str, Any]) -> bool:
            for f in fields:  # noqa: SIM110
                if r.get(f) not in blank:
                    return True
            return False

    else:

        def has(r: dict[str, Any]) -> bool:
            for f in fields:  # noqa: SIM110
                if r.get(f) in blank:
                    return False
            return True

    return has


HAS: dict[str, Callable[[dict[str, Any]], bool]] = {
    element: _has(*rule) for element, rule in RULES.items()
}
_HAS_ITEMS = tuple(HAS.items())


def _page_count(
    fields: tuple[str, ...], blank: tuple[Any, ...], mode: str
) -> Callable[[Sequence[dict[str, Any]]], int]:
    """How many records of a page have an element (the same as counting with
    ``HAS``), without a Python call per record: ``map`` over an ``itemgetter``
    and a set's membership test. Raises ``KeyError`` (a record lacks a field)
    or ``TypeError`` (an unhashable value): the page is then counted record by
    record."""
    get = itemgetter(*fields)
    blanks = frozenset(blank)
    if len(fields) == 1:
        is_blank = blanks.__contains__
        return lambda page: len(page) - sum(map(is_blank, map(get, page)))
    if mode == "any":
        all_blank = blanks.issuperset
        return lambda page: len(page) - sum(map(all_blank, map(get, page)))
    none_blank = blanks.isdisjoint
    return lambda page: sum(map(none_blank, map(get, page)))


_PAGE_COUNTS = tuple((element, _page_count(*rule)) for element, rule in RULES.items())
# records counted at once: element by element over a few hundred records stays
# in the CPU's cache, over a whole page it would not
_PART = 512

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

    def add_many(self, records: Sequence[dict[str, Any]]) -> None:
        """``add`` for each of a page's records, element by element."""
        for start in range(0, len(records), _PART):
            part = records[start : start + _PART]
            try:
                counts = [(element, count(part)) for element, count in _PAGE_COUNTS]
            except (KeyError, TypeError):  # a field missing, a value unhashable
                for record in part:
                    self.add(record)
                continue
            self.n += len(part)
            hits = self.hits
            for element, k in counts:
                hits[element] += k

    def add_counts(self, n: int, hits: dict[str, int]) -> None:
        """``n`` records, of which ``hits[element]`` have each element (as
        counted by columns: ``colpage.ColumnPage.fill_counts``)."""
        self.n += n
        for element, k in hits.items():
            self.hits[element] += k

    def rates(self) -> dict[str, float]:
        if not self.n:
            return {}
        return {e: round(h / self.n, 4) for e, h in self.hits.items()}
