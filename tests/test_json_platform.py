"""General JSON/CSV platform and mapping-language features of issue 14.

GeoJSON features, JSON Lines, gzip bodies, packed fields (``unpack``), 12-hour
times without a date, per-day ids (``call_id_scope``), regex flags, ``pluck``,
status codes, record filters, header values from the environment, and the replay
options that serve real captures (Content-Encoding, JSON Lines archives,
``read_as: live``). Inputs here are synthetic (named so) unless they say which
fixture they read; the real feeds are checked in ``test_coverage_json.py``.
"""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from cfs_spiders.config.loader import load_config
from cfs_spiders.ingest.body import BodyTooLarge, gunzip
from cfs_spiders.ingest.replay import ReplayError, load_snapshots
from cfs_spiders.ingest.spiderloader import spider_class
from cfs_spiders.ingest.spiders.base import FeedFormatError
from cfs_spiders.normalize.time import parse_time
from cfs_spiders.records.builder import RecordBuilder
from cfs_spiders.records.mapping import compile_spec, compile_unpack, unpacked_names
from cfs_spiders.store.base import CALLS_FROM  # noqa: F401
from tests.conftest import FIXTURES

SYNTHETIC: dict[str, Any] = {
    "config_version": 1,
    "agency": "Synthetic Fire Department (not a real feed)",
    "city": "Synthetic",
    "state": "ZZ",
    "title": "Synthetic incidents",
    "platform": "json",
    "urls": ["http://127.0.0.1:9/synthetic"],
    "time_zone": "America/Los_Angeles",
    "location_policy": {"address": "exact", "coordinates": "exact"},
    "liveness": "live",
    "board": "active_calls",
    "verified_against_capture": False,
    "capture": {"kind": "none", "origin": "synthetic test config"},
    "record": {"call_id": "id", "address": "location"},
}
FETCHED = datetime(2025, 9, 25, 10, 35, 52, tzinfo=UTC)  # 03:35:52 PDT


def config(tmp_path: Path, **changes: Any):
    data = copy.deepcopy(SYNTHETIC)
    data.update(changes)
    path = tmp_path / "zz_synthetic_feed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def spider(cfg, settings: dict | None = None, **kwargs: Any):
    cls = spider_class(cfg)
    return cls.from_crawler(get_crawler(cls, settings or {}), **kwargs)


def response(body: bytes, ctype: str = "application/json") -> TextResponse:
    url = "http://127.0.0.1:9/synthetic"
    return TextResponse(
        url, body=body, headers={"Content-Type": ctype}, request=Request(url)
    )


def build(cfg, raw: dict[str, Any], fetched: datetime = FETCHED) -> dict:
    return RecordBuilder(cfg).build(
        raw, fetched_at=fetched, source_url="http://127.0.0.1/x", run_id="zz-run"
    )


# ------------------------------------------------------------------ GeoJSON

COLLECTION = {  # synthetic
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 7,
            "geometry": {"type": "Point", "coordinates": [-122.25, 37.8]},
            "properties": {"id": "A1", "location": "1 MAIN ST"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            "properties": {"id": "A2", "location": "MAIN ST"},
        },
        {"type": "Feature", "geometry": None, "properties": {"id": "A3"}},
    ],
}


@pytest.mark.parametrize("shape", ["collection", "list"])
def test_geojson_features_become_flat_records(tmp_path, shape):
    cfg = config(tmp_path, parse={"geojson": True})
    data = COLLECTION if shape == "collection" else COLLECTION["features"]
    got = list(spider(cfg).extract(response(json.dumps(data).encode())))
    assert got[0] == {
        "id": "A1",
        "location": "1 MAIN ST",
        "feature.id": 7,
        "geometry.x": -122.25,
        "geometry.y": 37.8,
    }
    assert "geometry.x" not in got[1]  # a line has no one point
    assert got[2] == {"id": "A3"}


def test_geojson_point_maps_like_an_arcgis_point(tmp_path):
    cfg = config(
        tmp_path,
        parse={"geojson": True},
        record={"call_id": "id", "latitude": "geometry.y", "longitude": "geometry.x"},
    )
    raw = next(spider(cfg).extract(response(json.dumps(COLLECTION).encode())))
    rec = build(cfg, raw)
    assert (rec["latitude"], rec["longitude"]) == (37.8, -122.25)
    assert rec["raw"] == raw


