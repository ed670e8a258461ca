"""``cfs status``: each feed's health at a glance, from the store's run rows.

One row per crawlable feed config:

- ``never``: no run recorded for the feed.
- ``failed``: its latest run failed (the note says why: HTTP error, timeout, a
  response that is not the feed's format, robots.txt...).
- ``degraded``: its latest run finished but tripped a threshold (too few records,
  a fill rate that fell against recent runs).
- ``stale``: its latest run was fine, but that was longer ago than the feed's
  update interval allows (``stale_factor`` intervals, at least ``min_stale``):
  the scheduler has stopped, or runs are being killed before they finish.
- ``ok``: otherwise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..config.loader import FeedConfig, load_all
from ..config.paths import store_target
from ..normalize.time import parse_iso
from ..store.connect import open_store

HEALTH = ("ok", "degraded", "failed", "stale", "never")
DEFAULT_INTERVAL_MINUTES = 24 * 60  # a feed that does not say: daily
STALE_FACTOR = 3
MIN_STALE = timedelta(hours=1)


def _when(text: Any) -> datetime | None:
    if not text:
        return None
    try:  # the store writes UTC
        return parse_iso(str(text), naive_zone="UTC")
    except ValueError:
        return None


def stale_after(cfg: FeedConfig, factor: float = STALE_FACTOR) -> timedelta:
    minutes = cfg.get("update_interval_minutes") or DEFAULT_INTERVAL_MINUTES
    return max(MIN_STALE, timedelta(minutes=float(minutes) * factor))


def _latest_runs(store: Any) -> dict[str, dict[str, Any]]:
    rows = store.query(
        "SELECT f.feed_id, r.run_id, r.mode, r.status, r.finished_at, r.records, "
        "r.error, r.report_json FROM runs r JOIN (SELECT feed_key, MAX(finished_at) "
        "AS last FROM runs GROUP BY feed_key) m ON r.feed_key = m.feed_key AND "
        "r.finished_at = m.last JOIN feeds f ON f.feed_key = r.feed_key"
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["run_id"]):
        latest[row["feed_id"]] = row
    return latest


def _note(run: dict[str, Any]) -> str:
    try:
        report = json.loads(run.get("report_json") or "{}")
    except ValueError:
        report = {}
    if run["status"] == "failed":
        errors = report.get("errors") or [run.get("error") or "failed"]
        return str(errors[0])[:200]
    if run["status"] == "degraded":
        return "; ".join(report.get("degraded_reasons") or [run.get("error") or ""])[
            :200
        ]
    return f"{run.get('records') or 0} records" + (
        f" ({run['mode']})" if run.get("mode") not in (None, "live") else ""
    )


def _open(database_url: str | Path | None) -> Any | None:
    """The store, or None for a SQLite file that does not exist (nothing ran)."""
    kind, target = store_target(database_url)
    if kind == "sqlite" and not Path(target).is_file():
        return None
    return open_store(database_url)


def feed_health(
    *,
    database_url: str | Path | None = None,
    configs_directory: Path | None = None,
    now: datetime | None = None,
    stale_factor: float = STALE_FACTOR,
) -> list[dict[str, Any]]:
    """One dict per crawlable feed: feed_id, health, last_run, calls, note (and the
    latest run's id, mode and status, and consecutive failures)."""
    configs, _errors = load_all(configs_directory)
    now = now or datetime.now(UTC)
    store = _open(database_url)
    latest: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    states: dict[str, dict[str, Any]] = {}
    if store is not None:
        try:
            latest = _latest_runs(store)
            counts = store.counts()
            states = store.feed_states()
        finally:
            store.close()
    rows = []
    for feed_id, cfg in sorted(configs.items()):
        if not cfg.has_feed:
            continue
        run = latest.get(feed_id)
        failures = int((states.get(feed_id) or {}).get("consecutive_failures") or 0)
        row: dict[str, Any] = {
            "feed_id": feed_id,
            "health": "never",
            "last_run": None,
            "calls": counts.get(feed_id, 0),
            "note": "no run recorded",
            "run_id": None,
            "mode": None,
            "status": None,
            "consecutive_failures": failures,
        }
        if run is not None:
            finished = _when(run.get("finished_at"))
            row.update(
                last_run=run.get("finished_at"),
                run_id=run["run_id"],
                mode=run.get("mode"),
                status=run["status"],
                note=_note(run),
            )
            health = run["status"] if run["status"] in HEALTH else "failed"
            if health == "failed" and failures > 1:
                row["note"] = f"{failures} failed runs in a row: {row['note']}"
            limit = stale_after(cfg, stale_factor)
            if health == "ok" and (finished is None or now - finished > limit):
                health = "stale"
                row["note"] = (
                    f"last run {run.get('finished_at')}: older than "
                    f"{limit.total_seconds() / 3600:g} h"
                )
            row["health"] = health
        rows.append(row)
    return rows
