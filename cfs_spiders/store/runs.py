"""Finishing a run: the domain rules that decide what a run may say about a feed.

Knows nothing of Scrapy: the store pipeline hands over what the run did. Here are
decided the thresholds (too few records, a fill rate fallen), whether calls missing
from the listing left it (only after a whole, normal read), the run's status and
report, the validators and high-water mark kept for the next incremental fetch,
and the release of a scheduled job's run lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..normalize.time import iso_utc, parse_iso
from ..records.keys import key_churn
from .base import FEED_KEY
from .lifecycle import ListedKeys
from .sqlite import Store

DEFAULT_QUIET_MINUTES = 360


@dataclass
class RunFacts:
    """What one run of one feed did, as the crawl saw it (``run`` is the spider's
    ``RunState``: counts, errors, completeness, the fetch time)."""

    run: Any
    cfg: Any
    fill: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    new_calls: int = 0
    new_observations: int = 0
    snapshot: int | None = None
    # "live" or "replay": which mapping read the run (a re-export lacks columns
    # by design, so fill rates are compared only between runs read the same way)
    reader: str | None = None
    incremental: bool = False
    absent_fields: list[str] = field(default_factory=list)
    downloader: dict[str, Any] = field(default_factory=dict)
    # validators and high-water mark the run's responses brought (``*_new`` keys)
    state: dict[str, Any] = field(default_factory=dict)
    lock_owner: str | None = None
    # replay: what each manifest exclusion matched (ingest/exclusions.py)
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    # the record keys this run read off a live listing (its complete listing of
    # ids, when the run read the whole listing): what stayed on it; a set, or
    # the crawl's spool of them on disk (``ingest/pipelines.KeySpool``)
    listing_keys: set[str] | ListedKeys | None = None
    # which path wrote the run's batches (``ingest/pipelines.py``)
    store_writer: dict[str, Any] = field(default_factory=dict)


def fill_drops(
    store: Store,
    feed_id: str,
    fill: dict[str, float],
    thresholds: dict,
    reader: str | None = None,
) -> list[str]:
    """Elements whose fill rate fell further than allowed against recent runs
    read the same way (live mapping or a re-export's replay mapping)."""
    limit = thresholds.get("max_fill_drop", 0.5)
    rows = store.query(
        f"SELECT report_json FROM runs WHERE feed_key = {FEED_KEY} AND status = 'ok' "
        "ORDER BY finished_at DESC LIMIT 5",
        (feed_id,),
    )
    reports = [json.loads(r["report_json"]) for r in rows]
    history = [
        r.get("fill_rates", {})
        for r in reports
        if reader is None or r.get("reader", reader) == reader
    ]
    history = [h for h in history if h]
    reasons = []
    for element, now in fill.items():
        past = [h.get(element, 0.0) for h in history]
        if not past:
            continue
        before = sum(past) / len(past)
        if before - now > limit:
            reasons.append(f"{element} fill rate fell from {before:.0%} to {now:.0%}")
    return reasons


def save_validators(
    store: Store, feed_id: str, state: dict[str, Any], ceiling: str | None = None
) -> None:
    """Keep what the next incremental fetch asks with: ETag, Last-Modified and the
    high-water mark, which rises, except that a stored mark above ``ceiling`` (the
    fetch time plus slack: a mark saved from a future-dated row) is replaced."""
    values = {}
    if state.get("etag_new"):
        values["etag"] = state["etag_new"]
    if state.get("last_modified_new"):
        values["last_modified"] = state["last_modified_new"]
    if values:
        store.set_state(feed_id, **values)
    if state.get("high_water_new"):
        store.raise_high_water(feed_id, state["high_water_new"], ceiling)


def quiet_too_long(
    store: Store, feed_id: str, fetched: str, thresholds: dict
) -> str | None:
    """Why an empty listing of an active board is a fault, if it is one: the
    board has been empty for longer than its quiet period
    (``thresholds.quiet_period_minutes``, default 360). A quiet night is not."""
    quiet = float(thresholds.get("quiet_period_minutes", DEFAULT_QUIET_MINUTES))
    rows = store.query(
        "SELECT MAX(CASE WHEN records > 0 THEN fetched_at END) AS busy, "
        f"MIN(fetched_at) AS first FROM runs WHERE feed_key = {FEED_KEY} AND status "
        "<> 'failed'"
        " AND fetched_at IS NOT NULL",
        (feed_id,),
    )
    since = (rows[0]["busy"] or rows[0]["first"]) if rows else None
    if not since:
        return None
    empty_for = parse_iso(fetched, naive_zone="UTC") - parse_iso(
        since, naive_zone="UTC"
    )
    if empty_for > timedelta(minutes=quiet):
        return (
            f"listing empty since {since} ({empty_for.total_seconds() / 60:.0f} "
            f"minutes), longer than quiet_period_minutes={quiet:g}"
        )
    return None


def finish_run(store: Store, facts: RunFacts) -> dict[str, Any]:
    """Decide the run's status, close what left the listing, record the run row
    and feed state, release the run lock; returns the run report."""
    run, cfg = facts.run, facts.cfg
    thresholds = cfg.get("thresholds") or {}
    fetched = iso_utc(run.fetched_at) if run.fetched_at else None
    fill = facts.fill
    reasons: list[str] = []
    ok = run.complete and not run.errors
    # An incremental fetch (the records changed since the high-water mark) may
    # rightly bring few records or none, and they are no sample of the feed's
    # fill rates: the thresholds apply to whole fetches.
    partial = facts.incremental and not run.full_listing
    # An active-calls board may rightly be empty (a quiet night): a well-formed
    # empty listing is a complete listing, faulted only after the quiet period.
    empty_board = (
        cfg.board == "active_calls"
        and run.records == 0
        and run.raw_records == 0
        and run.full_listing
    )
    if ok and not run.not_modified and not partial:
        minimum = thresholds.get("min_records", 1)
        if empty_board:
            why = quiet_too_long(store, cfg.feed_id, fetched, thresholds)
            if why:
                reasons.append(why)
        elif run.records < minimum:
            reasons.append(f"{run.records} records, fewer than min_records={minimum}")
        reasons.extend(fill_drops(store, cfg.feed_id, fill, thresholds, facts.reader))
    future_rows = int(getattr(run, "future_rows", 0) or 0)
    closed = 0
    churn: list[tuple[str, str]] = []
    # Only a run that read the whole listing and looks normal may say that calls
    # left it: a degraded run (too few records, a column gone) may not.
    if (
        ok
        and not reasons
        and fetched
        and not run.not_modified
        and (run.records > 0 or empty_board)
        and run.full_listing
    ):
        closed = store.mark_disappeared(
            cfg.feed_id, fetched, cfg.board, keys=facts.listing_keys
        )
        if closed:
            churn = key_churn(*store.left_and_arrived(cfg.feed_id, fetched))
    elif ok and fetched and run.not_modified and run.full_listing:
        # "Not modified": the listing still holds what it held last time.
        store.touch_listing(cfg.feed_id, fetched, cfg.board)
    status = "failed" if not ok else ("degraded" if reasons else "ok")
    finished = datetime.now(UTC)
    counts = facts.counts
    report = {
        "run_id": run.run_id,
        "feed_id": run.feed_id,
        "mode": run.mode,
        "reader": facts.reader,
        "snapshot": facts.snapshot,
        "status": status,
        "complete": run.complete,
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(finished),
        "fetched_at": fetched,
        "duration_s": round((finished - run.started_at).total_seconds(), 3),
        "pages": run.pages,
        "raw_records": run.raw_records,
        "records": run.records,
        "bad_records": run.bad_records,
        "excluded_records": getattr(run, "excluded", 0),
        "exclusions": facts.exclusions,
        "new_calls": facts.new_calls,
        "new_observations": facts.new_observations,
        "disappeared_calls": closed,
        # calls that left the listing while a near-identical one appeared under
        # another key: what the feed's key (or its ids) still splits
        "key_churn": {"calls": len(churn), "examples": [list(p) for p in churn[:5]]},
        "crosswalk_versions": crosswalk_versions(counts),
        "not_modified": run.not_modified,
        "fill_rates": fill,
        "counts": counts,
        "http_status": run.http_status,
        "unknown": {
            k.split(":")[0]: v for k, v in counts.items() if k.endswith(":unknown")
        },
        "unmapped": {
            k.split(":")[0]: v for k, v in counts.items() if k.endswith(":unmapped")
        },
        "absent_fields": facts.absent_fields,
        "downloader": facts.downloader,
        "store_writer": facts.store_writer,
        "errors": run.errors[:50],
        "degraded_reasons": reasons,
        # rows dated after the fetch (plus slack): not used as the high-water mark
        "future_rows": future_rows,
        "future_examples": list(getattr(run, "future_examples", []) or [])[:5],
    }
    store.record_run(
        {
            **report,
            "complete": int(run.complete),
            "closed_calls": closed,
            "error": "; ".join(run.errors[:5] + reasons) or None,
            "report_json": json.dumps(report, sort_keys=True),
        }
    )
    if ok and not run.not_modified:
        ceiling = None
        if run.fetched_at:
            slack = int((cfg.get("request") or {}).get("future_slack_minutes", 15))
            top = (run.fetched_at + timedelta(minutes=slack)).astimezone(UTC)
            ceiling = top.strftime("%Y-%m-%dT%H:%M:%S.999Z")  # as marks are written
        save_validators(store, cfg.feed_id, facts.state, ceiling)
    if facts.lock_owner:  # a scheduled job (``cfs schedule``) frees its run lock
        store.release_lock(cfg.feed_id, str(facts.lock_owner))
    return report


def crosswalk_versions(counts: dict[str, int]) -> dict[str, list[str]]:
    """The crosswalk versions the run's records used, per kind (``call_type``,
    ``status``), from the builder's ``crosswalk:<kind>:<version>`` counts."""
    out: dict[str, list[str]] = {}
    for key in counts:
        if key.startswith("crosswalk:"):
            _, kind, version = key.split(":", 2)
            out.setdefault(kind, []).append(version)
    return {k: sorted(v) for k, v in sorted(out.items())}


def summary(report: dict[str, Any]) -> str:
    """The run in one log line."""
    reasons = report.get("degraded_reasons") or []
    errors = report.get("errors") or []
    status = report.get("status")
    return (
        f"{report['feed_id']} run {report['run_id']}: {status}, "
        f"{report['records']} records, {report['new_calls']} new calls, "
        f"{report['disappeared_calls']} gone"
        + (f" ({'; '.join(errors[:3] + reasons)})" if status != "ok" else "")
    )
