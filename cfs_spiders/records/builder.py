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
from ..normalize.disposition import classify_disposition
from ..normalize.status import status_from_raw, status_from_times
from ..normalize.text import to_text
from ..normalize.time import TimeValue, iso_local, iso_utc, parse_time
from .mapping import compile_mapping

TIME_OPTIONS = ("format", "epoch", "epoch_reference", "ignore_offset", "time_only")
_UNIT_SPLIT = re.compile(r"[,;\s]+")
# Stage order: a call's status is its furthest stage.
_STAGE = {
    s: i
    for i, s in enumerate(
        ("unknown", "pending", "dispatched", "en_route", "on_scene", "closed")
    )
}


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


def content_key(raw: dict[str, Any], fields: list[str] | None) -> str:
    """A stable key for feeds that publish no id: a hash of the named raw fields."""
    if fields:
        payload = [str(raw.get(f, "")) for f in fields]
    else:
        payload = [json.dumps(raw, sort_keys=True, default=str)]
    return "h:" + hashlib.sha1("\x1f".join(payload).encode("utf-8")).hexdigest()[:20]


class RecordBuilder:
    """Builds common records for one feed (live or replayed source)."""

    def __init__(self, config: FeedConfig, *, replay: bool = False) -> None:
        self.config = config
        self.feed_id = config.feed_id
        source = config.source(replay)
        self.record_spec: dict[str, Any] = source["record"]
        self.getters = compile_mapping(self.record_spec)
        self.key_fields: list[str] | None = source["record_key"]
        self.tz = config.time_zone
        policy = config["location_policy"]
        self.address_ceiling = policy["address"]
        self.coord_policy = policy["coordinates"]
        self.board = config.board
        self.history = config["liveness"] == "history"
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
        rec: dict[str, Any] = {"feed_id": self.feed_id}
        call_id = _str(self.value("call_id", raw))
        rec["call_id"] = call_id
        if call_id is not None:
            rec["record_key"] = call_id
        else:
            rec["record_key"] = content_key(raw, self.key_fields)
            if "call_id" in self.getters:
                self.counts["call_id:missing"] += 1

        flags: list[str] = []
        basis: str | None = None
        times: dict[str, TimeValue | None] = {}
        for ts, name, raw_key, utc_key, local_key in self._ts_names:
            tv, utc_text, local_text = self._time_texts(name, raw, fetched_at)
            times[ts] = tv
            rec[raw_key] = tv.raw if tv else None
            rec[utc_key] = utc_text
            rec[local_key] = local_text
            if tv is not None:
                if tv.flag:
                    flags.append(f"{name}:{tv.flag}")
                    if tv.flag == "unparsed":
                        self.counts[f"{name}:unparsed"] += 1
                if basis is None and tv.basis:
                    basis = tv.basis
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
            rec["address_granularity"] = addr.granularity
            rec["address_basis"] = addr.reason
        else:
            withheld = self.address_ceiling == "withheld"
            rec["address"] = None
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
        rec["apco_code"] = cat.apco_code
        if cat.category == "unmapped":
            self.counts["call_type_category:unmapped"] += 1

        rec["priority_raw"] = _str(self.value("priority", raw))

        status_raw = _str(self.value("status", raw))
        rec["status_raw"] = status_raw
        status, status_basis = "unknown", "none"
        if status_raw is not None:
            status, status_basis = status_from_raw(status_raw), "explicit"
        if status == "unknown" and any(
            times.get(t) and times[t].utc
            for t in ("dispatched", "enroute", "onscene", "closed")
        ):
            status = status_from_times(
                dispatched=times["dispatched"] and times["dispatched"].utc,
                enroute=times["enroute"] and times["enroute"].utc,
                onscene=times["onscene"] and times["onscene"].utc,
                closed=times["closed"] and times["closed"].utc,
            )
            status_basis = "derived_from_timestamps"
        if status == "unknown" and self.history:
            # A history dataset holds calls after they close.
            status, status_basis = "closed", "feed_presence"
        rec["status"] = status
        rec["status_basis"] = status_basis

        disp_raw = _str(self.value("disposition", raw))
        rec["disposition_raw"] = disp_raw
        if disp_raw is not None:
            rec["disposition_category"] = classify_disposition(
                disp_raw, feed_id=self.feed_id
            )
        elif "disposition" in self.getters and status != "closed":
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
        rec["raw"] = raw
        self.counts["records"] += 1
        return rec


def merge_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge the rows of one response that describe one call (one row per unit).

    The first row gives the values; units are joined in order without repeats; the
    earliest received/dispatched time and the furthest status win; every raw row is
    kept in ``raw``.
    """
    merged: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = rec["record_key"]
        cur = merged.get(key)
        if cur is None:
            cur = dict(rec)
            cur["raw"] = [rec["raw"]]
            cur["_units"] = _units(rec.get("units_raw"))
            merged[key] = cur
            continue
        cur["raw"].append(rec["raw"])
        for unit in _units(rec.get("units_raw")):
            if unit not in cur["_units"]:
                cur["_units"].append(unit)
        for ts in ("received", "dispatched"):
            new = rec.get(f"{ts}_at_utc")
            old = cur.get(f"{ts}_at_utc")
            if new and (old is None or new < old):
                for part in ("raw", "utc", "local"):
                    cur[f"{ts}_at_{part}"] = rec[f"{ts}_at_{part}"]
        if _STAGE.get(rec["status"], 0) > _STAGE.get(cur["status"], 0):
            cur["status"], cur["status_raw"] = rec["status"], rec["status_raw"]
            cur["status_basis"] = rec["status_basis"]
        for field, value in rec.items():
            if cur.get(field) is None and value is not None:
                cur[field] = value
    out = []
    for cur in merged.values():
        units = cur.pop("_units")
        if units:
            cur["units_raw"] = " ".join(units)
            cur["unit_count"] = len(units)
        out.append(cur)
    return out


def _units(text: str | None) -> list[str]:
    return [u for u in _UNIT_SPLIT.split(text)] if text else []