def test_arcgis_layer_queried_as_geojson_pages_on(tmp_path):
    cfg = config(tmp_path, platform="arcgis")
    collection = {**COLLECTION, "properties": {"exceededTransferLimit": True}}
    page = response(json.dumps(collection).encode())
    s = spider(cfg)
    got = list(s.extract(page))
    assert [r["id"] for r in got] == ["A1", "A2", "A3"]
    assert got[0]["geometry.y"] == 37.8
    assert s.more_pages(page, len(got)) is True


# --------------------------------------------------------------- JSON Lines

LINES = b'{"id": "L1", "location": "1 A ST"}\n\n{"id": "L2"}\n{"id": "L3", "loc\n'


def test_json_lines_by_config_and_by_content_type(tmp_path):
    for options, ctype in (
        ({"format": "jsonl"}, "application/octet-stream"),
        ({}, "application/x-ndjson; charset=utf-8"),
    ):
        s = spider(config(tmp_path, parse=options))
        got = list(s.extract(response(LINES, ctype)))
        assert [r["id"] for r in got] == ["L1", "L2"]
        # the cut last line is reported by number; the run is not a whole read
        assert len(s.run.errors) == 1 and "line 4 " in s.run.errors[0]


def test_a_json_document_is_not_read_as_lines(tmp_path):
    s = spider(config(tmp_path))
    with pytest.raises(FeedFormatError):
        list(s.extract(response(LINES, "application/json")))


# --------------------------------------------------------------------- gzip


def test_a_gz_file_body_is_opened_for_json_and_csv(tmp_path):
    body = gzip.compress(json.dumps([{"id": "G1"}]).encode())
    got = list(spider(config(tmp_path)).extract(response(body, "application/gzip")))
    assert got == [{"id": "G1"}]
    csv_cfg = config(tmp_path, platform="csv")
    body = gzip.compress(b"id,location\nG2,2 B ST\n") + gzip.compress(b"G3,3 C ST\n")
    got = list(spider(csv_cfg).extract(response(body, "application/x-gzip")))
    assert got == [
        {"id": "G2", "location": "2 B ST"},
        {"id": "G3", "location": "3 C ST"},
    ]


def test_gzip_expansion_is_capped_and_truncation_refused(tmp_path):
    bomb = gzip.compress(b"0" * 2_000_000)
    with pytest.raises(BodyTooLarge):
        gunzip(bomb, 1_000_000)
    s = spider(config(tmp_path), {"DOWNLOAD_MAXSIZE": 1_000_000})
    with pytest.raises(FeedFormatError, match="unreadable gzip body"):
        list(s.extract(response(bomb, "application/gzip")))
    cut = gzip.compress(json.dumps([{"id": "x"}] * 100).encode())[:-12]
    with pytest.raises(FeedFormatError, match="unreadable gzip body"):
        list(spider(config(tmp_path)).extract(response(cut, "application/gzip")))


def test_replay_serves_content_encoding_from_the_manifest(tmp_path):
    """Oakland's fixture: gzip files served as a compressing server would."""
    snaps = load_snapshots(str(FIXTURES), "ca_oakland_police_calls_for_service")
    assert [r.content_encoding for s in snaps for r in s.responses] == ["gzip"] * 2
    folder = tmp_path / "zz_synthetic_feed"
    folder.mkdir()
    (folder / "a.json").write_text("[]")
    (folder / "manifest.yaml").write_text(
        "snapshots:\n  - captured_at: 2025-01-01T00:00:00Z\n"
        "    responses: [{file: a.json, content_encoding: brotli}]\n"
    )
    with pytest.raises(ReplayError, match="content_encoding"):
        load_snapshots(str(tmp_path), "zz_synthetic_feed")


