"""Vectorized reading of the one time shape most rows carry: an ISO 8601 wall-clock
stamp without offset (Socrata's floating timestamps), read in the feed's zone.

``normalize/time.parse_time`` reads such a stamp with ``datetime.fromisoformat``
and localizes it with zoneinfo. Here polars does the same for a whole column, but
only for the rows where both readings are certain to agree: a strict
``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]`` text, a year from 1970 (no local mean time
offsets with seconds), a valid date, and a wall-clock time that is neither
ambiguous nor non-existent (those are flagged by the reference, row by row). Every
other row is left to ``parse_time`` (once per distinct value).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .compile import PY_SPACE

_ISO_LOCAL = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6})?$"


@dataclass
class FastTimes:
    """Rows read here (``mask``) and their raw, UTC and local texts."""

    mask: pl.Series
    raw: pl.Series
    utc: pl.Series
    local: pl.Series


def iso_local_times(values: pl.Series, tz: str) -> FastTimes | None:
    """The rows of a text column read as documented local time, or None."""
    if values.dtype != pl.String:
        return None
    frame = pl.DataFrame({"v": values})
    text = pl.col("v").str.strip_chars(PY_SPACE)
    naive = (
        text.str.replace(" ", "T", literal=True)
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)
        .alias("naive")
    )
    got = frame.select(
        text.alias("raw"),
        text.str.contains(_ISO_LOCAL).fill_null(False).alias("iso"),
        naive,
    ).with_columns(
        pl.col("naive")
        .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .alias("early"),
        pl.col("naive")
        .dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
        .alias("late"),
    )
    mask = (
        got["iso"]
        & got["naive"].is_not_null()
        & (got["naive"].dt.year() >= 1970)
        & got["early"].is_not_null()
        & (got["early"] == got["late"])
    ).fill_null(False)
    if not mask.any():
        return None
    local = pl.col("early")
    texts = got.select(
        local.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("u"),
        pl.when(local.dt.microsecond() == 0)
        .then(local.dt.strftime("%Y-%m-%dT%H:%M:%S%:z"))
        .otherwise(local.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z"))
        .alias("l"),
    )
    return FastTimes(mask, got["raw"], texts["u"], texts["l"])
