"""Faults, through the real Scrapy downloader against a local HTTP server.

Every feed here is synthetic (tests/faultserver.py serves it on 127.0.0.1). The
session runs the real CLI twice in a subprocess, with every feed in one run:

1. "before": every feed serves good calls (SYN-1..3): all runs ok, exit 0.
2. "fault": each feed serves its fault; one healthy feed drops SYN-3 (so the
   mechanism that closes calls is shown to work when it should).

Then, for each fault: the report says what failed and why, the calls stored before
are all still there, and none of them was read as closed; the healthy feed in the
same run completed; the CLI exits non-zero and names the feed.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faultserver import (
    FaultServer,
    Reply,
    arcgis_feed_config,
    gaps,
    json_feed_config,
    json_reply,
    load_hits,
    run_cfs,
    run_once,
    save_hits,
    socrata_feed_config,
    synthetic_calls,
    xml_feed_config,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.ingest.middlewares import retry_after_seconds
from cfs_spiders.store.base import CALLS_FROM, RUNS_FROM  # noqa: F401

GOOD = synthetic_calls(["1", "2", "3"])
LATER = synthetic_calls(["1", "2"])  # SYN-3 has left the listing
MAXSIZE = 64 * 1024
SOCRATA_ROWS = [
    {
        "incident_number": f"F{n}",
        "datetime": f"2025-12-13T10:0{n}:00.000",
        "address": f"{n}00 Block of Pine St",
        "type": "Aid Response",
    }
    for n in range(1, 6)
]
BIG = json.dumps(synthetic_calls(str(n) for n in range(3000)))  # ~300 KB


def socrata_pages(rows: list[dict[str, str]], fail_from: int | None = None):
    def answer(query: dict[str, str]) -> Reply:
        offset, limit = int(query.get("$offset", 0)), int(query.get("$limit", 2))
        if fail_from is not None and offset >= fail_from:
            return Reply(503, "upstream unavailable", content_type="text/plain")
        return json_reply(rows[offset : offset + limit])

    return answer


def arcgis(features: list[dict[str, Any]]) -> Reply:
    return json_reply(
        {
            "features": [{"attributes": a} for a in features],
            "exceededTransferLimit": False,
        }
    )


ARCGIS_ROWS = [
    {
        "EventNumber": f"E{n}",
        "CallTime": 1765620000000 + n * 60000,
        "Address": f"{n}00 BLOCK ELM ST",
        "Nature": "ALARM",
    }
    for n in range(1, 4)
]
XML_GOOD = b"""<?xml version="1.0"?>
<incidents><incident id="X1"><type>FIRE ALARM</type><address>100 BLOCK OAK ST</address>
</incident><incident id="X2"><type>MEDICAL</type><address>200 BLOCK OAK ST</address>
</incident></incidents>"""
XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<incidents><incident id="X1"><type>&lol9;</type><address>x</address></incident>
</incidents>"""
SECRET = "SYNTHETIC-SECRET-7f3a"


