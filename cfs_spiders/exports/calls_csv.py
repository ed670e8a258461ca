"""``output/calls.csv``: one row per call, in ``CALLS_COLUMNS`` order, through the
safe, atomic CSV writer of ``files.py``."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import vocab
from ..config.paths import output_dir
from ..store.sqlite import Store
from .files import write_csv

CALLS_COLUMNS: tuple[str, ...] = (
    "feed_id",
    "call_id",
    "record_key",
    "received_at_utc",
    "received_at_local",
    "received_at_raw",
    "dispatched_at_utc",
    "enroute_at_utc",
    "onscene_at_utc",
    "closed_at_utc",
    "updated_at_utc",
    "time_zone",
    "tz_basis",
    "time_flags",
    "address",
    "address_raw",
    "cross_street_raw",
    "address_form",
    "address_granularity",
    "latitude",
    "longitude",
    "coord_granularity",
    "call_type_code_raw",
    "call_type_raw",
    "call_type_initial_raw",
    "call_type_category",
    "category_basis",
    "category_confidence",
    "crosswalk_version",
    "apco_code",
    "priority_raw",
    "status_raw",
    "status",
    "status_basis",
    "disposition_raw",
    "disposition_category",
    "source_raw",
    "call_source",
    "call_source_basis",
    "is_officer_initiated",
    "agency_raw",
    *(f"area_{a}" for a in vocab.AREA_TYPES),
    "units_raw",
    "unit_count",
    "first_seen_utc",
    "last_seen_utc",
    "disappeared_at_utc",
    "config_version",
    "source_url",
    "last_run_id",
)
_RENAMED = {
    "first_seen_utc": "first_seen",
    "last_seen_utc": "last_seen",
    "disappeared_at_utc": "disappeared_at",
}


def _bool(value: Any) -> Any:
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    return value


def export_calls(store: Store, output: Path | None = None) -> tuple[Path, int]:
    """``calls.csv``: one row per call, in ``CALLS_COLUMNS`` order."""
    path = (output or output_dir()) / "calls.csv"
    source = [_RENAMED.get(c, c) for c in CALLS_COLUMNS]

    idx = CALLS_COLUMNS.index("is_officer_initiated")
    pick = operator.itemgetter(*source)

    def rows() -> Iterable[list[Any]]:
        for call in store.iter_calls():
            try:
                row = list(pick(call))
            except KeyError:  # a store without some column: blank, as before
                row = [call.get(c) for c in source]
            row[idx] = _bool(row[idx])
            yield row

    return path, write_csv(path, CALLS_COLUMNS, rows())
