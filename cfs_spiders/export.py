"""Exports: ``output/calls.csv`` and the safe, atomic CSV writer every export uses.

Every CSV the project writes goes through ``write_csv``: UTF-8, a fixed column
order, times in ISO 8601 UTC, control characters replaced, cells a spreadsheet would
run as a formula neutralized, and written to a temporary file that replaces the old
export only when complete (a crash mid-export leaves the previous file intact).
"""

from __future__ import annotations

import csv
import operator
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import vocab
from .pipelines import output_dir
from .store import Store

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NEWLINES = re.compile(r"[\r\n\t]+")

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
    "address_granularity",
    "latitude",
    "longitude",
    "coord_granularity",
    "call_type_code_raw",
    "call_type_raw",
    "call_type_initial_raw",
    "call_type_category",
    "category_basis",
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


def safe_cell(value: Any) -> Any:
    """A value a spreadsheet shows as text, never runs.

    Strings starting with ``= + - @``, a tab or a carriage return get a leading
    apostrophe (OWASP's advice), unless they are plain numbers such as a negative
    longitude; control characters and line breaks become spaces.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        text = "'" + text
    text = _CONTROL.sub(" ", text)
    return _NEWLINES.sub(" ", text)


# A string ``safe_cell`` returns unchanged: no formula start, no control character.
_PLAIN = re.compile(r"(?![=+\-@\t\r])[^\x00-\x1f\x7f]*\Z").match


def write_atomic(path: Path, data: bytes) -> Path:
    """Write bytes to a temporary file beside ``path``, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write atomically; return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    plain, cell = _PLAIN, safe_cell
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([safe_cell(c) for c in columns])
            for row in rows:
                # safe_cell of each value; None and plain text (most cells) inline
                writer.writerow(
                    [
                        ""
                        if v is None
                        else v
                        if v.__class__ is str and plain(v) is not None
                        else cell(v)
                        for v in row
                    ]
                )
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


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
