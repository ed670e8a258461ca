"""Property-based tests: arbitrary raw records and strings never crash the mapping,
the record builder, the validation pipeline or the store.

For every real feed config (live and replay mapping), hypothesis draws raw records
over the fields the config maps (plus stray ones) with any JSON value: text with
control characters and odd Unicode, numbers (NaN, infinities, huge), booleans,
null, nested lists and objects. Each record must build into a common record that
passes the vocabulary check (a dropped record would look gone from the listing),
and the full record schema, and must store and read back.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_spiders.config import vocab
from cfs_spiders.config.loader import load_all
from cfs_spiders.ingest.pipelines import ValidatePipeline
from cfs_spiders.ingest.spiders.base import spec_paths
from cfs_spiders.records.builder import RecordBuilder, merge_rows
from cfs_spiders.records.items import record_validator
from cfs_spiders.records.keys import KeySpec
from cfs_spiders.records.mapping import (
    compile_mapping,
    compile_spec,
    compile_step,
    get_path,
)
from cfs_spiders.store.sqlite import Store

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {k: v for k, v in load_all(ROOT / "city_configs")[0].items() if v.has_feed}
SOURCES = [
    (fid, replay)
    for fid, cfg in sorted(CONFIGS.items())
    for replay in ((False, True) if cfg.get("replay") else (False,))
]
FETCHED = datetime(2025, 12, 13, 17, 28, 12, tzinfo=UTC)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\r\n",
            "\t",
            "\u202e",
            "\ufeff",
            "N/A",
            "NULL",
            "-",
            "0",
            "1e400",
            "-1e400",
            "nan",
            "inf",
            "12/31/2025 11:59:59 PM",
            "2025-03-09T02:30",
            "2025-11-02T01:30:00",
            "1765620000000",
            "99999999999999999999",
            "<dt>ID:</dt><dd>x</dd>",
            "&lt;b&gt;",
            "=1+1",
            "4/5",
            "A / B",
            "@",
            "*",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=6,
)


@cache
def builder(feed_id: str, replay: bool) -> RecordBuilder:
    return RecordBuilder(CONFIGS[feed_id], replay=replay)


def mapped_fields(b: RecordBuilder) -> list[str]:
    names: set[str] = set(b.key_raw_fields())
    for name, spec in b.record_spec.items():
        for one in spec.values() if name == "area" else [spec]:
            names.update(spec_paths(one))
    return sorted(names)


@st.composite
def raw_records(draw: Any, b: RecordBuilder) -> dict[str, Any]:
    fields = mapped_fields(b)
    raw = {}
    for name in draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []:
        raw[name] = draw(values)
    raw.update(draw(st.dictionaries(st.text(max_size=10), values, max_size=2)))
    return raw


_VALIDATE = ValidatePipeline(full=True)
_SCHEMA = record_validator()


@pytest.mark.parametrize(
    ("feed_id", "replay"),
    SOURCES,
    ids=[f"{f}{'-replay' if r else ''}" for f, r in SOURCES],
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_raw_record_builds_a_valid_record(feed_id: str, replay: bool, data: Any):
    b = builder(feed_id, replay)
    raw = data.draw(raw_records(b))
    rec = b.build(
        raw,
        fetched_at=FETCHED,
        source_url="http://127.0.0.1/synthetic",
        run_id="zz-property",
    )
    assert rec["feed_id"] == feed_id and rec["record_key"]
    _VALIDATE.process_item(dict(rec))  # raises DropItem on any schema error
    for key in ("latitude", "longitude"):
        assert rec[key] is None or math.isfinite(rec[key])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_built_records_store_and_merge(data: Any):
    feed_id, replay = data.draw(st.sampled_from(SOURCES))
    b = builder(feed_id, replay)
    raws = data.draw(st.lists(raw_records(b), min_size=1, max_size=4))
    recs = [
        b.build(
            r, fetched_at=FETCHED, source_url="http://127.0.0.1/x", run_id="zz-property"
        )
        for r in raws
    ]
    merged = merge_rows(recs)
    assert {r["record_key"] for r in merged} == {r["record_key"] for r in recs}
    store = Store(Path(":memory:"))  # the same SQL, without a file per example
    try:
        store.register_feeds([CONFIGS[feed_id]])
        store.write_records(merged)
        store.write_records(merged)  # idempotent
        keys = {r["record_key"] for r in store.iter_calls()}
        assert keys == {r["record_key"] for r in merged}
    finally:
        store.close()


# ----------------------------------------------------------------- the mapping

STEP_SPECS = [
    "strip",
    "upper",
    "lower",
    "title",
    "collapse_space",
    "html_text",
    {"regex": r"(\d+)"},
    {"regex": r"^(\w+)\s+-\s(.*)$", "group": 2},
    {"regex": r"[A-Z]+"},
    {"split": " ", "index": 1},
    {"split": "/", "index": -1},
    {"map": {"F": "Fire", "P": "Police", 1: "one"}},
    {"map": {"A": "x"}, "default": None},
    {"null_if": ["N/A", "", "NULL", 0]},
    {"scale": 0.001},
    {"replace": ["/", " / "]},
    {"html_dl": "ID:"},
    {"count": ","},
    {"count": None},
    {"template": "{} BLOCK"},
]


@settings(max_examples=300, deadline=None)
@given(value=values, step=st.sampled_from(STEP_SPECS))
def test_every_step_accepts_any_value(value: Any, step: Any):
    compile_step(step)(value)


@settings(max_examples=150, deadline=None)
@given(
    raw=st.dictionaries(st.text(max_size=6), values, max_size=4),
    path=st.text(alphabet="ab.0-1", max_size=8),
)
def test_get_path_never_raises(raw: dict[str, Any], path: str):
    get_path(raw, path)
    compile_spec(path)(raw)


def test_get_path_reads_only_true_list_indexes():
    """Synthetic rows: a part with two minus signs or a non-ASCII digit is not a
    list index (it once reached int() and raised; found by the test above)."""
    rows = {"": ["x", "y"], "a": ["x", "y"]}
    assert get_path(rows, ".--0") is None
    assert get_path(rows, "a.\u00b2") is None
    assert get_path(rows, "a.-1") == "y"
    assert get_path(rows, "a.1") == "y"


def _real_specs() -> list[Any]:
    specs = []
    for cfg in CONFIGS.values():
        for replay in (False, True):
            for name, spec in cfg.source(replay)["record"].items():
                specs.extend(spec.values() if name == "area" else [spec])
    return specs


REAL_SPECS = _real_specs()


@settings(max_examples=200, deadline=None)
@given(spec=st.sampled_from(REAL_SPECS), data=st.data())
def test_every_real_spec_maps_any_record(spec: Any, data: Any):
    fields = spec_paths(spec)
    raw = {f: data.draw(values) for f in fields}
    raw.update(data.draw(st.dictionaries(st.text(max_size=6), values, max_size=2)))
    value = compile_spec(spec)(raw)
    assert not (isinstance(value, str) and not value.strip())  # blanks become None


@settings(max_examples=200, deadline=None)
@given(
    record=st.dictionaries(
        st.sampled_from(["received_at_utc", "agency_raw", "address_raw", "x"]),
        values,
        max_size=4,
    ),
    names=st.lists(st.sampled_from(vocab.KEY_ELEMENTS), min_size=1, max_size=4),
)
def test_element_key_is_stable_and_safe(record: dict[str, Any], names: list[str]):
    spec = KeySpec(list(dict.fromkeys(names)))
    key, complete = spec.key(record)
    assert re.fullmatch(r"k:[0-9a-f]{20}", key)
    # the same values in another order, and a field the key does not name: the
    # same key
    reordered = dict(reversed(list(record.items())))
    assert spec.key({**reordered, "call_type_raw": "ANY"}) == (key, complete)
    values = spec.values(record)
    assert complete == all(v is not None and v != "" for v in values)
    # a named element's value changed: another key
    field = {"received_at": "received_at_utc", "agency": "agency_raw"}.get(
        spec.names[0], "x"
    )
    if field != "x":
        changed = {**record, field: ["changed", record.get(field)]}
        assert spec.key(changed)[0] != key


def test_every_config_mapping_compiles():
    for cfg in CONFIGS.values():
        for replay in (False, True):
            compile_mapping(cfg.source(replay)["record"])


# No lone surrogates: the parsers never produce them (json_feed replaces them, the
# CSV, XML and HTML readers decode with replacement; see test_faults' hostile feed).
NASTY = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**63) - 1,
    10**30,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -0.0,
    1765620000000,
    1765620000000000000,
    "",
    " ",
    "\x00",
    "\ufffd\ufffd",
    "\u202e\u200b",
    "1e400",
    "-1e400",
    "nan",
    "Infinity",
    "0x1F",
    "99999999999999999999999",
    "12/31/2025 11:59:59 PM",
    "2025-03-09T02:30:00",
    "2025-11-02T01:30:00",
    "24:00",
    "31/02/2025",
    "<script>alert(1)</script>",
    "=1+1",
    "x" * 5000,
    [],
    {},
    [None],
    {"a": None},
    ["1", 2, None],
    {"x": 1.5, "y": float("nan")},
]


@pytest.mark.parametrize(
    ("feed_id", "replay"),
    SOURCES,
    ids=[f"{f}{'-replay' if r else ''}" for f, r in SOURCES],
)
def test_every_mapped_field_survives_every_nasty_value(feed_id: str, replay: bool):
    """Exhaustive, not sampled: each mapped field alone, with each nasty value."""
    b = builder(feed_id, replay)
    store = Store(Path(":memory:"))
    store.register_feeds([CONFIGS[feed_id]])
    try:
        for field in mapped_fields(b):
            records = []
            for n, value in enumerate(NASTY):
                raw = {field: value, "_n": n}
                rec = b.build(
                    raw,
                    fetched_at=FETCHED,
                    source_url="http://127.0.0.1/x",
                    run_id="zz-nasty",
                )
                _VALIDATE.process_item(dict(rec))
                records.append(rec)
            store.write_records(merge_rows(records))
    finally:
        store.close()
