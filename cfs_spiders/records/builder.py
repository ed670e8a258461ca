"""Raw record -> common record: the one place where mapping meets the normalizers.

A ``RecordBuilder`` is made once per feed run (mapping compiled, policy and zone
read); ``build`` turns one raw record into a flat dict that matches
``schemas/record.schema.json``. Counts of values the normalizers could not place
(unknown, unmapped, unparsed) are kept per run for the run report.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import datetime
from typing import Any

from ..config import vocab
from ..config.loader import FeedConfig
from ..normalize.address import classify_address, classify_coordinates
from ..normalize.call_source import classify_source
from ..normalize.call_type import categorize
from ..normalize.disposition import classify_disposition, most_severe
from ..normalize.status import (
    IN_PROGRESS,
    StatusCrosswalk,
    call_status,
    merge_unit_statuses,
)
from ..normalize.text import to_text
from ..normalize.time import TimeValue, iso_local, iso_utc, parse_time
from .items import in_field_order
from .keys import KeySpec
from .mapping import compile_mapping, compile_unpack, spec_paths, unpacked_names

TIME_OPTIONS = ("format", "epoch", "epoch_reference", "ignore_offset", "time_only")
_UNIT_SPLIT = re.compile(r"[,;\s]+")


def _str(value: Any) -> str | None:
    """Stripped text, ``None`` for nothing or blank."""
    text = to_text(value)
    return (text.strip() or None) if text else None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().lstrip("+"))
    except ValueError:
        return None
    return number if number == number and abs(number) <= 180 else None


class RecordBuilder:
    """Builds common records for one feed (live or replayed source)."""

    def __init__(self, config: FeedConfig, *, replay: bool = False) -> None:
        self.config = config
        self.feed_id = config.feed_id
        source = config.source(replay)
        self.record_spec: dict[str, Any] = source["record"]
        self.getters = compile_mapping(self.record_spec)
        self.key = KeySpec(source["record_key"])
        # Packed fields cut into named parts, read by the getters like raw fields.
        self.unpack = compile_unpack(config.get("unpack"))
        self.unpacked = unpacked_names(config.get("unpack"))
        # Ids that restart every day: the key joins the local date of this time.
        self.key_date_of: str | None = (config.get("call_id_scope") or {}).get(
            "date_of"
        )
        self.tz = config.time_zone
        policy = config["location_policy"]
        self.address_ceiling = policy["address"]
        self.coord_policy = policy["coordinates"]
        self.board = config.board
        self.rows_per = config.get("rows_per", "call")
        self.status_crosswalk = StatusCrosswalk.from_config(
            config.get("status_crosswalk"), rows_per=self.rows_per
        )
        self.time_specs = {
            f"{ts}_at": self._time_spec(self.record_spec.get(f"{ts}_at"))
            for ts in vocab.TIMESTAMPS
        }
        self.counts: Counter[str] = Counter()
        # Per-record work done once: field names, and the getters of the areas.
        self._ts_names = [
            (ts, f"{ts}_at", f"{ts}_at_raw", f"{ts}_at_utc", f"{ts}_at_local")
            for ts in vocab.TIMESTAMPS
        ]
        self._areas = [
            (f"area_{area}", self.getters.get(f"area_{area}"))
            for area in vocab.AREA_TYPES
        ]
        # A call's stage times often repeat (received = dispatched = en route):
        # a parsed value and its texts are kept for the values seen last.
        self._time_keys = {
            name: repr(sorted(opts.items())) if opts is not None else None
            for name, opts in self.time_specs.items()
        }
        self._time_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._coord_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._fetched: tuple[Any, str | None] = (None, None)

    @staticmethod
    def _time_spec(spec: Any) -> dict[str, Any] | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            return {}
        opts = {k: spec[k] for k in TIME_OPTIONS if k in spec}
        if isinstance(opts.get("format"), str):
            opts["format"] = [opts["format"]]
        return opts

    def key_raw_fields(self) -> list[str]:
        """The raw fields the key's elements are mapped from (for the schema-drift
        check: a key field absent from every record would re-key every call)."""
        areas = self.record_spec.get("area") or {}
        paths: list[str] = []
        for name in self.key.names:
            spec = (
                areas.get(name.removeprefix("area_"))
                if name.startswith("area_")
                else self.record_spec.get(name)
            )
            paths.extend(p for p in spec_paths(spec) if p not in paths)
        return paths

    # ------------------------------------------------------------------ helpers
    def value(self, name: str, raw: dict[str, Any]) -> Any:
        getter = self.getters.get(name)
        return getter(raw) if getter else None

    def _time(
        self, name: str, raw: dict[str, Any], fetched: datetime
    ) -> TimeValue | None:
        opts = self.time_specs[name]
        if opts is None:
            return None
        return self._parse_time(opts, self.value(name, raw), fetched)

    def _time_texts(
        self, name: str, raw: dict[str, Any], fetched: datetime
    ) -> tuple[TimeValue | None, str | None, str | None]:
        """``_time`` with its UTC and local texts, remembered per distinct value."""
        opts = self.time_specs[name]
        if opts is None:
            return None, None, None
        value = self.value(name, raw)
        key = (
            self._time_keys[name],
            value.__class__,
            value,
            fetched if opts.get("time_only") else None,
        )
        memo = self._time_memo
        try:
            hit = memo.get(key)
        except TypeError:  # an unhashable published value (a list): no memo
            hit, key = None, None
        if hit is None:
            tv = self._parse_time(opts, value, fetched)
            hit = (tv, iso_utc(tv.utc), iso_local(tv.local))
            if key is not None:
                if len(memo) >= 4096:
                    memo.clear()
                memo[key] = hit
        return hit

    def _coordinates(self, lat_raw: Any, lon_raw: Any) -> tuple[Any, ...]:
        """(latitude, longitude, coord_granularity), remembered per distinct
        published pair (points repeat: intersections, block points)."""
        key = (lat_raw.__class__, lat_raw, lon_raw.__class__, lon_raw)
        memo = self._coord_memo
        try:
            hit = memo.get(key)
        except TypeError:  # unhashable published value: no memo
            hit, key = None, None
        if hit is None:
            hit = (
                _float(lat_raw),
                _float(lon_raw),
                classify_coordinates(lat_raw, lon_raw, policy=self.coord_policy),
            )
            if key is not None:
                if len(memo) >= 65536:
                    memo.clear()
                memo[key] = hit
        return hit

    def _parse_time(
        self, opts: dict[str, Any], value: Any, fetched: datetime
    ) -> TimeValue:
        return parse_time(
            value,
            tz=self.tz,
            formats=opts.get("format"),
            epoch=opts.get("epoch"),
            epoch_reference=opts.get("epoch_reference", "UTC"),
            ignore_offset=opts.get("ignore_offset", False),
            time_only_reference=fetched if opts.get("time_only") else None,
        )

    def dated_key(self, rec: dict[str, Any], published: dict[str, Any]) -> str:
        """``<local date>/<call id>`` for ids that restart every day, from the
        record's ``<date_of>_utc``/``_local`` texts (both builders key alike). When
        the time did not parse, no date is guessed (it could merge two days'
        calls): the key is ``undated/<call id>/<hash of the record>``, counted."""
        name = self.key_date_of or ""
        local = rec.get(f"{name}_local")
        if rec.get(f"{name}_utc") is None or not local or "T" not in local:
            self.counts["record_key:undated"] += 1
            text = json.dumps(published, sort_keys=True, default=str)
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
            return f"undated/{rec['call_id']}/{digest}"
        return f"{local[:10]}/{rec['call_id']}"

    # -------------------------------------------------------------------- build
    def build(
        self,
        raw: dict[str, Any],
        *,
        fetched_at: datetime,
        source_url: str,
        run_id: str,
    ) -> dict[str, Any]:
        """One common record. Never raises on odd values: they become unknown."""
        published = raw
        raw = self.unpack(raw)
        rec: dict[str, Any] = {"feed_id": self.feed_id}
        call_id = _str(self.value("call_id", raw))
        rec["call_id"] = call_id
        # a call without an id is keyed once its elements are built (below)
        rec["record_key"] = call_id
        if call_id is None and "call_id" in self.getters:
            self.counts["call_id:missing"] += 1

        flags: list[str] = []
        basis: str | None = None
        times: dict[str, TimeValue | None] = {}
        for ts, name, raw_key, utc_key, local_key in self._ts_names:
            tv, utc_text, local_text = self._time_texts(name, raw, fetched_at)
            times[ts] = tv
            rec[raw_key] = tv.raw if tv else None
            rec[utc_key] = utc_text
            # a date without a clock keeps its day, never a midnight instant
            rec[local_key] = tv.day if tv is not None and tv.day else local_text
            if tv is not None:
                if tv.flag:
                    flags.append(f"{name}:{tv.flag}")
                    if tv.flag == "unparsed":
                        self.counts[f"{name}:unparsed"] += 1
                if basis is None and tv.basis:
                    basis = tv.basis
        if self.key_date_of is not None and call_id is not None:
            rec["record_key"] = self.dated_key(rec, published)
        rec["time_zone"] = self.tz
        rec["tz_basis"] = basis
        rec["time_flags"] = ";".join(flags) or None

        address_raw = _str(self.value("address", raw))
        cross = _str(self.value("cross_street", raw))
        rec["address_raw"] = address_raw
        rec["cross_street_raw"] = cross
        if "address" in self.getters or "cross_street" in self.getters:
            addr = classify_address(
                address_raw, ceiling=self.address_ceiling, cross_street=cross
            )
            rec["address"] = addr.cleaned
            rec["address_form"] = addr.form
            rec["address_granularity"] = addr.granularity
            rec["address_basis"] = addr.reason
        else:
            withheld = self.address_ceiling == "withheld"
            rec["address"] = None
            rec["address_form"] = "withheld" if withheld else "unknown"
            rec["address_granularity"] = "withheld" if withheld else "unknown"
            rec["address_basis"] = "policy_ceiling" if withheld else "not_mapped"
        if rec["address_granularity"] == "unknown":
            self.counts["address_granularity:unknown"] += 1

        lat_raw, lon_raw = self.value("latitude", raw), self.value("longitude", raw)
        rec["latitude"], rec["longitude"], rec["coord_granularity"] = self._coordinates(
            lat_raw, lon_raw
        )

        call_type = _str(self.value("call_type", raw))
        code = _str(self.value("call_type_code", raw))
        rec["call_type_code_raw"] = code
        rec["call_type_raw"] = call_type
        rec["call_type_initial_raw"] = _str(self.value("call_type_initial", raw))
        cat = categorize(
            call_type or rec["call_type_initial_raw"], feed_id=self.feed_id, code=code
        )
        rec["call_type_category"] = cat.category
        rec["category_basis"] = cat.basis
        # provenance of the inference; read with fallbacks, so a categorizer that
        # does not (yet) report them gives nulls
        rec["category_confidence"] = getattr(cat, "confidence", None)
        version = getattr(cat, "crosswalk_version", None)
        rec["crosswalk_version"] = None if version is None else str(version)
        rec["category_matched_example"] = getattr(cat, "matched_example", None)
        similarity = getattr(cat, "similarity", None)
        rec["category_similarity"] = None if similarity is None else float(similarity)
        rec["apco_code"] = cat.apco_code
        if cat.category == "unmapped":
            self.counts["call_type_category:unmapped"] += 1
        if version is not None:
            self.counts[f"crosswalk:call_type:{version}"] += 1

        rec["priority_raw"] = _str(self.value("priority", raw))

        status_raw = _str(self.value("status", raw))
        rec["status_raw"] = status_raw
        got = call_status(
            status_raw,
            {
                t: times[t].utc if times.get(t) is not None else None
                for t in ("dispatched", "enroute", "onscene", "closed")
            },
            board=self.board,
            crosswalk=self.status_crosswalk,
        )
        status = got.status
        rec["status"] = status
        rec["status_basis"] = got.basis
        if got.table is not None:
            self.counts[f"status_table:{got.table}"] += 1
            if got.table == "feed":
                self.counts[f"crosswalk:status:{self.status_crosswalk.version}"] += 1
        elif status_raw is not None:
            self.counts["status:unknown"] += 1

        disp_raw = _str(self.value("disposition", raw))
        rec["disposition_raw"] = disp_raw
        if disp_raw is not None:
            rec["disposition_category"] = classify_disposition(
                disp_raw, feed_id=self.feed_id
            )
        elif "disposition" in self.getters and status in IN_PROGRESS:
            rec["disposition_category"] = "open"
        else:
            rec["disposition_category"] = "unknown"

        source_raw = _str(self.value("source", raw))
        rec["source_raw"] = source_raw
        src = classify_source(
            source_raw,
            feed_id=self.feed_id,
            call_type=call_type or rec["call_type_initial_raw"],
        )
        rec["call_source"] = src.source
        rec["call_source_basis"] = src.basis
        rec["is_officer_initiated"] = src.is_officer_initiated
        if src.source == "unknown" and source_raw is not None:
            self.counts["call_source:unknown"] += 1

        rec["agency_raw"] = _str(self.value("agency", raw))
        for area_key, getter in self._areas:
            rec[area_key] = _str(getter(raw)) if getter is not None else None

        units = _str(self.value("units", raw))
        rec["units_raw"] = units
        count = self.value("unit_count", raw)
        if count is None and units:
            count = len([u for u in _UNIT_SPLIT.split(units) if u])
        try:
            count = None if count is None else int(float(count))
        except (TypeError, ValueError, OverflowError):  # "1e400", inf
            count = None
        # a count no board could show is garbage (and would not fit the store)
        rec["unit_count"] = count if count is not None and 0 <= count < 2**31 else None

        rec["source_url"] = source_url
        if self._fetched[0] is not fetched_at:
            self._fetched = (fetched_at, iso_utc(fetched_at))
        rec["fetched_at"] = self._fetched[1]
        rec["run_id"] = run_id
        rec["config_version"] = self.config.version
        rec["raw"] = published
        if call_id is None:
            rec["record_key"], complete = self.key.key(rec)
            if not complete:
                self.counts["record_key:incomplete"] += 1
        self.counts["records"] += 1
        return in_field_order(rec)


def merge_rows(
    records: list[dict[str, Any]], rows_per: str = "unit"
) -> list[dict[str, Any]]:
    """Merge the rows of one response that describe one call.

    The first row gives the values; units are joined in order without repeats;
    the earliest received/dispatched time wins; every raw row is kept in ``raw``.
    Status and disposition move together, so they never disagree:

    * ``message`` rows (Milwaukee: one row per status the call went through) are
      successive states of the call: the last row's status and disposition are
      the call's.
    * ``unit`` rows (Dallas, San Francisco Fire) are one unit each: the call's
      status is the furthest stage of its units (a unit that cleared no longer
      closes the call, see ``normalize.status``), its disposition the most
      severe outcome of its rows, and ``open`` while the call is in progress.
    """
    merged: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = rec["record_key"]
        cur = merged.get(key)
        if cur is None:
            cur = dict(rec)
            cur["raw"] = [rec["raw"]]
            cur["_units"] = _units(rec.get("units_raw"))
            cur["_rows"] = [rec]
            merged[key] = cur
            continue
        cur["raw"].append(rec["raw"])
        cur["_rows"].append(rec)
        for unit in _units(rec.get("units_raw")):
            if unit not in cur["_units"]:
                cur["_units"].append(unit)
        for ts in ("received", "dispatched"):
            new = rec.get(f"{ts}_at_utc")
            old = cur.get(f"{ts}_at_utc")
            if new and (old is None or new < old):
                for part in ("raw", "utc", "local"):
                    cur[f"{ts}_at_{part}"] = rec[f"{ts}_at_{part}"]
        for field, value in rec.items():
            if cur.get(field) is None and value is not None:
                cur[field] = value
    out = []
    for cur in merged.values():
        rows = cur.pop("_rows")
        if len(rows) > 1:
            _merge_outcome(cur, rows, rows_per)
        units = cur.pop("_units")
        if units:
            cur["units_raw"] = " ".join(units)
            cur["unit_count"] = len(units)
        out.append(cur)
    return out


_OUTCOME = ("status_raw", "status", "status_basis", "disposition_raw")


def _merge_outcome(
    cur: dict[str, Any], rows: list[dict[str, Any]], rows_per: str
) -> None:
    """The status and disposition of a call merged from several rows."""
    if rows_per == "message":
        last = rows[-1]
        for field in (*_OUTCOME, "disposition_category"):
            cur[field] = last.get(field)
        return
    status = merge_unit_statuses(r.get("status") for r in rows)
    source = next((r for r in rows if r.get("status") == status), rows[0])
    for field in ("status_raw", "status_basis"):
        cur[field] = source.get(field)
    cur["status"] = status
    outcome = most_severe(r.get("disposition_category") for r in rows)
    if outcome in ("open", "unknown") and status not in IN_PROGRESS:
        outcome = most_severe(
            r.get("disposition_category")
            for r in rows
            if r.get("disposition_category") != "open"
        )
    elif (
        status in IN_PROGRESS
        and outcome == "unknown"
        and any(r.get("disposition_category") == "open" for r in rows)
    ):
        outcome = "open"
    cur["disposition_category"] = outcome
    holder = next(
        (r for r in rows if r.get("disposition_category") == outcome), rows[0]
    )
    cur["disposition_raw"] = holder.get("disposition_raw")


def _units(text: str | None) -> list[str]:
    return [u for u in _UNIT_SPLIT.split(text)] if text else []
