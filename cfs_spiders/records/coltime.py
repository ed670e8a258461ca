"""Vectorized reading of the two time shapes most rows carry: an ISO 8601
wall-clock stamp without offset (Socrata's floating timestamps), read in the
feed's zone, and whole-number epochs declared UTC (ArcGIS dates, ``epoch_times``).

``normalize/time.parse_time`` reads such a stamp with ``datetime.fromisoformat``
and localizes it with zoneinfo. Here polars does the same for a whole column, but
only for the rows where both readings are certain to agree: a strict
``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]`` text, a year from 1970 (no local mean time
offsets with seconds), a valid date, and a wall-clock time that is neither
ambiguous nor non-existent (those are flagged by the reference, row by row). Every
other row is left to ``parse_time`` (once per distinct value).
"""

from __future__ import annotations

import functools
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
    basis: str = "documented_local"


def _local_text(local: pl.Expr, whole: bool) -> pl.Expr:
    """``iso_local`` of each instant: microseconds only where there are some
    (a column of whole seconds is formatted once, not both ways)."""
    seconds = local.dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    if whole:
        return seconds
    return (
        pl.when(local.dt.microsecond() == 0)
        .then(seconds)
        .otherwise(local.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z"))
    )


@functools.lru_cache(maxsize=64)
def _reading(names: tuple[str, ...], tz: str) -> list[pl.Expr]:
    """The expressions that read the columns ``names`` (built once: building
    them costs more than running them on a small page)."""
    exprs: list[pl.Expr] = []
    for name in names:
        text = pl.col(name).str.strip_chars(PY_SPACE)
        naive = text.str.replace(" ", "T", literal=True).str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False
        )
        # null where the wall-clock time is ambiguous or does not exist: those
        # rows are the reference's (one localization, not an earliest and a
        # latest one compared)
        local = naive.dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
        mask = (
            text.str.contains(_ISO_LOCAL).fill_null(False)
            & naive.is_not_null()
            & (naive.dt.year() >= 1970)
            & local.is_not_null()
        ).fill_null(False)
        exprs += [
            text.alias(f"{name}raw"),
            mask.alias(f"{name}mask"),
            local.alias(f"{name}local"),
            (naive.dt.microsecond() != 0).any().alias(f"{name}micro"),
        ]
    return exprs


@functools.lru_cache(maxsize=64)
def _formatting(names: tuple[str, ...], wholes: tuple[bool, ...]) -> list[pl.Expr]:
    """The expressions that write the UTC and local texts of the instants read
    (``_reading``); ``wholes``: which columns have no fraction of a second."""
    exprs: list[pl.Expr] = []
    for name, whole in zip(names, wholes, strict=True):
        local = pl.col(f"{name}local")
        exprs += [
            local.dt.convert_time_zone("UTC")
            .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            .alias(f"{name}u"),
            _local_text(local, whole).alias(f"{name}l"),
        ]
    return exprs


def iso_local_columns(columns: list[pl.Series], tz: str) -> list[FastTimes | None]:
    """The rows of each text column read as documented local time (None for a
    column with no such row, or not text), in two polars queries for all of
    them: a page has up to six timestamps, and a query each cost as much as
    the reading itself."""
    out: list[FastTimes | None] = [None] * len(columns)
    texts = {f"c{i}": s for i, s in enumerate(columns) if s.dtype == pl.String}
    if not texts:
        return out
    exprs = _reading(tuple(texts), tz)
    got = pl.DataFrame(list(texts.values()), schema=list(texts)).select(exprs)
    read = [name for name in texts if got.get_column(f"{name}mask").any()]
    if not read:
        return out
    wholes = tuple(not got.get_column(f"{name}micro")[0] for name in read)
    made = got.select(_formatting(tuple(read), wholes))
    for name in read:
        out[int(name[1:])] = FastTimes(
            got.get_column(f"{name}mask").alias("iso"),
            got.get_column(f"{name}raw").alias("raw"),
            made.get_column(f"{name}u").alias("u"),
            made.get_column(f"{name}l").alias("l"),
        )
    return out


def epoch_times(
    values: pl.Series, tz: str, unit: str, reference: str
) -> FastTimes | None:
    """Whole-number epochs (ArcGIS dates) declared UTC, read for the whole column.

    ``parse_epoch`` goes through a float of seconds; for 0 <= value < 4e12 ms
    (before 2096) that float is within a quarter microsecond of the exact instant,
    so both readings give the same microsecond. Other values stay with it."""
    if values.dtype != pl.Int64 or reference.upper() not in ("UTC", "ETC/UTC", "GMT"):
        return None
    ms = unit == "ms"
    limit = 4_000_000_000_000 if ms else 4_000_000_000
    mask = ((values >= 0) & (values < limit)).fill_null(False)
    if not mask.any():
        return None
    frame = pl.DataFrame({"v": values.clip(0, limit)})
    utc = (
        pl.from_epoch(pl.col("v"), time_unit="ms" if ms else "s")
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC")
    )
    local = utc.dt.convert_time_zone(tz)
    whole = not ms or not (frame["v"] % 1000 != 0).any()
    got = frame.select(
        pl.col("v").cast(pl.String).alias("raw"),
        utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("u"),
        _local_text(local, whole).alias("l"),
    )
    return FastTimes(mask, got["raw"], got["u"], got["l"], "platform_utc")