def test_replayed_gzip_goes_through_scrapys_decompression(tmp_path):
    """A real crawl of one snapshot of a synthetic feed served with
    Content-Encoding: gzip: the spider sees the JSON, not the gzip bytes."""
    from tests.conftest import run_cfs

    configs = tmp_path / "configs"
    configs.mkdir()
    data = copy.deepcopy(SYNTHETIC)
    (configs / "zz_synthetic_feed.yaml").write_text(yaml.safe_dump(data))
    folder = tmp_path / "replay" / "zz_synthetic_feed"
    folder.mkdir(parents=True)
    body = json.dumps([{"id": "Z1", "location": "1 A ST"}, {"id": "Z2"}]).encode()
    (folder / "calls.json.gz").write_bytes(gzip.compress(body))
    (folder / "manifest.yaml").write_text(
        "snapshots:\n  - captured_at: 2025-01-01T00:00:00Z\n    responses:\n"
        "      - {file: calls.json.gz, content_type: application/json, "
        "content_encoding: gzip}\n"
    )
    db = tmp_path / "cfs.sqlite"
    proc = run_cfs(
        "--configs",
        str(configs),
        "--db",
        str(db),
        "--output",
        str(tmp_path / "out"),
        "crawl",
        "zz_synthetic_feed",
        "--replay",
        str(tmp_path / "replay"),
        "--no-jsonl",
    )
    assert "1 runs: 1 ok" in proc.stderr, proc.stderr[-2000:]
    import sqlite3

    con = sqlite3.connect(db)
    keys = sorted(r[0] for r in con.execute(f"SELECT record_key FROM {CALLS_FROM}"))
    con.close()
    assert keys == ["Z1", "Z2"]


# ------------------------------------------------------------ replay options


def test_json_lines_archive_is_one_snapshot_per_poll():
    """Hamilton County's fixture: 474 lines, 25 hourly polls, lines unchanged."""
    feed = "tn_hamilton_county_hc911_active_calls"
    snaps = load_snapshots(str(FIXTURES), feed)
    path = FIXTURES / feed / "hc911_first_seen_records_2026-08-20_collector_jsonl.jsonl"
    lines = path.read_bytes().splitlines(True)
    polls = sorted({json.loads(line)["collected_at_utc"] for line in lines})
    assert len(snaps) == len(polls) == 25
    assert [s.captured_at for s in snaps] == [
        datetime.fromisoformat(p).astimezone(UTC) for p in polls
    ]
    assert b"".join(s.responses[0].read() for s in snaps) == b"".join(lines)
    assert not any(s.board_snapshot for s in snaps)


def test_read_as_live_reads_a_snapshot_with_the_live_mapping():
    """Columbia fire: the CSV export is read as csv with the live mapping, the
    scraper JSON with the replay block."""
    from cfs_spiders.config.loader import get_config

    cfg = get_config("mo_columbia_fire_911_dispatch")
    cls = spider_class(cfg, replay=True)
    settings = {"CFS_REPLAY_DIR": str(FIXTURES)}
    first = cls.from_crawler(get_crawler(cls, settings), snapshot=0, replay=True)
    second = cls.from_crawler(get_crawler(cls, settings), snapshot=1, replay=True)
    assert (first.reader, second.reader) == ("live", "replay")
    assert "keep_if" not in first.parse_options
    assert second.parse_options["keep_if"] == {"service": ["FIRE_EMS"]}
    csv_page = response(b"InNum,CallDateTime\n1,7/28/2026 12:45:51 PM\n", "text/csv")
    assert list(first.extract(csv_page)) == [
        {"InNum": "1", "CallDateTime": "7/28/2026 12:45:51 PM"}
    ]


# ------------------------------------------------------------ packed fields


def test_unpack_split_from_the_left_and_from_the_right():
    left = compile_unpack(
        [{"field": "d", "split": ";", "into": ["muni", "addr", "units"]}]
    )
    raw = {"d": "LOWER MERION; 100 MAIN ST; E1; M2"}  # synthetic
    assert left(raw) == {
        "d": raw["d"],
        "muni": "LOWER MERION",
        "addr": "100 MAIN ST",
        "units": "E1; M2",  # the last part keeps the rest
    }
    assert left({"d": "ONLY"})["addr"] is None
    right = compile_unpack(
        [{"field": "d", "split": ",", "into": [None, "city", "state"], "from": "right"}]
    )
    assert right({"d": "1 A ST, STE 2, RESTON, VA"}) == {
        "d": "1 A ST, STE 2, RESTON, VA",
        "city": "RESTON",
        "state": "VA",
    }
    assert right({"d": None}) == {"d": None, "city": None, "state": None}


