"""The columnar record path (records/columnar.py) against the row builder.

The row builder (records/builder.py) is the reference. The key test reads EVERY
bundled capture (each ``tests/fixtures/*/manifest.yaml``, with the feed's config,
so a feed added later is covered without an edit here) through the feed's own
spider ``extract`` and builds each page both ways: the records must be identical
field by field, with the same Python types (floats compared exactly), the same key
order and the same run counts; the unit-row merge is compared the same way.

The step tests run each compiled mapping step on SYNTHETIC rows (written here, not
captured: odd whitespace, numbers as text and as JSON numbers, blanks, nulls) and
compare with the reference step, record by record.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import Request
from scrapy.responsetypes import responsetypes
from scrapy.utils.test import get_crawler

from cfs_spiders.config.loader import get_config
from cfs_spiders.ingest.replay import load_snapshots
from cfs_spiders.ingest.spiderloader import spider_class
from cfs_spiders.records.builder import RecordBuilder, merge_rows
from cfs_spiders.records.colrows import merge_page
from cfs_spiders.records.columnar import ColumnarBuilder, columnar_enabled
from cfs_spiders.records.compile import Columns, PageFallback, compile_column
from cfs_spiders.records.encoding import all_finite
from cfs_spiders.records.mapping import compile_spec
from cfs_spiders.store.base import CALLS_FROM, OBSERVATIONS_FROM  # noqa: F401
from cfs_spiders.store.raw import install_sql_function
from tests.conftest import FIXTURES, run_cfs

CAPTURED = sorted(p.parent.name for p in FIXTURES.glob("*/manifest.yaml"))
# Feeds whose mapping is knowingly left to the row builder (none today).
ROW_BUILT: set[str] = set()


def capture_pages(
    feed_id: str,
) -> list[tuple[datetime, str, list[dict[str, Any]], bool]]:
    """Each recorded response of the feed's captures as (capture time, URL, raw
    records, whether the spider marks them finite), read by the feed's replay
    spider as a crawl reads it."""
    cfg = get_config(feed_id)
    cls = spider_class(cfg, replay=True)
    pages = []
    for index, snap in enumerate(load_snapshots(str(FIXTURES), feed_id)):
        crawler = get_crawler(cls, {"CFS_REPLAY_DIR": str(FIXTURES)})
        spider = cls.from_crawler(crawler, replay=True, snapshot=index)
        url = cfg.urls[0] if cfg.urls else "https://replay.invalid/"
        for rec in snap.responses:
            headers = {"Content-Type": rec.content_type}
            body = rec.read()
            kind = responsetypes.from_args(headers=headers, url=url, body=body[:4096])
            response = kind(
                url=url,
                status=rec.status,
                headers=headers,
                body=body,
                request=Request(url, meta={"page": 0}),
            )
            spider.page_raw_finite = spider.raw_finite  # as parse() sets it
            raws = list(spider.extract(response))
            if not spider.excludes_in_extract:
                raws = spider.exclude(raws)
            pages.append((snap.captured_at, url, raws, spider.page_raw_finite))
    return pages


def assert_same(expected: list[dict], got: list[dict], where: str) -> None:
    assert len(got) == len(expected), f"{where}: {len(got)} != {len(expected)}"
    for i, (a, b) in enumerate(zip(expected, got, strict=True)):
        assert list(b) == list(a), f"{where} record {i}: keys differ"
        for key, value in a.items():
            other = b[key]
            assert type(other) is type(value) and other == value, (
                f"{where} record {i} {key}: columnar {other!r} != reference {value!r}"
            )


@pytest.mark.parametrize("feed_id", CAPTURED)
def test_every_capture_builds_identically(feed_id: str) -> None:
    cfg = get_config(feed_id)
    reference = RecordBuilder(cfg, replay=True)
    columnar = ColumnarBuilder(cfg, replay=True)
    if feed_id in ROW_BUILT:
        assert not columnar.compiled, f"{feed_id} compiles now: drop it from ROW_BUILT"
        return
    assert columnar.compiled, f"{feed_id}: mapping falls back ({columnar.fallback})"
    pages = capture_pages(feed_id)
    built = 0
    for n, (fetched, url, raws, raw_finite) in enumerate(pages):
        where = f"{feed_id} page {n}"
        ref = [
            reference.build(r, fetched_at=fetched, source_url=url, run_id="r1")
            for r in raws
        ]
        col, finite = columnar.build_page_finite(
            raws, fetched_at=fetched, source_url=url, run_id="r1"
        )
        assert_same(ref, col, where)
        # the page's finite marks (items.RecordBatch.finite) against a walk over
        # every value: the builder's for what it made, the spider's for the raw
        built_finite = all(
            all_finite([v for k, v in r.items() if k != "raw"]) for r in col
        )
        assert finite is built_finite, f"{where}: columns finite {finite}"
        if raw_finite:
            assert all_finite(raws), f"{where}: raw marked finite holds NaN/inf"
        rows_per = cfg.get("rows_per", "call")
        merged = merge_page(col, rows_per)
        assert_same(merge_rows(ref, rows_per), merged, where + " merged")
        built += len(col)
    assert built > 0, f"{feed_id}: its captures gave no records"
    assert columnar.counts == reference.counts


def test_crawl_replay_goes_through_the_columnar_path(tmp_path: Path) -> None:
    """``cfs crawl --replay`` builds by columns (the run report says so) and stores
    what the forced row path stores; Dallas merges unit rows, Clearwater has 52
    snapshots. (By default a page under ``CFS_COLUMNAR_MIN_ROWS`` records is
    built by rows: see the next test.)"""
    feeds = ["tx_dallas_police_active_calls", "fl_clearwater_police_active_calls"]
    stored = {}
    for path in ("columnar", "reference"):
        out = tmp_path / path
        env = {
            "CFS_DATABASE_URL": f"sqlite:///{out / 'cfs.sqlite'}",
            "CFS_OUTPUT_DIR": str(out),
            "CFS_RECORD_PATH": path,
            "CFS_COLUMNAR_MIN_ROWS": "0",  # every page by columns, small ones too
        }
        run_cfs("crawl", "--replay", str(FIXTURES), *feeds, env=env)
        reports = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
        assert len(reports) == 53
        pages = [r["counts"].get(f"record_pages:{path}", 0) for r in reports]
        if path == "columnar":
            assert all(p >= 1 for p in pages)
        else:
            assert not any(r["counts"].get("record_pages:columnar") for r in reports)
        con = sqlite3.connect(out / "cfs.sqlite")
        install_sql_function(con)
        cur = con.execute(f"SELECT * FROM {CALLS_FROM}")
        names = [d[0] for d in cur.description]
        rows = [
            {n: v for n, v in zip(names, r, strict=True) if "run_id" not in n}
            for r in cur.fetchall()
        ]
        versions = con.execute(
            "SELECT feed_id, record_key, fetched_at, values_hash, "
            f"cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM}"
        ).fetchall()
        con.close()
        stored[path] = (
            sorted(rows, key=lambda r: (r["feed_id"], r["record_key"])),
            sorted(versions),
        )
    assert len(stored["columnar"][0]) > 100
    assert stored["columnar"] == stored["reference"]


def test_small_pages_are_built_by_rows(tmp_path: Path) -> None:
    """Dallas's one page (63 unit rows) is under the default threshold: it is
    built by the row builder, and the run report says so."""
    env = {
        "CFS_DATABASE_URL": f"sqlite:///{tmp_path / 'cfs.sqlite'}",
        "CFS_OUTPUT_DIR": str(tmp_path),
    }
    run_cfs(
        "crawl", "--replay", str(FIXTURES), "tx_dallas_police_active_calls", env=env
    )
    (report,) = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*.json")]
    assert report["counts"].get("record_pages:reference") == 1
    assert not report["counts"].get("record_pages:columnar")


def test_switch_reads_setting_then_environment(monkeypatch) -> None:
    monkeypatch.setenv("CFS_RECORD_PATH", "reference")
    assert not columnar_enabled()
    assert columnar_enabled("columnar")
    monkeypatch.delenv("CFS_RECORD_PATH")
    assert columnar_enabled()


# ------------------------------------------------------------- synthetic steps
# Synthetic rows (not captured): each value class the steps treat differently.
SYNTHETIC_ROWS: list[dict[str, Any]] = [
    {"a": "  Main St  ", "b": "12", "n": 12, "f": 29561602, "g": 1.5},
    {"a": "main\u00a0st\x1f", "b": " ", "n": 7, "f": -95123456, "g": 2.0},
    {"a": "", "b": "E1, E2;E3", "n": None, "f": None, "g": None},
    {"a": "N/A", "b": None, "n": 0, "f": 0, "g": 0.25},
    {"a": "1400 BLOCK OF  HARRISON\tST", "b": "x|y|z", "n": 3, "f": 1, "g": 3.0},
    {"b": "<dt>Type</dt><dd>FIRE &amp; EMS</dd>", "n": 1, "f": 2, "g": 4.5},
    {"a": "ärger Straße", "b": "ABC-123", "n": 99, "f": 3, "g": 1e-7},
    {"a": "pending", "b": "closed", "n": 5, "f": 4, "g": 10.0},
]

STEP_SPECS: list[Any] = [
    "a",
    "n",
    {"field": ["a", "b"]},
    {"field": "missing"},
    {"fields": ["a", "b"], "join": " / "},
    {"fields": ["n", "a"], "join": "-"},
    {"const": "FIRE"},
    {"field": "a", "fallback": "b"},
    {"field": "a", "steps": [{"null_if": ["N/A"]}], "fallback": {"const": "none"}},
    {"field": "a", "steps": ["strip"]},
    {"field": "a", "steps": ["upper"]},
    {"field": "a", "steps": ["lower"]},
    {"field": "a", "steps": ["title"]},
    {"field": "a", "steps": ["collapse_space"]},
    {"field": "b", "steps": ["html_text"]},
    {"field": "b", "steps": [{"html_dl": "Type"}]},
    {"field": "b", "steps": [{"regex": r"([A-Z]+)-\d+"}]},
    {"field": "b", "steps": [{"regex": r"\d+"}]},
    {"field": "b", "steps": [{"regex": r"(\w+)$"}]},
    {"field": "b", "steps": [{"regex": r"(?P<x>[a-z])", "group": "x"}]},
    {"field": "n", "steps": [{"regex": r"(\d)"}]},
    {"field": "b", "steps": [{"split": "|", "index": 1}]},
    {"field": "b", "steps": [{"split": "|", "index": -1}]},
    {"field": "b", "steps": [{"split": ",", "index": 5}]},
    {"field": "a", "steps": [{"map": {"pending": "P", "Main St": "M"}}]},
    {"field": "a", "steps": [{"map": {"pending": "P"}, "default": "other"}]},
    {"field": "n", "steps": [{"map": {"12": "twelve"}, "default": "other"}]},
    {"field": "a", "steps": [{"null_if": ["n/a", "PENDING"]}]},
    {"field": "n", "steps": [{"null_if": [0]}]},
    {"field": "f", "steps": [{"scale": 1e-6}]},
    {"field": "g", "steps": [{"scale": 0.1}]},
    {"field": "b", "steps": [{"scale": 2}]},
    {"field": "a", "steps": [{"replace": [" ", "_"]}]},
    {"field": "b", "steps": [{"template": "unit {} ({})"}]},
    {"field": "n", "steps": [{"template": "#{}"}]},
    {"field": "g", "steps": [{"template": "{}"}]},
    {"field": "b", "steps": [{"count": ","}]},
    {"field": "b", "steps": [{"count": None}]},
    {"field": "a", "steps": ["strip", "upper", {"replace": ["ST", "STREET"]}]},
]


def _compare(spec: Any, rows: list[dict[str, Any]]) -> None:
    reference = compile_spec(spec)
    expected = [reference(r) for r in rows]
    got = compile_column(spec)(Columns(rows)).to_list()
    for i, (a, b) in enumerate(zip(expected, got, strict=True)):
        assert type(b) is type(a) and b == a, f"{spec!r} row {i}: {b!r} != {a!r}"


@pytest.mark.parametrize("spec", STEP_SPECS, ids=repr)
def test_synthetic_step_matches_reference(spec: Any) -> None:
    _compare(spec, SYNTHETIC_ROWS)


TEXT = st.text(
    alphabet=st.sampled_from(list("aZ09 ,|-_/.\t\n\u00a0\x1f\u2003ßİé<>")), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=20))
def test_synthetic_text_steps_match_reference_on_any_text(values: list) -> None:
    rows = [{"v": v} for v in values]
    for steps in (
        ["strip"],
        ["upper"],
        ["lower"],
        ["collapse_space"],
        [{"split": ",", "index": 1}],
        [{"null_if": ["A", "z9"]}],
        [{"replace": ["a", "b"]}],
        [{"template": "<{}>"}],
        [{"regex": r"([0-9]+)"}],
    ):
        _compare({"field": "v", "steps": steps}, rows)


def test_synthetic_mixed_types_fall_back_to_rows() -> None:
    """A column mixing text and numbers cannot round-trip: the page is left to the
    row builder, never built with coerced values."""
    with pytest.raises(PageFallback, match="mixed value types"):
        compile_column("x")(Columns([{"x": "12"}, {"x": 12}]))
    # a map that keeps unmapped numbers but maps one to text: mixed after the step
    spec = {"field": "n", "steps": [{"map": {"12": "twelve"}}]}
    with pytest.raises(PageFallback, match="mixed value types"):
        compile_column(spec)(Columns(SYNTHETIC_ROWS))


def test_synthetic_page_of_mixed_types_builds_by_rows_in_the_spider() -> None:
    cfg = get_config("tx_dallas_police_active_calls")
    columnar = ColumnarBuilder(cfg, replay=True)
    fetched = datetime(2026, 1, 1, tzinfo=UTC)
    key = next(iter(columnar.reference.record_spec))
    spec = columnar.reference.record_spec[key]
    field = spec if isinstance(spec, str) else spec.get("field")
    field = field[0] if isinstance(field, list) else field
    with pytest.raises(PageFallback):
        columnar.build_page(
            [{field: "A1"}, {field: 5}],
            fetched_at=fetched,
            source_url="https://x/",
            run_id="r1",
        )


# SYNTHETIC stamps around the polars time readers' edges: the fall-back hour
# (ambiguous) and spring-forward gap (non-existent) of Los Angeles, pre-1970 and
# pre-1000 years, odd fractions, a space separator, padding, an offset, garbage.
SYNTHETIC_TIMES = [
    "2025-11-02T01:30:00.000",
    "2025-03-09T02:30:00.000",
    "2025-03-09T03:00:00.000",
    "1969-12-31T23:59:59.000",
    "0999-01-01T00:00:00",
    "1883-11-18T12:00:00",
    "2026-01-17T09:14:09.123456",
    "2026-01-17T09:14:09.1",
    "2026-01-17 09:14:09",
    "  2026-01-17T09:14:09.000  ",
    "2026-01-17T09:14:09-08:00",
    "2026-02-30T00:00:00",
    "2026/01/17 09:14:09 AM",
    "yesterday",
    None,
]
SYNTHETIC_EPOCHS = [
    0,
    1768670049123,
    -1,
    3_999_999_999_999,
    4_000_000_000_000,
    253_402_300_799_999,
    1762072200000,  # inside the fall-back hour, local Central time
    None,
]


@pytest.mark.parametrize(
    ("feed_id", "field", "values"),
    [
        ("ca_san_francisco_police_dispatched_realtime", "received_datetime",
         SYNTHETIC_TIMES),
        ("tx_houston_hec_active_incidents", "CALL_TIME", SYNTHETIC_EPOCHS),
    ],
)  # fmt: skip
def test_synthetic_times_match_reference(feed_id: str, field: str, values: list):
    cfg = get_config(feed_id)
    reference = RecordBuilder(cfg, replay=False)
    columnar = ColumnarBuilder(cfg, replay=False)
    fetched = datetime(2026, 1, 17, 17, 14, 9, tzinfo=UTC)
    raws = [
        {field: v, "cad_number": str(i), "EVENT_ID": i} for i, v in enumerate(values)
    ]
    kw = {"fetched_at": fetched, "source_url": "https://x/", "run_id": "r1"}
    expected = [reference.build(r, **kw) for r in raws]
    assert_same(expected, columnar.build_page(raws, **kw), feed_id)
    assert columnar.counts == reference.counts
    flags = {r["time_flags"] for r in expected}
    if field == "received_datetime":  # the edge cases are really exercised
        assert {"received_at:ambiguous", "received_at:nonexistent"} <= flags


def test_prefetched_paths_read_as_path_by_path() -> None:
    """``Columns.prefetch`` (one pass over the rows for the paths the previous
    page read) gives every path the values, types and column that reading it
    alone gives: rows without it, a dotted path stored flat and nested, empty
    objects, a path prefetched but never read. SYNTHETIC rows."""
    rows: list[dict[str, Any]] = [
        {"a": "1", "p.x": 5, "n": {"x": 1.5}, "e": {}},
        {"a": None, "n": {"x": 2.5}, "e": []},
        {"p": {"x": 7}, "n": {}, "e": {"k": 1}},
        {"b": True},
    ]
    paths = ["a", "b", "p.x", "n.x", "n", "e", "missing"]
    fresh = Columns(rows)
    ahead = Columns(rows)
    ahead.prefetch([*paths, "never_read"])
    for path in paths:
        want, kinds = fresh._values(path)
        got, got_kinds = ahead._values(path)
        assert got == want and got_kinds == kinds, path
        assert [type(v) for v in got] == [type(v) for v in want], path
    assert ahead.paths_read == paths
    assert fresh.values("p.x") == [5, None, 7, None]
    assert fresh.values("e") == [None, None, {"k": 1}, None]

    # a row that is not a plain dict: nothing prefetched, read as before
    class Row(dict):
        pass

    odd = Columns([Row(a="1"), {"a": "2"}])
    odd.prefetch(["a", "b"])
    assert odd.values("a") == ["1", "2"] and odd.values("b") == [None, None]