def xxe(secret_path: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE incidents [<!ENTITY leak SYSTEM "file://{secret_path}">]>
<incidents><incident id="X1"><type>&leak;</type><address>1 MAIN</address>
</incident></incidents>""".encode()


# A value with invalid UTF-8, control characters, a bidi override, HTML and a
# spreadsheet formula (all synthetic).
HOSTILE_BYTES = (
    b'[{"Master_Incident_Number": "SYN-1", "Online_Description": "=HYPERLINK(\\"x\\")",'
    b' "Address": "100 BLOCK MAIN ST \xff\xfe\x00 <script>alert(1)</script>",'
    b' "Response_Date": "2025-12-13T10:00:00"},'
    b' {"Master_Incident_Number": "SYN-2", "Online_Description": "ALARM\\u0000\\u001b[31m",'
    b' "Address": "200 BLOCK \\u202eMAIN ST", "Response_Date": "2025-12-13T10:01:00"},'
    b' {"Master_Incident_Number": "SYN-3", "Online_Description": "\\ud800 LONE",'
    b' "Address": "300 BLOCK MAIN ST", "Response_Date": "2025-12-13T10:02:00"}]'
)

# feed id -> (config maker, "before" replies, "fault" replies)
JSON_FAULTS: dict[str, tuple[Reply, ...]] = {
    "zz_fault_healthy": (json_reply(LATER),),
    "zz_fault_retry_after": (
        Reply(
            429, "slow down", content_type="text/plain", headers={"Retry-After": "2"}
        ),
        json_reply(LATER),
    ),
    "zz_fault_retry_after_long": (
        Reply(
            429,
            "come back in an hour",
            content_type="text/plain",
            headers={"Retry-After": "3600"},
        ),
        json_reply(LATER),
    ),
    "zz_fault_http_500": (Reply(500, "oops", content_type="text/plain"),),
    "zz_fault_http_502": (Reply(502, "bad gateway", content_type="text/html"),),
    "zz_fault_http_503": (Reply(503, "maintenance", content_type="text/html"),),
    "zz_fault_timeout": (Reply(delay=4.0, body=json.dumps(LATER)),),
    "zz_fault_reset": (Reply(reset=True),),
    "zz_fault_truncated_http": (Reply(body=json.dumps(LATER), truncate=40),),
    "zz_fault_truncated_json": (Reply(body=json.dumps(LATER)[:-25]),),
    "zz_fault_html_200": (
        Reply(
            body="<!DOCTYPE html><html><body><h1>Service Unavailable</h1>"
            "</body></html>",
            content_type="text/html",
        ),
    ),
    "zz_fault_empty": (json_reply([]),),
    "zz_fault_renamed_id": (
        json_reply(
            [
                {
                    ("IncidentNumber" if k == "Master_Incident_Number" else k): v
                    for k, v in c.items()
                }
                for c in LATER
            ]
        ),
    ),
    "zz_fault_renamed_column": (
        json_reply(
            [
                {("Location" if k == "Address" else k): v for k, v in c.items()}
                for c in LATER
            ]
        ),
    ),
    "zz_fault_oversized": (Reply(body=BIG),),
    "zz_fault_oversized_stream": (Reply(body=BIG, content_length=False),),
    "zz_hostile_unicode": (Reply(body=HOSTILE_BYTES),),
}
FAILED = {
    "zz_fault_retry_after_long": "Retry-After 3600s exceeds",
    "zz_fault_http_500": "HTTP 500",
    "zz_fault_http_502": "HTTP 502",
    "zz_fault_http_503": "HTTP 503",
    "zz_fault_timeout": "DOWNLOAD_TIMEOUT",
    "zz_fault_reset": "connection reset",
    "zz_fault_truncated_http": "cut short",
    "zz_fault_truncated_json": "expected JSON",
    "zz_fault_html_200": "expected JSON",
    "zz_fault_renamed_id": "schema drift",
    "zz_fault_oversized": "larger than DOWNLOAD_MAXSIZE",
    "zz_fault_oversized_stream": "larger than DOWNLOAD_MAXSIZE",
    "zz_fault_socrata_partial": "HTTP 503",
    "zz_fault_arcgis_error": "ArcGIS error",
    "zz_hostile_xml_bomb": "refused unsafe XML",
    "zz_hostile_xxe": "refused unsafe XML",
}
DEGRADED = {
    "zz_fault_renamed_column": "address fill rate fell",
}
ALL_FEEDS = [
    *JSON_FAULTS,
    "zz_fault_socrata_partial",
    "zz_fault_arcgis_error",
    "zz_hostile_xml_bomb",
    "zz_hostile_xxe",
]


def build(folder: Path) -> None:
    configs, db, out = folder / "configs", folder / "cfs.sqlite", folder / "out"
    configs.mkdir()
    secret = folder / "secret.txt"
    secret.write_text(SECRET)
    servers = {feed: FaultServer().start() for feed in ALL_FEEDS}
    try:
        for feed, srv in servers.items():
            if feed.startswith("zz_fault_socrata"):
                text = socrata_feed_config(feed, srv.url("/resource/abcd-1234.json"))
                srv.route("/resource/abcd-1234.json", socrata_pages(SOCRATA_ROWS))
            elif feed.startswith("zz_fault_arcgis"):
                text = arcgis_feed_config(feed, srv.url("/arcgis/rest/0/query"))
                srv.route("/arcgis/rest/0/query", arcgis(ARCGIS_ROWS))
            elif feed.startswith("zz_hostile_x"):
                text = xml_feed_config(feed, srv.url("/incidents.xml"))
                srv.route(
                    "/incidents.xml",
                    Reply(body=XML_GOOD, content_type="application/xml"),
                )
            else:
                text = json_feed_config(feed, srv.url("/api/calls"))
                srv.route("/api/calls", json_reply(GOOD))
            (configs / f"{feed}.yaml").write_text(text)
        env = {"CFS_DOWNLOAD_MAXSIZE": str(MAXSIZE)}
        before = run_cfs(configs, db, out, "crawl", "--all", env=env)
        (folder / "before.json").write_text(
            json.dumps({"code": before.returncode, "stderr": before.stderr})
        )
        snapshot_calls(db, folder / "before_calls.json")
        for srv in servers.values():
            srv.hits.clear()
        for feed, replies in JSON_FAULTS.items():
            servers[feed].route("/api/calls", *replies)
        servers["zz_fault_socrata_partial"].route(
            "/resource/abcd-1234.json", socrata_pages(SOCRATA_ROWS, fail_from=2)
        )
        servers["zz_fault_arcgis_error"].route(
            "/arcgis/rest/0/query",
            json_reply(
                {"error": {"code": 500, "message": "Unable to complete operation."}}
            ),
        )
        servers["zz_hostile_xml_bomb"].route(
            "/incidents.xml", Reply(body=XML_BOMB, content_type="application/xml")
        )
        servers["zz_hostile_xxe"].route(
            "/incidents.xml", Reply(body=xxe(secret), content_type="application/xml")
        )
        fault = run_cfs(configs, db, out, "crawl", "--all", env=env)
        (folder / "fault.json").write_text(
            json.dumps({"code": fault.returncode, "stderr": fault.stderr})
        )
        save_hits(servers, folder / "hits.json")
    finally:
        for srv in servers.values():
            srv.stop()


def snapshot_calls(db: Path, path: Path) -> None:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [
        dict(r)
        for r in conn.execute(
            f"SELECT feed_id, record_key, status, disappeared_at, last_seen FROM {CALLS_FROM}"
        )
    ]
    conn.close()
    path.write_text(json.dumps(rows))


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = run_once(tmp_path_factory, "faults", build)
    conn = sqlite3.connect(folder / "cfs.sqlite")
    conn.row_factory = sqlite3.Row

    def q(sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(sql, params)]

    yield {
        "folder": folder,
        "q": q,
        "before": json.loads((folder / "before.json").read_text()),
        "fault": json.loads((folder / "fault.json").read_text()),
        "before_calls": json.loads((folder / "before_calls.json").read_text()),
        "hits": load_hits(folder / "hits.json"),
    }
    conn.close()


def last_report(faults: dict[str, Any], feed: str) -> dict[str, Any]:
    """The feed's latest run: its row in the store, and the same report as JSON
    under output/runs/."""
    rows = faults["q"](
        f"SELECT * FROM {RUNS_FROM} WHERE feed_id = ? ORDER BY finished_at", feed
    )
    assert len(rows) == 2, f"{feed}: expected a run row per crawl, got {len(rows)}"
    row = rows[-1]
    report = json.loads(row["report_json"])
    on_disk = faults["folder"] / "out" / "runs" / f"{row['run_id']}.json"
    assert json.loads(on_disk.read_text()) == report
    assert row["status"] == report["status"]
    return report


def assert_calls_kept_open(faults: dict[str, Any], feed: str) -> None:
    """Every call stored before is still there, and none was read as closed."""
    before = {
        r["record_key"]: r for r in faults["before_calls"] if r["feed_id"] == feed
    }
    assert before, f"{feed}: the first crawl stored nothing"
    now = {
        r["record_key"]: r
        for r in faults["q"](
            f"SELECT record_key, status, disappeared_at FROM {CALLS_FROM} WHERE feed_id = ?",
            feed,
        )
    }
    assert set(before) <= set(now)
    for key in before:
        assert now[key]["disappeared_at"] is None, (feed, key, now[key])
        assert now[key]["status"] != "closed", (feed, key, now[key])


def test_first_crawl_all_ok_and_exit_zero(faults):
    assert faults["before"]["code"] == 0, faults["before"]["stderr"][-3000:]
    first: dict[str, str] = {}
    for r in faults["q"](
        f"SELECT feed_id, status FROM {RUNS_FROM} ORDER BY finished_at"
    ):
        first.setdefault(r["feed_id"], r["status"])
    assert set(first) == set(ALL_FEEDS)
    assert set(first.values()) == {"ok"}, first


def test_fault_crawl_exits_non_zero_and_names_each_bad_feed(faults):
    assert faults["fault"]["code"] == 2
    stderr = faults["fault"]["stderr"]
    for feed in [*FAILED, *DEGRADED]:
        assert f"{feed}: " in stderr, feed
    assert f"{len(FAILED)} failed" in stderr and f"{len(DEGRADED)} degraded" in stderr


def test_healthy_feed_in_the_same_run_completes_and_closes_what_left(faults):
    report = last_report(faults, "zz_fault_healthy")
    assert report["status"] == "ok" and report["complete"]
    gone = faults["q"](
        f"SELECT record_key, status FROM {CALLS_FROM} WHERE feed_id = ? AND "
        "disappeared_at IS NOT NULL",
        "zz_fault_healthy",
    )
    # the protection below is not vacuous: a healthy run does close what left
    assert gone == [{"record_key": "SYN-3", "status": "closed"}]


@pytest.mark.parametrize("feed", sorted(FAILED))
def test_failed_feed_reported_and_calls_kept(faults, feed):
    report = last_report(faults, feed)
    assert report["status"] == "failed"
    assert not report["complete"]
    assert report["disappeared_calls"] == 0
    assert any(FAILED[feed] in e for e in report["errors"]), report["errors"]
    assert_calls_kept_open(faults, feed)


def test_empty_active_board_is_a_complete_listing(faults):
    """An empty, well-formed listing of an active-calls board is a quiet moment
    (issue 15): the run is ok and every call it no longer lists closes."""
    report = last_report(faults, "zz_fault_empty")
    assert report["status"] == "ok" and report["complete"], report
    assert report["records"] == 0 and report["degraded_reasons"] == []
    rows = faults["q"](
        f"SELECT status, disappeared_at FROM {CALLS_FROM} WHERE feed_id = ?",
        "zz_fault_empty",
    )
    assert rows and report["disappeared_calls"] == len(rows)
    assert all(r["status"] == "closed" and r["disappeared_at"] for r in rows)


@pytest.mark.parametrize("feed", sorted(DEGRADED))
def test_degraded_feed_reported_and_calls_kept(faults, feed):
    report = last_report(faults, feed)
    assert report["status"] == "degraded"
    assert any(DEGRADED[feed] in r for r in report["degraded_reasons"])
    assert report["disappeared_calls"] == 0
    assert_calls_kept_open(faults, feed)


def test_retry_after_is_honoured(faults):
    report = last_report(faults, "zz_fault_retry_after")
    assert report["status"] == "ok"
    assert report["downloader"]["responses"].get("429") == 1
    hits = faults["hits"]["zz_fault_retry_after"]
    calls = [h for h in hits if h.path == "/api/calls"]
    assert [h.status for h in calls] == [429, 200]
    # Retry-After: 2 while the backoff base is 0.4 s: the server was obeyed
    assert gaps(calls)[0] >= 1.9


def test_retry_after_beyond_the_cap_is_not_retried(faults):
    hits = faults["hits"]["zz_fault_retry_after_long"]
    assert len([h for h in hits if h.path == "/api/calls"]) == 1


def test_retry_after_reads_only_ascii_seconds_or_an_http_date():
    """Synthetic header values: a superscript digit (latin-1 ``\xb2``, which
    ``str.isdigit`` takes) is no delay in seconds; it once reached float() and
    raised inside the retry middleware, as a huge year did in the date parser."""
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(b" 7 ") == 7.0
    assert retry_after_seconds(b"Thu, 02 Jan 2025 03:05:05 GMT", now) == 60.0
    assert retry_after_seconds(b"Thu, 02 Jan 2025 03:00:00 GMT", now) == 0.0
    odd = (b"\xb2", b"1\xb2", "\u00b9\u00b2", b"-5", b"1.5", b"soon", b"")
    # a year too large for a C long: parsedate_to_datetime raises OverflowError
    for value in (*odd, b"01 Jan 99999999999999999999 00:00:00"):
        assert retry_after_seconds(value, now) is None, value


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.binary(max_size=40), st.text(max_size=40)))
def test_retry_after_never_raises(value: bytes | str):
    """Whatever a server sends as Retry-After: no delay, or a finite one >= 0."""
    after = retry_after_seconds(value)
    assert after is None or (math.isfinite(after) and after >= 0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_retried_with_backoff_then_failed(faults, status):
    feed = f"zz_fault_http_{status}"
    calls = [h for h in faults["hits"][feed] if h.path == "/api/calls"]
    assert len(calls) == 3  # the first try and CFS_RETRY_TIMES=2 retries
    first, second = gaps(calls)
    # backoff base 0.4 s doubled per retry, jittered to 50..100 %
    assert first >= 0.19 and second >= 0.39, (first, second)
    report = last_report(faults, feed)
    assert report["downloader"]["responses"][str(status)] == 3
    assert report["downloader"]["retries"] == 2
    assert any("gave up after 2 retries" in e for e in report["errors"])


def test_timeouts_retried_then_failed(faults):
    calls = [h for h in faults["hits"]["zz_fault_timeout"] if h.path == "/api/calls"]
    assert len(calls) == 3
    report = last_report(faults, "zz_fault_timeout")
    assert report["downloader"]["exceptions"]


def test_partial_listing_keeps_earlier_pages_and_closes_nothing(faults):
    report = last_report(faults, "zz_fault_socrata_partial")
    assert report["records"] == 2  # page 1 was read and stored, page 2 failed
    # the two calls of page 1 were seen by this run (stored unchanged: no new
    # version, their last sighting is this run's)
    seen = faults["q"](
        f"SELECT COUNT(*) AS n FROM {CALLS_FROM} WHERE last_run_id = ? AND last_seen = ?",
        report["run_id"],
        report["fetched_at"],
    )
    assert seen[0]["n"] == 2


def test_oversized_response_cancelled_not_read(faults):
    for feed in ("zz_fault_oversized", "zz_fault_oversized_stream"):
        report = last_report(faults, feed)
        assert report["records"] == 0 and report["pages"] == 0


def test_xml_entities_never_expanded(faults):
    """The XXE feed's secret file never reaches the store or the run reports."""
    folder = faults["folder"]
    assert SECRET.encode() not in (folder / "cfs.sqlite").read_bytes()
    for path in (folder / "out").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    bomb = last_report(faults, "zz_hostile_xml_bomb")
    assert any("EntitiesForbidden" in e or "DTDForbidden" in e for e in bomb["errors"])


def test_invalid_utf8_and_control_characters_are_stored_not_fatal(faults):
    report = last_report(faults, "zz_hostile_unicode")
    assert report["status"] == "ok", report["errors"]
    assert report["counts"].get("response:json_recovered") == 1
    rows = {
        r["record_key"]: r
        for r in faults["q"](
            f"SELECT record_key, address_raw, call_type_raw FROM {CALLS_FROM} WHERE feed_id = ?",
            "zz_hostile_unicode",
        )
    }
    assert "\ufffd" in rows["SYN-1"]["address_raw"]
    assert rows["SYN-1"]["call_type_raw"].startswith("=HYPERLINK")
    assert "\x00" in rows["SYN-2"]["call_type_raw"]  # kept as published, in the store
    assert "\ud800" not in rows["SYN-3"]["call_type_raw"]


def test_every_run_wrote_a_json_report(faults):
    runs = faults["q"](f"SELECT run_id FROM {RUNS_FROM}")
    files = {p.stem for p in (faults["folder"] / "out" / "runs").glob("*.json")}
    assert {r["run_id"] for r in runs} <= files
