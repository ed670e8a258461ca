"""``output/calls.csv``: one row per call, in ``CALLS_COLUMNS`` order, through the
safe, atomic CSV writer of ``files.py``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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


def calls_query(present: Iterable[str]) -> str:
    """The SELECT of ``calls.csv``'s columns, in order, from a store whose
    ``calls`` table has the columns ``present`` (one it lacks reads blank). The
    officer-initiated flag is written ``true``/``false``, as every boolean of
    the project's CSVs."""
    have = set(present)
    cells = []
    for col in CALLS_COLUMNS:
        name = _RENAMED.get(col, col)
        if name not in have:
            cells.append(f"NULL AS {col}")
        elif col == "is_officer_initiated":
            cells.append(
                f"CASE {name} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS {col}"
            )
        else:
            cells.append(name if name == col else f"{name} AS {col}")
    return f"SELECT {', '.join(cells)} FROM calls ORDER BY feed_id, record_key"


def export_calls(store: Store, output: Path | None = None) -> tuple[Path, int]:
    """``calls.csv``: one row per call, in ``CALLS_COLUMNS`` order, streamed
    from the store as tuples (no value needs converting: see ``calls_query``)."""
    path = (output or output_dir()) / "calls.csv"
    rows = store.iter_rows(calls_query(store.columns("calls")))
    return path, write_csv(path, CALLS_COLUMNS, rows, plain=True)
