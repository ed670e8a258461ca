"""Monitoring: the run report (store + output/runs/*.json), per-feed thresholds,
the exit code of `cfs crawl`, and `cfs status`. Feeds are synthetic, served by
tests/faultserver.py on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faultserver import (
    FaultServer,
    Reply,
    json_feed_config,
    json_reply,
    run_cfs,
    run_once,
    synthetic_calls,
)

from cfs_spiders.records.elements import HAS
from cfs_spiders.schedule.health import feed_health
from cfs_spiders.store.base import CALLS_FROM, RUNS_FROM  # noqa: F401

CALLS = synthetic_calls(["1", "2", "3", "4"])
CALLS[3]["Online_Description"] = "ZZQX SYNTHETIC NOTHING"  # no category matches
HALF_ADDRESS = [dict(c, Address=None) if i % 2 else c for i, c in enumerate(CALLS)]
FEEDS = {
    "zz_mon_ok": "",
    "zz_mon_min_records": "thresholds:\n  min_records: 5\n",
    "zz_mon_fill_drop": "thresholds:\n  max_fill_drop: 0.2\n",
    "zz_mon_default_drop": "",  # the same drop, under the default threshold (0.5)
    "zz_mon_failed": "",
    "zz_mon_never": "",
}
CRAWLED = [f for f in FEEDS if f != "zz_mon_never"]


def build(folder: Path) -> None:
    configs, db, out = folder / "configs", folder / "cfs.sqlite", folder / "out"
    configs.mkdir()
    servers = {feed: FaultServer().start() for feed in FEEDS}
    try:
        for feed, extra in FEEDS.items():
            servers[feed].route(
                "/api/calls", json_reply(CALLS[:3] if "min" in feed else CALLS)
            )
            (configs / f"{feed}.yaml").write_text(
                json_feed_config(feed, servers[feed].url("/api/calls"), extra=extra)
            )
        first = run_cfs(configs, db, out, "crawl", *CRAWLED)
        servers["zz_mon_fill_drop"].route("/api/calls", json_reply(HALF_ADDRESS))
        servers["zz_mon_default_drop"].route("/api/calls", json_reply(HALF_ADDRESS))
        servers["zz_mon_failed"].route("/api/calls", Reply(503, "down"))
        second = run_cfs(configs, db, out, "crawl", *CRAWLED)
        status = run_cfs(configs, db, out, "status")
        status_json = run_cfs(configs, db, out, "status", "--json")
        (folder / "procs.json").write_text(
            json.dumps(
                {
                    name: {"code": p.returncode, "stdout": p.stdout, "stderr": p.stderr}
                    for name, p in [
                        ("first", first),
                        ("second", second),
                        ("status", status),
                        ("status_json", status_json),
                    ]
                }
            )
        )
    finally:
        for srv in servers.values():
            srv.stop()


@pytest.fixture(scope="module")
def mon(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = run_once(tmp_path_factory, "monitoring", build)
    conn = sqlite3.connect(folder / "cfs.sqlite")
    conn.row_factory = sqlite3.Row
    runs = [
        dict(r) for r in conn.execute(f"SELECT * FROM {RUNS_FROM} ORDER BY finished_at")
    ]
    unmapped = conn.execute(
        f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = 'zz_mon_ok' AND "
        "call_type_category = 'unmapped'"
    ).fetchone()[0]
    conn.close()
    latest = {r["feed_id"]: json.loads(r["report_json"]) for r in runs}
    return {
        "folder": folder,
        "runs": runs,
        "latest": latest,
        "unmapped": unmapped,
        "procs": json.loads((folder / "procs.json").read_text()),
    }


def test_every_run_writes_its_report_to_the_store_and_as_json(mon):
    assert len(mon["runs"]) == 2 * len(CRAWLED)
    for row in mon["runs"]:
        report = json.loads(row["report_json"])
        path = mon["folder"] / "out" / "runs" / f"{row['run_id']}.json"
        assert json.loads(path.read_text(encoding="utf-8")) == report
        for key in (
            "records",
            "fill_rates",
            "unknown",
            "unmapped",
            "http_status",
            "downloader",
            "errors",
            "duration_s",
            "status",
            "started_at",
            "finished_at",
            "degraded_reasons",
        ):
            assert key in report, key
        assert report["duration_s"] > 0


def test_report_counts_records_fill_rates_and_unmapped(mon):
    report = mon["latest"]["zz_mon_ok"]
    assert report["status"] == "ok" and report["records"] == 4
    assert set(report["fill_rates"]) == set(HAS)
    assert report["fill_rates"]["address"] == 1.0
    assert report["fill_rates"]["coordinates"] == 0.0
    assert mon["unmapped"] >= 1
    assert report["unmapped"].get("call_type_category") == mon["unmapped"]
    assert report["downloader"]["responses"]["200"] == 1


def test_report_counts_http_errors_of_a_failed_run(mon):
    report = mon["latest"]["zz_mon_failed"]
    assert report["status"] == "failed"
    assert report["downloader"]["responses"]["503"] == 3  # first try + 2 retries
    assert report["http_status"] == {"503": 1}
    assert any("HTTP 503" in e for e in report["errors"])


def test_min_records_threshold(mon):
    report = mon["latest"]["zz_mon_min_records"]
    assert report["status"] == "degraded"
    assert report["degraded_reasons"] == ["3 records, fewer than min_records=5"]


def test_max_fill_drop_threshold_is_per_feed(mon):
    strict = mon["latest"]["zz_mon_fill_drop"]
    assert strict["status"] == "degraded"
    assert any(
        r.startswith("address fill rate fell from 100% to 50%")
        for r in strict["degraded_reasons"]
    )
    # the same data under the default threshold is not flagged
    assert mon["latest"]["zz_mon_default_drop"]["status"] == "ok"


def test_crawl_exits_non_zero_when_a_feed_failed_or_degraded(mon):
    first, second = mon["procs"]["first"], mon["procs"]["second"]
    assert first["code"] == 2  # min_records degraded already on the first run
    assert second["code"] == 2
    assert "zz_mon_failed: failed" in second["stderr"]
    assert "zz_mon_fill_drop: degraded" in second["stderr"]


def test_cfs_status_shows_each_feeds_health(mon):
    rows = {r["feed_id"]: r for r in json.loads(mon["procs"]["status_json"]["stdout"])}
    assert {f: rows[f]["health"] for f in FEEDS} == {
        "zz_mon_ok": "ok",
        "zz_mon_min_records": "degraded",
        "zz_mon_fill_drop": "degraded",
        "zz_mon_default_drop": "ok",
        "zz_mon_failed": "failed",
        "zz_mon_never": "never",
    }
    assert rows["zz_mon_ok"]["calls"] == 4
    assert "HTTP 503" in rows["zz_mon_failed"]["note"]
    assert "min_records" in rows["zz_mon_min_records"]["note"]
    assert rows["zz_mon_never"]["last_run"] is None
    text = mon["procs"]["status"]
    assert text["code"] == 2  # not all healthy: monitoring sees it
    for feed in FEEDS:
        assert feed in text["stdout"]


def test_status_marks_a_feed_stale_when_runs_stop(mon):
    folder = mon["folder"]
    later = datetime.now(UTC) + timedelta(hours=2)
    rows = {
        r["feed_id"]: r
        for r in feed_health(
            database_url=folder / "cfs.sqlite",
            configs_directory=folder / "configs",
            now=later,
        )
    }
    # update_interval_minutes: 5 -> stale after max(3 x 5 min, 1 h)
    assert rows["zz_mon_ok"]["health"] == "stale"
    assert rows["zz_mon_failed"]["health"] == "failed"  # failure is not hidden


def test_status_of_an_empty_store_is_never_and_creates_nothing(tmp_path: Path, mon):
    db = tmp_path / "nothing.sqlite"
    rows = feed_health(database_url=db, configs_directory=mon["folder"] / "configs")
    assert {r["health"] for r in rows} == {"never"}
    assert not db.exists()
