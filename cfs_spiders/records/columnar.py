"""A page of raw records -> common records, column by column (issue 12, item 3).

The reference ``RecordBuilder`` maps and normalizes one record at a time. Here a
page becomes polars columns: the mapping is compiled once per feed to column
functions (``records/compile.py``), and every normalizer (time parsing, address,
coordinates, call type, status, disposition, call source, unit count) runs once per
DISTINCT value, or distinct tuple of its input columns, and its result joins back.
Unit rows merge per call as a group-by (``merge_page``).

The output is the same list of record dicts, in the same key order, as the
reference builder gives (``tests/test_columnar.py`` checks every bundled capture),
and the same run counts. A feed whose mapping does not compile, or a page whose
values do not fit one column type, is built by the reference builder: ``fallback``
says why.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from itertools import repeat
from typing import Any

import polars as pl

from ..config.loader import FeedConfig
from ..config.schema import MAPPABLE
from ..normalize.address import classify_address, classify_coordinates
from ..normalize.call_source import classify_source
from ..normalize.call_type import categorize
from ..normalize.disposition import classify_disposition
from ..normalize.status import IN_PROGRESS, call_status
from ..normalize.time import iso_local, iso_utc
from .builder import (
    _UNIT_SPLIT,
    RecordBuilder,
    _float,
)
from .colarrow import PageColumns, page_columns
from .colpage import ColumnPage
from .colrows import (
    Const,
    FiniteWatch,
    as_records,
    as_series,
    count_of,
    distinct_apply,
    listed,
    record_keys,
    tally,
)
from .coltime import FastTimes, epoch_times, iso_local_columns
from .compile import (
    Columns,
    PageFallback,
    Uncompilable,
    compile_columns,
    filled,
    null_where,
    series_of,
    text_columns,
)
from .items import RECORD_FIELDS, in_field_order

# Set to "reference" to build every page with the row-at-a-time builder.
ENV_SWITCH = "CFS_RECORD_PATH"
_STAGE_TIMES = ("dispatched", "enroute", "onscene", "closed")
_TIME_TEXTS = ("raw", "utc", "local")
# the mapped elements read as text: all but the times and the numbers (the
# areas go before ``units``, as the reference reads them)
_TEXT_ELEMENTS = tuple(
    name
    for name in MAPPABLE
    if not name.endswith("_at") and name not in ("latitude", "longitude", "unit_count")
)
RECORD_COLUMNS = tuple(f for f in RECORD_FIELDS if f != "raw")


def columnar_enabled(setting: str | None = None) -> bool:
    """False when the setting (or ``CFS_RECORD_PATH``) asks for the reference."""
    value = setting if setting is not None else os.environ.get(ENV_SWITCH, "")
    return value.strip().lower() not in ("reference", "row", "rows")


class ColumnarBuilder:
    """Builds a page's common records for one feed, as ``RecordBuilder`` would."""

    def __init__(self, config: FeedConfig, *, replay: bool = False) -> None:
        self.reference = RecordBuilder(config, replay=replay)
        self.counts = self.reference.counts  # one run count, whichever path built
        self.fallback: str | None = None
        self.pages_fallback = 0
        self._paths: list[str] = []  # the raw paths the last page's mapping read
        # the last page's record columns as Arrow (``colarrow.py``), or None
        self.page_columns: PageColumns | None = None
        # the elements read as text (``text_columns``), in one query a page
        self._text_names = (
            *_TEXT_ELEMENTS[:-1],
            *(key for key, getter in self.reference._areas if getter is not None),
            _TEXT_ELEMENTS[-1],
        )
        try:
            self.columns = compile_columns(self.reference.record_spec)
        except (Uncompilable, ValueError, KeyError, TypeError) as exc:
            self.columns = {}
            self.fallback = f"{type(exc).__name__}: {exc}"

    @property
    def compiled(self) -> bool:
        return self.fallback is None

    def build_page(
        self,
        raws: list[dict[str, Any]],
        *,
        fetched_at: datetime,
        source_url: str,
        run_id: str,
    ) -> list[dict[str, Any]]:
        """The records of ``raws``; a page that cannot be built by columns (mixed
        value types) raises ``PageFallback`` and the caller builds it by rows."""
        return self.build_page_finite(
            raws, fetched_at=fetched_at, source_url=source_url, run_id=run_id
        )[0]

    def build_page_finite(
        self,
        raws: list[dict[str, Any]],
        *,
        fetched_at: datetime,
        source_url: str,
        run_id: str,
    ) -> tuple[list[dict[str, Any]], bool]:
        """``build_page``, and whether every float the records got from the
        mapping and the normalizers is finite (seen per column, by dtype). The
        raw records' own floats are not looked at: whether they can hold a NaN
        is the parser's to say (``items.RecordBatch.finite``)."""
        built, finite = self.build_page_columns(
            raws, fetched_at=fetched_at, source_url=source_url, run_id=run_id
        )
        return built.records() if isinstance(built, ColumnPage) else built, finite

    def build_page_columns(
        self,
        raws: list[dict[str, Any]],
        *,
        fetched_at: datetime,
        source_url: str,
        run_id: str,
    ) -> tuple[ColumnPage | list[dict[str, Any]], bool]:
        """``build_page_finite`` with the records as their columns
        (``colpage.ColumnPage``: the dicts made only if asked for); as dicts
        when the columns would not all cross as Arrow."""
        self.page_columns = None
        if not self.compiled:
            raise PageFallback(f"feed not compiled: {self.fallback}")
        if not raws:
            return [], True
        return self._build(raws, fetched_at, source_url, run_id)

    # ---------------------------------------------------------------- stages
    def _value(self, cols: Columns, name: str) -> pl.Series:
        fn = self.columns.get(name)
        if fn is None:
            return filled(name, None, cols.n, pl.String)
        out = fn(cols)
        if len(out) != cols.n:
            raise PageFallback(f"{name}: column of {len(out)} for {cols.n} rows")
        return out.alias(name)

    def _times(
        self,
        cols: Columns,
        fetched: datetime,
        out: dict[str, Any],
        watch: FiniteWatch,
    ) -> dict[str, pl.Series]:
        ref = self.reference
        flags: list[pl.Series] = []
        bases: list[pl.Series] = []
        present: dict[str, pl.Series] = {}
        values = {
            name: self._value(cols, name)
            for _, name, *_ in ref._ts_names
            if ref.time_specs[name] is not None
        }
        fasts = self._fast_times(values)
        basis = None  # the first timestamp's basis, when it is one for every row
        for ts, name, raw_key, utc_key, local_key in ref._ts_names:
            opts = ref.time_specs[name]
            if opts is None:
                for key in (raw_key, utc_key, local_key):
                    out[key] = repeat(None)
                present[ts] = filled(ts, False, cols.n, pl.Boolean)
                continue

            def parse(value: Any, opts: dict[str, Any] = opts, name: str = name) -> Any:
                tv = ref._parse_time(opts, value, fetched)
                flag = f"{name}:{tv.flag}" if tv.flag else None
                return (
                    tv.raw,
                    iso_utc(tv.utc),
                    # a date without a clock keeps its day, never a midnight instant
                    tv.day if tv.day else iso_local(tv.local),
                    flag,
                    tv.basis or None,
                    tv.utc is not None,
                )

            got = self._time_column(values[name], fasts[name], parse, watch)
            if not bases:
                basis = got.get("one_basis")
            out[raw_key], out[utc_key], out[local_key] = (
                listed(got["raw"], watch),
                listed(got["utc"], watch),
                listed(got["local"], watch),
            )
            present[ts] = got["has_utc"].fill_null(False)
            flag = got["flag"]
            if flag.null_count() < len(flag):
                unparsed = int((flag == f"{name}:unparsed").sum() or 0)
                if unparsed:
                    self.counts[f"{name}:unparsed"] += unparsed
            flags.append(flag.alias(name))
            bases.append(got["basis"].alias(name))
        out["time_zone"] = repeat(ref.tz)
        if basis is not None and all(f.null_count() == cols.n for f in flags):
            # every row read by polars: one basis, no flags (no query needed)
            out["tz_basis"] = Const(basis, cols.n)
            out["time_flags"] = Const(None, cols.n)
        elif bases:
            frame = pl.DataFrame(
                {f"f{i}": s for i, s in enumerate(flags)}
                | {f"b{i}": s for i, s in enumerate(bases)}
            )
            n = len(flags)
            done = frame.select(
                pl.coalesce([f"b{i}" for i in range(n)]).alias("basis"),
                pl.concat_str(
                    [f"f{i}" for i in range(n)], separator=";", ignore_nulls=True
                ).alias("flags"),
            )
            out["tz_basis"] = listed(done["basis"], watch)
            flags_col = done["flags"]
            out["time_flags"] = listed(null_where(flags_col, flags_col == ""), watch)
        else:
            out["tz_basis"] = out["time_flags"] = repeat(None)
        return present

    def _fast_times(self, values: dict[str, pl.Series]) -> dict[str, FastTimes | None]:
        """The rows of each timestamp column that polars reads (``coltime``):
        epochs column by column, the ISO wall-clock times of every column in
        two queries for all; None for times of day (and for a column of which
        polars reads no row)."""
        ref = self.reference
        fasts: dict[str, FastTimes | None] = {}
        iso = []
        for name, column in values.items():
            opts = ref.time_specs[name]
            if opts.get("epoch"):
                reference = opts.get("epoch_reference", "UTC")
                fasts[name] = epoch_times(column, ref.tz, opts["epoch"], reference)
            elif opts.get("time_only"):
                fasts[name] = None
            else:
                iso.append(name)
        read = iso_local_columns([values[name] for name in iso], ref.tz)
        fasts.update(zip(iso, read, strict=True))
        return fasts

    def _time_column(
        self,
        values: pl.Series,
        fast: FastTimes | None,
        parse: Callable[..., Any],
        watch: FiniteWatch,
    ) -> dict[str, Any]:
        """One timestamp column: the rows polars read (``fast``, from
        ``_fast_times``), the rest by ``parse_time`` once per distinct value.
        ``one_basis``: the basis of every row, when polars read them all."""
        names = ("raw", "utc", "local", "flag", "basis", "has_utc")
        if fast is None:
            got = distinct_apply({"v": values}, parse, names, watch)
            # the texts as read; flags, basis and presence as columns
            return {
                key: got[key] if key in _TIME_TEXTS else series_of(key, list(got[key]))
                for key in names
            }
        n = len(values)
        res = {
            "raw": fast.raw,
            "utc": fast.utc,
            "local": fast.local,
            "flag": filled("flag", None, n, pl.String),
            "basis": filled("basis", fast.basis, n, pl.String),
            "has_utc": filled("has_utc", True, n, pl.Boolean),
        }
        slow = (~fast.mask).arg_true()
        if len(slow):
            got = distinct_apply({"v": values.gather(slow)}, parse, names, watch)
            for key in names:
                part = series_of(key, list(got[key]))
                res[key] = res[key].scatter(slow, part.cast(res[key].dtype))
        else:
            res["one_basis"] = fast.basis
        return res

    def _build(
        self,
        raws: list[dict[str, Any]],
        fetched: datetime,
        source_url: str,
        run_id: str,
    ) -> tuple[ColumnPage | list[dict[str, Any]], bool]:
        ref = self.reference
        published = raws
        if ref.unpacked:  # packed fields cut into named parts, as the row path does
            raws = [ref.unpack(r) for r in raws]
        cols = Columns(raws)
        cols.prefetch(self._paths)
        mapped = self.columns
        out: dict[str, Any] = {"feed_id": repeat(ref.feed_id)}
        # the floats of every column but the raw record's (the caller's to know)
        watch = FiniteWatch()
        watch.value(ref.config.version)

        text = text_columns([self._value(cols, name) for name in self._text_names])
        call_id = listed(text["call_id"], watch)
        out["call_id"] = call_id
        # a call without an id is keyed once its elements are built (below)
        out["record_key"] = call_id
        missing = count_of(call_id, None)
        if missing and "call_id" in mapped:
            self.counts["call_id:missing"] += missing

        present = self._times(cols, fetched, out, watch)

        address_raw = text["address"]
        cross = text["cross_street"]
        out["address_raw"] = listed(address_raw, watch)
        out["cross_street_raw"] = listed(cross, watch)
        if "address" in mapped or "cross_street" in mapped:

            def address(a: Any, c: Any) -> tuple[Any, ...]:
                got = classify_address(a, ceiling=ref.address_ceiling, cross_street=c)
                return got.cleaned, got.form, got.granularity, got.reason

            got = distinct_apply(
                {"a": address_raw, "c": cross},
                address,
                ("address", "address_form", "address_granularity", "address_basis"),
                watch,
            )
            out.update(got)
            unknown = count_of(got["address_granularity"], "unknown")
        else:
            withheld = ref.address_ceiling == "withheld"
            out["address"] = repeat(None)
            out["address_form"] = repeat("withheld" if withheld else "unknown")
            out["address_granularity"] = repeat("withheld" if withheld else "unknown")
            out["address_basis"] = repeat(
                "policy_ceiling" if withheld else "not_mapped"
            )
            unknown = 0 if withheld else cols.n
        if unknown:
            self.counts["address_granularity:unknown"] += unknown

        def coords(lat: Any, lon: Any) -> tuple[Any, ...]:
            granularity = classify_coordinates(lat, lon, policy=ref.coord_policy)
            return _float(lat), _float(lon), granularity

        out.update(
            distinct_apply(
                {
                    "lat": self._value(cols, "latitude"),
                    "lon": self._value(cols, "longitude"),
                },
                coords,
                ("latitude", "longitude", "coord_granularity"),
                watch,
            )
        )

        call_type = text["call_type"]
        code = text["call_type_code"]
        initial = text["call_type_initial"]
        out["call_type_code_raw"] = listed(code, watch)
        out["call_type_raw"] = listed(call_type, watch)
        out["call_type_initial_raw"] = listed(initial, watch)

        def call_category(t: Any, c: Any, i: Any) -> tuple[Any, ...]:
            cat = categorize(t or i, feed_id=ref.feed_id, code=c)
            version = getattr(cat, "crosswalk_version", None)
            similarity = getattr(cat, "similarity", None)
            return (
                cat.category,
                cat.basis,
                getattr(cat, "confidence", None),
                None if version is None else str(version),
                getattr(cat, "matched_example", None),
                None if similarity is None else float(similarity),
                cat.apco_code,
            )

        got = distinct_apply(
            {"t": call_type, "c": code, "i": initial},
            call_category,
            (
                "call_type_category",
                "category_basis",
                "category_confidence",
                "crosswalk_version",
                "category_matched_example",
                "category_similarity",
                "apco_code",
            ),
            watch,
        )
        out.update(got)
        unmapped = count_of(got["call_type_category"], "unmapped")
        if unmapped:
            self.counts["call_type_category:unmapped"] += unmapped
        for version, rows in tally(got["crosswalk_version"]):
            if version is not None:
                self.counts[f"crosswalk:call_type:{version}"] += rows
        out["priority_raw"] = listed(text["priority"], watch)

        status_raw = text["status"]
        out["status_raw"] = listed(status_raw, watch)

        def status(s: Any, d: bool, e: bool, o: bool, c: bool) -> tuple[Any, ...]:
            present = {"dispatched": d, "enroute": e, "onscene": o, "closed": c}
            got = call_status(
                s,
                {k: True if v else None for k, v in present.items()},
                board=ref.board,
                crosswalk=ref.status_crosswalk,
            )
            return got.status, got.basis, got.table

        stage = {t: present[t].alias(t) for t in _STAGE_TIMES}
        got = distinct_apply(
            {"s": status_raw} | stage,
            status,
            ("status", "status_basis", "table"),
            watch,
        )
        tables = got.pop("table")
        version = ref.status_crosswalk.version
        pairs = Counter(zip(tables, out["status_raw"], strict=True))
        for (table, raw_status), rows in pairs.items():
            if table is not None:
                self.counts[f"status_table:{table}"] += rows
                if table == "feed":
                    self.counts[f"crosswalk:status:{version}"] += rows
            elif raw_status is not None:
                self.counts["status:unknown"] += rows
        out.update(got)
        status_col = as_series("status", got["status"], pl.String)

        disp_raw = text["disposition"]
        out["disposition_raw"] = listed(disp_raw, watch)
        disp_mapped = "disposition" in mapped

        def disposition(d: Any, s: Any) -> tuple[Any, ...]:
            if d is not None:
                return (classify_disposition(d, feed_id=ref.feed_id),)
            if disp_mapped and s in IN_PROGRESS:
                return ("open",)
            return ("unknown",)

        out.update(
            distinct_apply(
                {"d": disp_raw, "s": status_col},
                disposition,
                ("disposition_category",),
                watch,
            )
        )

        source_raw = text["source"]
        out["source_raw"] = listed(source_raw, watch)
        type_text = pl.DataFrame({"t": call_type, "i": initial}).select(
            pl.coalesce("t", "i")
        )["t"]

        def source(s: Any, t: Any) -> tuple[Any, ...]:
            src = classify_source(s, feed_id=ref.feed_id, call_type=t)
            unknown = src.source == "unknown" and s is not None
            return src.source, src.basis, src.is_officer_initiated, unknown

        got = distinct_apply(
            {"s": source_raw, "t": type_text},
            source,
            ("call_source", "call_source_basis", "is_officer_initiated", "u"),
            watch,
        )
        unknown_source = sum(map(bool, got.pop("u")))
        if unknown_source:
            self.counts["call_source:unknown"] += unknown_source
        out.update(got)

        out["agency_raw"] = listed(text["agency"], watch)
        for area_key, getter in ref._areas:
            out[area_key] = (
                listed(text[area_key], watch) if getter is not None else repeat(None)
            )

        units = text["units"]
        out["units_raw"] = listed(units, watch)

        def unit_count(count: Any, text: Any) -> tuple[Any]:
            if count is None and text:
                count = len([u for u in _UNIT_SPLIT.split(text) if u])
            try:
                count = None if count is None else int(float(count))
            except (TypeError, ValueError, OverflowError):
                count = None
            return (count if count is not None and 0 <= count < 2**31 else None,)

        out.update(
            distinct_apply(
                {"n": self._value(cols, "unit_count"), "u": units},
                unit_count,
                ("unit_count",),
                watch,
            )
        )
        out["source_url"] = repeat(source_url)
        out["fetched_at"] = repeat(iso_utc(fetched))
        out["run_id"] = repeat(run_id)
        out["config_version"] = repeat(ref.config.version)
        out["raw"] = published
        if missing:  # keyed by the config's record_key elements, column by column
            rows = [i for i, v in enumerate(call_id) if v is None]
            keys, incomplete = record_keys(ref.key, out, rows, cols.n)
            if len(rows) == cols.n:
                out["record_key"] = keys
            else:
                record_key = list(call_id)
                for i, key in zip(rows, keys, strict=True):
                    record_key[i] = key
                out["record_key"] = record_key
            if incomplete:
                self.counts["record_key:incomplete"] += incomplete
        ordered = in_field_order(out)  # the records' key order: items.py
        records = None
        if ref.key_date_of is not None:  # ids that restart every day
            records = as_records(ordered, cols.n)
            for rec, raw in zip(records, published, strict=True):
                if rec["call_id"] is not None:
                    rec["record_key"] = ref.dated_key(rec, raw)
            out["record_key"] = [rec["record_key"] for rec in records]
            ordered["record_key"] = out["record_key"]
        # the same columns as Arrow, for the store's writer process
        self.page_columns = page_columns(out, cols.n, RECORD_COLUMNS, watch.sources)
        self.counts["records"] += cols.n
        self._paths = list(dict.fromkeys(cols.paths_read))
        if self.page_columns is None:  # not all of it as Arrow: as dicts
            return records or as_records(ordered, cols.n), watch.finite
        page = ColumnPage(
            ordered, cols.n, self.page_columns, records, finite=watch.finite
        )
        return page, watch.finite


__all__ = [
    "ColumnarBuilder",
    "PageFallback",
    "columnar_enabled",
]
