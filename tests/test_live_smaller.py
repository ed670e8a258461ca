"""Issue 15, smaller items: a private egg folder, scrapyd credentials kept off the
command line, http(s)-only URLs in configs (synthetic inputs only)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from faultserver import json_feed_config

from cfs_spiders.config.loader import ConfigError, load_config
from cfs_spiders.ingest.settings import private_egg_dir
from cfs_spiders.schedule.scrapyd import ScrapydError, _auth

BASE = json_feed_config("zz_synthetic_urls", "http://127.0.0.1:9/calls")


# ------------------------------------------------------------ the egg folder
def test_egg_folder_is_created_owner_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CFS_EGG_DIR", str(tmp_path / "eggs"))
    folder = private_egg_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.getuid()


def test_egg_folder_others_can_reach_is_refused(tmp_path: Path, monkeypatch) -> None:
    shared = tmp_path / "eggs"
    shared.mkdir()
    shared.chmod(0o777)  # as another user could have made it first in /tmp
    monkeypatch.setenv("CFS_EGG_DIR", str(shared))
    with pytest.raises(RuntimeError, match="others may reach it"):
        private_egg_dir()


def test_egg_folder_symlink_is_refused(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "eggs").symlink_to(target)
    monkeypatch.setenv("CFS_EGG_DIR", str(tmp_path / "eggs"))
    with pytest.raises(RuntimeError, match="not a folder"):
        private_egg_dir()


def test_default_egg_folder_is_per_user(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CFS_EGG_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    folder = private_egg_dir()
    assert folder == tmp_path / f"cfs-eggs-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --------------------------------------------------------- scrapyd credentials
def test_credentials_in_a_url_are_refused(monkeypatch) -> None:
    monkeypatch.delenv("CFS_SCRAPYD_CREDENTIALS", raising=False)
    with pytest.raises(ScrapydError) as err:
        _auth("http://cfs:a-long-secret@node1:6800")
    assert "a-long-secret" not in str(err.value)
    assert "CFS_SCRAPYD_CREDENTIALS" in str(err.value)


def test_credentials_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CFS_SCRAPYD_CREDENTIALS", "cfs:secret")
    assert _auth("http://node1:6800") == ("http://node1:6800", "cfs:secret")


def test_credentials_from_a_netrc_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CFS_SCRAPYD_CREDENTIALS", raising=False)
    rc = tmp_path / "scrapyd.netrc"
    rc.write_text("machine node1 login cfs password s3cret\n")
    rc.chmod(0o600)
    monkeypatch.setenv("CFS_SCRAPYD_NETRC", str(rc))
    assert _auth("http://node1:6800") == ("http://node1:6800", "cfs:s3cret")
    assert _auth("http://node2:6800") == ("http://node2:6800", None)


# ------------------------------------------------------------- URLs in HTML
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "JAVASCRIPT://%0aalert(1)",
        'https://example.org/" onmouseover="alert(1)',
        "//example.org/no-scheme",
    ],
)
def test_documentation_url_must_be_http(tmp_path: Path, url: str) -> None:
    path = tmp_path / "zz_synthetic_urls.yaml"
    path.write_text(BASE + f"documentation_url: '{url}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="documentation_url"):
        load_config(path)


def test_http_documentation_url_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "zz_synthetic_urls.yaml"
    path.write_text(
        BASE + "documentation_url: https://data.example.org/d/abcd-1234\n",
        encoding="utf-8",
    )
    assert load_config(path)["documentation_url"].startswith("https://")


# ------------------------------------------------------------- live configs
def test_url_for_year_follows_the_feed_zone() -> None:
    from datetime import datetime

    from cfs_spiders.config.loader import url_for_year

    table = {"2024": "u2024", "2025": "u2025", "2026": "u2026"}
    # 05:30 UTC on 1 January is still 31 December in New Orleans
    when = datetime.fromisoformat("2026-01-01T05:30:00+00:00")
    assert url_for_year(table, "America/Chicago", when) == "u2025"
    assert url_for_year(table, "UTC", when) == "u2026"
    later = datetime.fromisoformat("2027-03-01T00:00:00+00:00")  # not listed yet
    assert url_for_year(table, "America/Chicago", later) == "u2026"


def test_new_orleans_fetches_the_current_years_dataset() -> None:
    from datetime import UTC, datetime

    from cfs_spiders.config.loader import get_config

    cfg = get_config("la_new_orleans_calls_for_service")
    year = str(datetime.now(UTC).year)
    assert cfg.urls == [cfg["urls_by_year"][year]] or year > "2026"
    assert "jsyu-nz5r" not in " ".join(cfg["urls_by_year"].values())


def test_paging_orders_are_made_unique() -> None:
    from scrapy.utils.test import get_crawler

    from cfs_spiders.config.loader import get_config
    from cfs_spiders.ingest.spiderloader import spider_class
    from cfs_spiders.ingest.spiders.socrata import unique_order

    assert unique_order("call_date_time, crime_id", ":id") == (
        "call_date_time, crime_id, :id"
    )
    assert unique_order(":id", ":id") == ":id"
    assert unique_order(None, ":id") == ":id"
    assert unique_order("LastUpdated ASC, ObjectId ASC", "ObjectId") == (
        "LastUpdated ASC, ObjectId ASC"
    )
    for feed, expect in (
        ("tn_nashville_police_calls", "orderByFields=Call_Received+ASC%2C+OBJECTID"),
        ("wa_seattle_police_calls", "cad_event_number%2C+%3Aid"),
    ):
        cls = spider_class(get_config(feed))
        spider = cls.from_crawler(get_crawler(cls, {}), replay=False)
        assert expect in spider.page_url(spider.config.urls[0], 0), feed


def _live_record(feed: str, raw: dict) -> dict:
    from datetime import UTC, datetime

    from cfs_spiders.config.loader import get_config
    from cfs_spiders.records.builder import RecordBuilder

    builder = RecordBuilder(get_config(feed), replay=False)
    return builder.build(
        raw,
        fetched_at=datetime(2026, 1, 15, 20, 0, tzinfo=UTC),
        source_url="http://127.0.0.1/synthetic",
        run_id="synthetic",
    )


def test_dallas_live_rows_join_date_and_time() -> None:
    """A synthetic row in the 9fxf-t2tr shape: ``date`` at midnight + ``time``."""
    rec = _live_record(
        "tx_dallas_police_active_calls",
        {
            "incident_number": "26-000001",
            "date": "2026-01-15T00:00:00.000",
            "time": "14:03:27",
            "nature_of_call": "6X - MAJOR DIST (VIOLENCE)",
            "block": "1400",
            "location": "MAIN ST",
        },
    )
    assert rec["received_at_utc"] == "2026-01-15T20:03:27Z"


def test_montgomery_maps_the_live_columns() -> None:
    rec = _live_record(
        "md_montgomery_county_police_dispatched",
        {
            "incident_id": "S1",
            "start_time": "2026-01-15T10:00:00.000",
            "end_time": "2026-01-15T10:45:00.000",
            "police_district_number": "3D",
            "sector": "K",
            "pra": "123",
            "disposition_desc": "CLEARED",
            "calltime_callroute": "75",
        },
    )
    assert rec["closed_at_utc"] == "2026-01-15T15:45:00Z"
    assert rec["area_district"] == "3D" and rec["area_reporting_area"] == "123"
    assert rec["disposition_raw"] == "CLEARED"


def test_seattle_redacted_coordinates_are_empty() -> None:
    rec = _live_record(
        "wa_seattle_police_calls",
        {
            "cad_event_number": "2026000001",
            "cad_event_original_time_queued": "2026-01-15T10:00:00.000",
            "dispatch_address": "1XX BLOCK OF PINE ST",
            "dispatch_latitude": "REDACTED",
            "dispatch_longitude": "REDACTED",
        },
    )
    assert rec["latitude"] is None and rec["longitude"] is None


def test_retired_dataset_is_never_due(tmp_path: Path) -> None:
    from cfs_spiders.config.loader import get_config
    from cfs_spiders.schedule.due import due_feeds
    from cfs_spiders.store.connect import open_store

    legacy = get_config("ca_san_francisco_police_calls_legacy")
    assert legacy["ended"] == "2019"
    store = open_store(tmp_path / "due.sqlite")
    try:
        store.register_feeds([legacy])
        assert due_feeds([legacy], store) == []
    finally:
        store.close()