def test_unpack_regex_with_named_groups_and_the_mapping_reads_the_parts(tmp_path):
    unpack = [
        {
            "field": "d",
            "regex": r"^(?P<muni>[^;]*);\s*(?P<addr>[^;]*)(?:;\s*(?P<units>.*))?$",
            "flags": ["dotall"],
        }
    ]
    assert unpacked_names(unpack) == {"muni", "addr", "units"}
    cfg = config(
        tmp_path,
        unpack=unpack,
        record={
            "call_id": "id",
            "address": "addr",
            "units": "units",
            "area": {"municipality": {"field": "muni", "steps": ["title"]}},
        },
    )
    raw = {"id": "P1", "d": "HATFIELD TWP; KING ST & MAIN ST; E1\nM2"}  # synthetic
    rec = build(cfg, raw)
    assert rec["address_raw"] == "KING ST & MAIN ST"
    assert rec["units_raw"] == "E1\nM2" and rec["unit_count"] == 2
    assert rec["area_municipality"] == "Hatfield Twp"
    assert rec["raw"] == raw  # the stored record stays as published


# -------------------------------------------------------- 12-hour, no date


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("3:33 AM", "2025-09-25T03:33:00-07:00"),
        ("3:40 AM", "2025-09-25T03:40:00-07:00"),  # within the 5 minutes' grace
        ("11:04 PM", "2025-09-24T23:04:00-07:00"),  # shown before midnight
        ("12:05 AM", "2025-09-25T00:05:00-07:00"),
        ("12:30 PM", "2025-09-24T12:30:00-07:00"),
        ("7:27:05 p.m.", "2025-09-24T19:27:05-07:00"),
        ("0330", "2025-09-25T03:30:00-07:00"),
    ],
)
def test_twelve_hour_times_take_the_fetch_date_and_are_flagged(text, local):
    tv = parse_time(text, tz="America/Los_Angeles", time_only_reference=FETCHED)
    assert tv.local.isoformat() == local
    assert (tv.flag, tv.basis, tv.tz) == ("time_only", "documented_local", tv.tz)


def test_twelve_hour_times_with_the_feeds_format_and_bad_values():
    tz = "America/Los_Angeles"
    tv = parse_time(
        "03.33 pm", tz=tz, time_only_reference=FETCHED, formats=["%I.%M %p"]
    )
    assert tv.local.isoformat() == "2025-09-24T15:33:00-07:00"
    for bad in ("13:10 PM", "3:33 XM", "noon"):
        assert parse_time(bad, tz=tz, time_only_reference=FETCHED).flag == "unparsed"
    # a time in the fall-back hour is ambiguous, and says so
    night = datetime(2025, 11, 2, 9, 30, tzinfo=UTC)  # 01:30 PST, after the repeat
    assert parse_time("1:15 AM", tz=tz, time_only_reference=night).flag == "ambiguous"


# --------------------------------------------------------------- per-day ids


def test_per_day_ids_join_the_local_date(tmp_path):
    cfg = config(
        tmp_path,
        call_id_scope={"date_of": "received_at"},
        record={
            "call_id": "id",
            "received_at": {"field": "time", "time_only": True, "format": "%I:%M %p"},
        },
    )
    b = RecordBuilder(cfg)

    def key(raw: dict, fetched: datetime = FETCHED) -> str:
        rec = b.build(raw, fetched_at=fetched, source_url="x", run_id="r")
        return rec["record_key"]

    assert key({"id": "0001", "time": "11:59 PM"}) == "2025-09-24/0001"
    assert key({"id": "0001", "time": "12:01 AM"}) == "2025-09-25/0001"
    assert key(
        {"id": "0001", "time": "12:01 AM"}, datetime(2025, 9, 26, 8, tzinfo=UTC)
    ) == ("2025-09-26/0001")
    undated = key({"id": "0001", "time": "soon"})
    assert undated.startswith("undated/0001/") and undated != key({"id": "0001"})
    assert b.counts["record_key:undated"] == 2


# ------------------------------------------------------------ steps and codes


def test_regex_matches_across_line_breaks_only_with_dotall():
    text = "Units: E1\nM2\nNotes: none"  # synthetic
    plain = compile_spec({"field": "t", "steps": [{"regex": r"Units: (.*)Notes"}]})
    dotall = compile_spec(
        {"field": "t", "steps": [{"regex": r"Units: (.*)Notes", "flags": ["dotall"]}]}
    )
    assert plain({"t": text}) is None
    assert dotall({"t": text}) == "E1\nM2\n"
    case = compile_spec(
        {
            "field": "t",
            "steps": [{"regex": "^notes: (.*)$", "flags": ["ignorecase", "multiline"]}],
        }
    )
    assert case({"t": text}) == "none"


