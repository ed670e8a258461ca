"""Politeness, through the real crawler against local servers (synthetic feeds):
robots.txt obeyed, an identifying user agent with a configurable contact, one
request at a time per host, AutoThrottle slowing down after a slow answer."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from faultserver import (
    ROOT,
    FaultServer,
    Reply,
    gaps,
    json_feed_config,
    json_reply,
    load_hits,
    run_cfs,
    run_once,
    save_hits,
    socrata_feed_config,
    synthetic_calls,
)

from cfs_spiders.store.base import RUNS_FROM  # noqa: F401

CONTACT = "mailto:synthetic-ops@example.invalid"
CALLS = synthetic_calls(["1", "2"])
ROWS = [
    {
        "incident_number": f"T{n}",
        "datetime": "2025-12-13T10:00:00.000",
        "address": "100 Block of Pine St",
        "type": "Aid Response",
    }
    for n in range(7)
]


def throttle_pages(query: dict[str, str]) -> Reply:
    """Page 1 answers slowly (1 s), the rest at once."""
    offset = int(query.get("$offset", 0))
    return json_reply(ROWS[offset : offset + 2], delay=1.0 if offset == 0 else 0.0)


def build(folder: Path) -> None:
    configs, db, out = folder / "configs", folder / "cfs.sqlite", folder / "out"
    configs.mkdir()
    servers = {
        "robots": FaultServer().start(),
        "host": FaultServer().start(),
        "throttle": FaultServer().start(),
    }
    try:
        robots = servers["robots"]
        robots.robots("User-agent: *\nDisallow: /private/\n")
        robots.route("/private/calls", json_reply(CALLS))
        robots.route("/public/calls", json_reply(CALLS))
        feeds = {
            "zz_polite_blocked": json_feed_config(
                "zz_polite_blocked", robots.url("/private/calls")
            ),
            "zz_polite_allowed": json_feed_config(
                "zz_polite_allowed", robots.url("/public/calls")
            ),
        }
        host = servers["host"]
        for name in ("zz_polite_same_host_a", "zz_polite_same_host_b"):
            host.route(f"/{name}", json_reply(CALLS, delay=0.5))
            feeds[name] = json_feed_config(name, host.url(f"/{name}"))
        throttle = servers["throttle"]
        throttle.route("/resource/slow-0001.json", throttle_pages)
        feeds["zz_polite_throttle"] = socrata_feed_config(
            "zz_polite_throttle", throttle.url("/resource/slow-0001.json")
        )
        for name, text in feeds.items():
            (configs / f"{name}.yaml").write_text(text)
        proc = run_cfs(configs, db, out, "crawl", "--all", env={"CFS_CONTACT": CONTACT})
        (folder / "crawl.json").write_text(
            json.dumps({"code": proc.returncode, "stderr": proc.stderr})
        )
        (folder / "inflight.json").write_text(
            json.dumps({k: s.max_inflight for k, s in servers.items()})
        )
        save_hits(servers, folder / "hits.json")
    finally:
        for srv in servers.values():
            srv.stop()


@pytest.fixture(scope="module")
def polite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = run_once(tmp_path_factory, "politeness", build)
    conn = sqlite3.connect(folder / "cfs.sqlite")
    conn.row_factory = sqlite3.Row
    reports = {
        r["feed_id"]: json.loads(r["report_json"])
        for r in conn.execute(f"SELECT feed_id, report_json FROM {RUNS_FROM}")
    }
    conn.close()
    return {
        "crawl": json.loads((folder / "crawl.json").read_text()),
        "hits": load_hits(folder / "hits.json"),
        "inflight": json.loads((folder / "inflight.json").read_text()),
        "reports": reports,
    }


def test_robots_disallowed_feed_is_reported_not_fetched(polite):
    hits = polite["hits"]["robots"]
    assert [h for h in hits if h.path == "/private/calls"] == []
    assert any(h.path == "/robots.txt" for h in hits)
    blocked = polite["reports"]["zz_polite_blocked"]
    assert blocked["status"] == "failed"
    assert any("robots.txt" in e for e in blocked["errors"]), blocked["errors"]
    assert blocked["downloader"].get("robots_forbidden") == 1
    # the same host's allowed feed is fetched and fine
    assert polite["reports"]["zz_polite_allowed"]["status"] == "ok"
    assert "zz_polite_blocked: failed" in polite["crawl"]["stderr"]


def test_user_agent_identifies_the_crawler_and_its_contact(polite):
    agents = {
        h.headers.get("User-Agent") for hits in polite["hits"].values() for h in hits
    }
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("cfs/") and CONTACT in agent


def test_one_request_at_a_time_per_host(polite):
    # two feeds on one host, each answer taking 0.5 s: never both at once
    host_hits = [h for h in polite["hits"]["host"] if h.path != "/robots.txt"]
    assert len(host_hits) == 2
    assert polite["inflight"]["host"] == 1
    first, second = sorted(host_hits, key=lambda h: h.start)
    assert second.start >= first.end - 0.01


def test_autothrottle_slows_down_after_a_slow_answer(polite):
    pages = sorted(
        (h for h in polite["hits"]["throttle"] if h.path != "/robots.txt"),
        key=lambda h: h.start,
    )
    assert [h.query["$offset"] for h in pages] == ["0", "2", "4", "6"]
    # page 1 took 1 s; AutoThrottle then spaces the (instant) later pages by
    # half of that, then a quarter (no fixed delay is set in this test)
    _, after_fast_1, after_fast_2 = gaps(pages)
    assert after_fast_1 >= 0.35, gaps(pages)
    assert after_fast_2 >= 0.18, gaps(pages)
    assert polite["reports"]["zz_polite_throttle"]["status"] == "ok"


def test_default_settings_are_polite():
    """With no overrides: robots.txt, AutoThrottle, one request per host, a 1 s
    delay, an identifying user agent; CFS_CONTACT changes the contact."""
    script = (
        "import json; from cfs_spiders.schedule.orchestrator import build_settings as b; "
        "s = b(jsonl=False); print(json.dumps({k: s.get(k) for k in ["
        "'ROBOTSTXT_OBEY', 'AUTOTHROTTLE_ENABLED', "
        "'CONCURRENT_REQUESTS_PER_DOMAIN', 'DOWNLOAD_DELAY', 'USER_AGENT', "
        "'AUTOTHROTTLE_TARGET_CONCURRENCY', 'RETRY_TIMES']}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFS_")}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    s = json.loads(out.stdout)
    assert s["ROBOTSTXT_OBEY"] is True and s["AUTOTHROTTLE_ENABLED"] is True
    assert int(s["CONCURRENT_REQUESTS_PER_DOMAIN"]) == 1
    assert float(s["DOWNLOAD_DELAY"]) >= 1.0
    assert float(s["AUTOTHROTTLE_TARGET_CONCURRENCY"]) <= 1.0
    assert s["USER_AGENT"].startswith("cfs/") and "+http" in s["USER_AGENT"]
    env["CFS_CONTACT"] = CONTACT
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert CONTACT in json.loads(out.stdout)["USER_AGENT"]
