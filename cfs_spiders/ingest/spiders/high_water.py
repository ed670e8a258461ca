"""Incremental polling for the feed spider: the bounded high-water mark and the
periodic full listing (issue 15). A mark never rises above the fetch time plus a
small slack, a stored mark in the future is ignored, and an incremental poll of a
live listing reads the whole listing when the last complete one is old."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ...normalize.time import parse_iso, parse_time

log = logging.getLogger(__name__)


def iso_utc_ms(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds (fixed width, so the text sorts as time)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def high_water_time(mark: Any) -> datetime | None:
    """A stored high-water mark (ISO UTC) as an aware datetime."""
    if not mark:
        return None
    try:
        return parse_iso(str(mark), naive_zone="UTC")
    except ValueError:
        return None


class HighWaterMixin:
    """Needs the spider's ``run``, ``state``, ``config``, ``request_options``,
    ``incremental``, ``builder`` and ``_incremental_now``."""

    run: Any
    state: dict[str, Any]
    config: Any
    request_options: dict[str, Any]
    incremental: bool
    builder: Any
    high_water: datetime | None
    _incremental_now: bool | None
    name: str

    def high_water_ceiling(self) -> datetime:
        """The latest plausible time of a record: the fetch time plus a small
        slack (``request.future_slack_minutes``, default 15) for clock skew. A
        record above it (a typo, a test row, a year 2099) is flagged, never kept
        as the mark: one such row would make every later poll ask for nothing."""
        assert self.run is not None
        slack = int(self.request_options.get("future_slack_minutes", 15))
        base = self.run.fetched_at or datetime.now(UTC)
        return base + timedelta(minutes=slack)

    def full_listing_due(self) -> bool:
        """An incremental poll of a live listing reads the whole listing when the
        last complete one is older than ``request.full_listing_every_minutes``
        (default 60): an incremental fetch is only part of the listing, so without
        it no call would ever be seen to leave (``disappeared_at``, time on feed).
        Feeds that are no listing (history, append_only) never need it."""
        if self.config.board not in ("active_calls", "recent_window"):
            return False
        every = float(self.request_options.get("full_listing_every_minutes", 60))
        last = high_water_time(self.state.get("last_listing"))
        return last is None or datetime.now(UTC) - last >= timedelta(minutes=every)

    def polls_incrementally(self) -> bool:
        """This run asks only for what changed (decided once, at the first page)."""
        if self._incremental_now is None:
            self._incremental_now = bool(self.incremental) and not (
                self.full_listing_due()
            )
            if self.incremental and not self._incremental_now:
                log.info("%s: full listing due, this poll reads it all", self.name)
        return self._incremental_now

    def asks_only_for_changes(self) -> bool:
        """This run asks the feed only for the records changed since its stored
        high-water mark (an incremental poll, no full listing due)."""
        return (
            bool(self.request_options.get("incremental_field"))
            and self.polls_incrementally()
            and self.usable_high_water() is not None
        )

    def usable_high_water(self) -> datetime | None:
        """The stored mark, unless it lies above the ceiling (a mark saved before
        it was bounded): an implausible mark never stops polling, the poll then
        reads the whole listing instead."""
        mark = high_water_time(self.state.get("high_water"))
        if mark is None:
            return None
        slack = int(self.request_options.get("future_slack_minutes", 15))
        if mark > datetime.now(UTC) + timedelta(minutes=slack):
            log.warning(
                "%s: stored high-water mark %s is in the future: ignored",
                self.name,
                self.state.get("high_water"),
            )
            return None
        return mark

    def track_high_water(self, raw_records: list[dict[str, Any]]) -> None:
        """The largest plausible value of the feed's ``incremental_field`` seen
        this run, as ISO UTC with milliseconds in ``state["high_water_new"]``; the
        store pipeline saves it (``feed_state.high_water``) after a successful run
        and the next incremental run asks only for records above it. Values above
        ``high_water_ceiling`` are counted in ``run.future_rows`` instead."""
        name = self.request_options.get("incremental_field")
        if not name or not raw_records:
            return
        assert self.run is not None
        opts = self._incremental_time_options(name)
        ceiling = self.high_water_ceiling()
        best = self.high_water
        for raw in raw_records:
            value = raw.get(name) if isinstance(raw, dict) else None
            if value is None or value == "":
                continue
            epoch = opts.get("epoch")
            if (
                epoch is None
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                epoch = "ms"
            tv = parse_time(
                value,
                tz=self.config.time_zone,
                formats=opts.get("format"),
                epoch=epoch,
                epoch_reference=opts.get("epoch_reference", "UTC"),
                ignore_offset=opts.get("ignore_offset", False),
            )
            if tv.utc is None:
                continue
            if tv.utc > ceiling:
                self.run.future_rows += 1
                if len(self.run.future_examples) < 5:
                    self.run.future_examples.append(f"{name}={value!r}")
                continue
            if best is None or tv.utc > best:
                best = tv.utc
        if best is not None:
            self.high_water = best
            self.state["high_water_new"] = iso_utc_ms(best)

    def _incremental_time_options(self, name: str) -> dict[str, Any]:
        """Time options (format, epoch) of the mapped element read from ``name``."""
        assert self.builder is not None
        for element, spec in self.builder.record_spec.items():
            if not element.endswith("_at") or spec is None:
                continue
            field_name = spec if isinstance(spec, str) else spec.get("field")
            if field_name == name or (
                isinstance(field_name, list) and name in field_name
            ):
                return self.builder.time_specs.get(element) or {}
        return {}