def test_pluck_and_empty_objects():
    units = compile_spec({"field": "Unit", "steps": [{"pluck": "UnitID"}]})
    raw = {"Unit": [{"UnitID": "E409M"}, {"UnitID": ""}, {"X": 1}, {"UnitID": "M409"}]}
    assert units(raw) == "E409M M409"
    assert units({"Unit": []}) is None
    joined = compile_spec({"field": "U", "steps": [{"pluck": "id", "join": ","}]})
    assert joined({"U": {"id": "A"}}) == "A"
    assert compile_spec("CallReceivedDateTime")({"CallReceivedDateTime": {}}) is None


def test_status_crosswalk_reads_published_codes(tmp_path):
    """Oakland-style one-letter codes through the feed's status crosswalk."""
    cfg = config(
        tmp_path,
        record={"call_id": "id", "status": "st"},
        status_crosswalk={"values": {"C": "closed", "A": "dispatched"}},
    )
    for raw, status in (("C", "closed"), ("a", "dispatched")):
        rec = build(cfg, {"id": "1", "st": raw})
        assert (rec["status_raw"], rec["status"], rec["status_basis"]) == (
            raw,
            status,
            "explicit",
        )
    assert build(cfg, {"id": "1", "st": "En Route"})["status"] == "en_route"


def test_record_lists_and_filters(tmp_path):
    cfg = config(
        tmp_path,
        parse={
            "record_lists": ["active", "recent"],
            "list_field": "_list",
            "keep_if": {"kind": ["FIRE", "EMS"]},
            "drop_if_blank": ["id", "location"],
        },
    )
    data = {  # synthetic
        "active": [{"id": "1", "kind": "FIRE "}, {"id": None, "kind": "EMS"}],
        "recent": [{"id": "2", "kind": "PD"}, {"id": "3", "kind": "EMS"}],
    }
    s = spider(cfg)
    raws = s.select_records(list(s.extract(response(json.dumps(data).encode()))))
    assert [(r["id"], r["_list"]) for r in raws] == [("1", "active"), ("3", "recent")]
    assert s.builder.counts["records:not_kept"] == 1
    assert s.builder.counts["records:blank_dropped"] == 1
    with pytest.raises(FeedFormatError, match="'recent'"):
        list(s.extract(response(json.dumps({"active": []}).encode())))


def test_header_values_come_from_the_environment(tmp_path, monkeypatch):
    cfg = config(
        tmp_path, request={"headers_from_env": {"X-Token": "ZZ_SYNTHETIC_TOKEN"}}
    )
    monkeypatch.delenv("ZZ_SYNTHETIC_TOKEN", raising=False)
    s = spider(cfg, replay=False)
    assert s._missing_env() == [
        "request header X-Token needs the environment variable ZZ_SYNTHETIC_TOKEN, "
        "which is not set"
    ]
    monkeypatch.setenv("ZZ_SYNTHETIC_TOKEN", "t0ken")
    s = spider(cfg, replay=False)
    assert s._missing_env() == []
    request = s.make_request(cfg.urls[0])
    assert request.headers.get("X-Token") == b"t0ken"
    replayed = spider(cfg, replay=True)
    assert replayed.make_request(cfg.urls[0]).headers.get("X-Token") is None


def test_the_column_builder_reads_the_new_steps_as_the_row_builder():
    """Synthetic values through both record paths: regex flags, pluck, {}."""
    from cfs_spiders.records.compile import Columns, compile_column

    raws = [
        {"t": "Units: E1\nM2\nNotes", "U": [{"id": "A"}, {"id": "B"}], "d": {}},
        {"t": "no units", "U": [], "d": "2025-01-01T00:00:00Z"},
        {"t": None, "U": {"id": "C"}},
    ]
    specs = [
        {"field": "t", "steps": [{"regex": r"Units: (.*)Notes", "flags": ["dotall"]}]},
        {"field": "U", "steps": [{"pluck": "id", "join": ","}]},
        "d",
    ]
    for spec in specs:
        cols = Columns(raws)
        assert compile_column(spec)(cols).to_list() == [
            compile_spec(spec)(r) for r in raws
        ], spec
