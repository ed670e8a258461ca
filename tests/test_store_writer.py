"""The store writer's cheaper paths give the store it gave before.

- A batch's calls the store does not hold go in by a plain INSERT, the others by
  the upsert: the store comes out the same as with the upsert alone.
- A raw record read from JSON text is hashed without the NaN walk: the same
  change hash.
- A large batch's raw records are compressed with Zstandard against a dictionary
  trained on them, a small batch's with zlib as before; every reader (the store,
  ``cfs_raw`` of a plain connection, the Datasette plugin, ``cfs raw``) reads
  both, and a damaged Zstandard record is refused naming it.

The raw records here are synthetic (named so in their values): the codec choice
needs a thousand records of one feed, more than a unit test should replay.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.config.loader import load_config
from cfs_spiders.exports.datasette_raw import prepare_connection
from cfs_spiders.records.encoding import change_digest as _hash
from cfs_spiders.records.encoding import change_hash, record_json
from cfs_spiders.store import raw as raw_mod
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_FROM,
    RAW_DICTS_FROM,
    RECORD_COLUMNS,
)
from cfs_spiders.store.batch_parts import filled_columns as _filled_columns
from cfs_spiders.store.raw import (
    DEFLATE,
    TRAIN_MIN,
    ZSTD,
    RawRecordError,
    ZstdCompressor,
    ZstdReader,
    install_sql_function,
    make_dict,
)
from cfs_spiders.store.sqlite import Store
from cfs_spiders.store.write import _CALL_COLUMNS, RecordWriter
from tests import test_postgres
from tests.conftest import ROOT, run_cfs

CONFIGS = ROOT / "city_configs"
pg_url = test_postgres.pg_url  # the fixture: a fresh database on the server
FEEDS = ("wa_seattle_fire_realtime911", "tx_houston_hec_active_incidents")
TYPES = ("SYNTHETIC AID", "SYNTHETIC FIRE", "SYNTHETIC ALARM", "SYNTHETIC MVA")


def synthetic_raw(i: int, version: int = 0) -> dict[str, Any]:
    return {
        "incident_number": f"SYN{i:07d}",
        "type": TYPES[(i * 7 + version) % len(TYPES)],
        "address": f"{(i * 37) % 9000} SYNTHETIC AV",
        "datetime": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000",
        "latitude": round(47.5 + (i % 1000) / 10_000, 6),
        "units": [f"E{i % 40}", f"M{i % 13}"][: 1 + i % 2],
        "note": "synthetic record é" if i % 5 == 0 else None,
        "version": version,
    }


def synthetic_records(
    feed: str, keys: range, fetched_at: str, run_id: str, version: int = 0
) -> list[dict[str, Any]]:
    return [
        {
            **dict.fromkeys(RECORD_COLUMNS),
            "feed_id": feed,
            "call_id": f"SYN{i:07d}",
            "record_key": f"SYN{i:07d}",
            "fetched_at": fetched_at,
            "run_id": run_id,
            "call_type_raw": synthetic_raw(i, version)["type"],
            "raw": synthetic_raw(i, version),
        }
        for i in keys
    ]


def new_store(path: Path) -> Store:
    store = Store(path)
    store.register_feeds([load_config(CONFIGS / f"{f}.yaml") for f in FEEDS])
    return store


def dump(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    install_sql_function(conn)
    calls = conn.execute(f"SELECT * FROM {CALLS_FROM} ORDER BY feed_id, record_key")
    # every column but the call key (a numbering in the order calls were first
    # written, which the history rows name the call by: read through
    # OBSERVATIONS_FROM and PRESENCE_FROM, as the readers do)
    at = [d[0] for d in calls.description].index("call_key")
    out = {
        "calls": [row[:at] + row[at + 1 :] for row in calls.fetchall()],
        "observations": conn.execute(
            "SELECT feed_id, record_key, fetched_at, last_seen, run_id, values_hash, "
            f"cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM} ORDER BY 1, 2, 3"
        ).fetchall(),
        "presence": conn.execute(
            f"SELECT * FROM {PRESENCE_FROM} ORDER BY 1, 2, 3"
        ).fetchall(),
    }
    conn.close()
    return out


def write_scenario(store: Store) -> None:
    """New calls, calls held (some changed), a call twice in a batch, and a run
    committed out of order."""
    feed = FEEDS[0]
    batches = [
        synthetic_records(feed, range(0, 30), "2026-01-01T00:00:00Z", "r1"),
        # 20..29 held (20..24 changed), 30..39 new
        synthetic_records(feed, range(20, 25), "2026-01-01T00:05:00Z", "r2", 1)
        + synthetic_records(feed, range(25, 40), "2026-01-01T00:05:00Z", "r2"),
        # 35 twice in one batch, at two fetch times
        synthetic_records(feed, range(35, 45), "2026-01-01T00:10:00Z", "r3")
        + synthetic_records(feed, range(35, 36), "2026-01-01T00:11:00Z", "r3", 2),
        # older than what the store holds for 0..9
        synthetic_records(feed, range(0, 10), "2025-12-31T23:55:00Z", "r0", 3),
    ]
    # a value in a column no record had before (not in a batch's first record)
    batches[1][3]["address"] = "1 SYNTHETIC AV"
    # a record without a field, and a value in it in another record
    del batches[2][1]["area_beat"]
    batches[2][4]["area_beat"] = "SYN-BEAT"
    for recs in batches:
        store.write_records(recs, [record_json(r) for r in recs])


class _Every(dict):
    """Every column was filled in every feed's last batch: rows bind them all."""

    def get(self, key: Any, default: Any = None) -> tuple[str, ...]:
        return RECORD_COLUMNS


def test_plain_insert_of_new_calls_gives_the_upserts_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = new_store(tmp_path / "fast.sqlite")
    inserts: list[int] = []
    insert_many = RecordWriter._insert_many

    def counting(self: Any, cur: Any, sql: str, rows: list) -> None:
        if sql.startswith("INSERT INTO calls") and "ON CONFLICT" not in sql:
            inserts.append(len(rows))
        insert_many(self, cur, sql, rows)

    monkeypatch.setattr(RecordWriter, "_insert_many", counting)
    write_scenario(fast)
    fast.close()
    assert inserts == [30, 10, 5, 0]  # each new call once (SYN0..SYN44), by INSERT
    # the reference: the upsert of every column for every call
    monkeypatch.setattr(RecordWriter, "_call_insert_sql", RecordWriter._upsert_sql)
    monkeypatch.setattr(RecordWriter, "_filled", property(lambda self: _Every()))
    ref = new_store(tmp_path / "ref.sqlite")
    write_scenario(ref)
    ref.close()
    got = dump(tmp_path / "fast.sqlite")
    assert got == dump(tmp_path / "ref.sqlite")
    assert sum(r.count("1 SYNTHETIC AV") for r in got["calls"]) == 1
    assert sum(r.count("SYN-BEAT") for r in got["calls"]) == 1


def test_columns_left_out_of_a_calls_insert_are_null(tmp_path: Path) -> None:
    """A batch binds only the columns some record of it has a value in
    (``_filled_columns``): that is the same row only while no column of
    ``calls`` has a default."""
    store = new_store(tmp_path / "cfs.sqlite")
    info = store.query("PRAGMA table_info(calls)")
    store.close()
    assert {r["name"] for r in info} >= set(_CALL_COLUMNS)
    assert [r["name"] for r in info if r["dflt_value"] is not None] == []
    recs = [{c: None for c in RECORD_COLUMNS} for _ in range(3)]
    for i, rec in enumerate(recs):
        rec["feed_id"], rec["record_key"] = "feed", f"K{i}"
    recs[2]["address"] = "late"  # a value in the last record only keeps its column
    recs[1]["latitude"] = 0.0  # a value, although false
    del recs[1]["area_beat"]  # a record without a field: None
    assert _filled_columns(recs) == tuple(
        c
        for c in RECORD_COLUMNS
        if c in ("feed_id", "record_key", "address", "latitude")
    )
    recs[0]["area_beat"] = "12"
    assert "area_beat" in _filled_columns(recs)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=8))
def test_the_hash_of_a_record_read_from_text_is_its_change_hash(raw: dict) -> None:
    try:
        text = orjson.dumps(raw)
    except TypeError:  # a lone surrogate: such a record never crosses as text
        return
    read = orjson.loads(text)
    assert _hash(read, True) == bytes.fromhex(change_hash(read))
    assert _hash(read, False) == bytes.fromhex(change_hash(read))


def test_a_record_not_known_finite_keeps_the_checked_hash() -> None:
    for raw in ({"a": math.nan}, {"a": [1, {"b": math.inf}]}, {"a": 1.5}):
        assert _hash(raw, False) == bytes.fromhex(change_hash(raw))
    # the NaN record hashes as json writes it (NaN), not as orjson (null)
    assert _hash({"a": math.nan}, False) != _hash({"a": None}, False)


def test_a_large_batch_gets_a_trained_zstd_dictionary_a_small_one_zlib() -> None:
    texts = [json.dumps(synthetic_raw(i)) for i in range(TRAIN_MIN + 500)]
    codec, data = make_dict(texts)
    assert codec == ZSTD and data[:4] == b"\x37\xa4\x30\xec"  # a full dictionary
    probe = texts[-100:]
    packed = [ZstdCompressor(data)(t) for t in probe]
    assert [ZstdReader(data)(p) for p in packed] == probe
    assert sum(map(len, packed)) < 0.2 * sum(map(len, probe))
    codec, data = make_dict(texts[: TRAIN_MIN - 1])
    assert codec == DEFLATE and data.startswith(texts[0].encode())


def test_a_batch_zstd_does_not_pay_for_keeps_zlib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [json.dumps(synthetic_raw(i)) for i in range(TRAIN_MIN + 500)]
    monkeypatch.setattr(raw_mod, "_ZSTD_SLACK", 0.01)  # zstd must be 100x smaller
    assert make_dict(texts)[0] == DEFLATE


def test_every_reader_reads_both_codecs(tmp_path: Path) -> None:
    db = tmp_path / "cfs.sqlite"
    store = new_store(db)
    small, large = FEEDS
    batches = [
        synthetic_records(small, range(10), "2026-01-01T00:00:00Z", "r1"),
        synthetic_records(large, range(TRAIN_MIN + 300), "2026-01-01T00:00:00Z", "r1"),
        # the small feed's small dictionary is replaced by a trained one
        synthetic_records(
            small, range(5, TRAIN_MIN + 300), "2026-01-01T00:05:00Z", "r2", 1
        ),
    ]
    texts: dict[tuple[str, str, str], str] = {}
    for recs in batches:
        enc = [record_json(r) for r in recs]
        store.write_records(recs, enc)
        for r in recs:
            texts[(r["feed_id"], r["record_key"], r["fetched_at"])] = json.dumps(
                r["raw"], ensure_ascii=False, separators=(",", ":")
            )
    dicts = store.query(f"SELECT feed_id, codec FROM {RAW_DICTS_FROM} ORDER BY dict_id")
    assert [(d["feed_id"], d["codec"]) for d in dicts] == [
        (small, DEFLATE),
        (large, ZSTD),
        (small, ZSTD),
    ]
    versions = list(store.raw_versions())
    assert len(versions) == len(texts) == 10 + (TRAIN_MIN + 300) + (TRAIN_MIN + 295)
    assert {(v.feed_id, v.record_key, v.fetched_at): v.raw_json for v in versions} == (
        texts
    )
    assert (
        store.raw_text(small, "SYN0000001")
        == texts[(small, "SYN0000001", "2026-01-01T00:00:00Z")]
    )
    store.close()
    order = "ORDER BY feed_id, record_key, fetched_at"
    want = [v.raw_json for v in versions]
    for install in (install_sql_function, prepare_connection):  # Datasette's
        conn = sqlite3.connect(db)
        install(conn)
        got = conn.execute(
            f"SELECT cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM} {order}"
        ).fetchall()
        conn.close()
        assert [g[0] for g in got] == want
    proc = run_cfs("--db", str(db), "raw", large, "SYN0000007")
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["raw"] == synthetic_raw(7)


# the SQL function's error is also reported by sqlite3's callback hook
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_damaged_zstd_record_or_an_unknown_codec_is_refused(tmp_path: Path) -> None:
    texts = [json.dumps(synthetic_raw(i)) for i in range(TRAIN_MIN + 300)]
    codec, data = make_dict(texts)
    assert codec == ZSTD
    blob = ZstdCompressor(data)(texts[3])
    read = ZstdReader(data)
    assert read(blob) == texts[3]
    for bad in (blob[:-3], blob + b"\x00", b"\xff" + blob[1:]):
        with pytest.raises(RawRecordError, match="feed/key"):
            read(bad, "feed/key")
    db = tmp_path / "cfs.sqlite"
    store = new_store(db)
    recs = synthetic_records(
        FEEDS[1], range(TRAIN_MIN + 300), "2026-01-01T00:00:00Z", "r"
    )
    store.write_records(recs)
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE raw_dicts SET codec = 'brotli-v9'")
    conn.commit()
    install_sql_function(conn)
    with pytest.raises(sqlite3.OperationalError):  # the function's error
        conn.execute(
            f"SELECT cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM}"
        ).fetchall()
    conn.close()
    store = Store(db)
    try:
        with pytest.raises(RawRecordError, match="'brotli-v9'"):
            list(store.raw_versions())
    finally:
        store.close()


def test_postgresql_writes_the_same_store_with_both_codecs(
    pg_url: str, tmp_path: Path
) -> None:
    """The narrowed, plain-INSERT batches go to PostgreSQL by ``COPY`` (the
    columns bound are those filled) and give SQLite's store; both codecs read
    back there too."""
    from cfs_spiders.store.connect import open_store

    big = synthetic_records(
        FEEDS[1], range(TRAIN_MIN + 300), "2026-01-01T00:00:00Z", "r"
    )
    stores = {"sqlite": new_store(tmp_path / "cfs.sqlite"), "pg": open_store(pg_url)}
    stores["pg"].register_feeds([load_config(CONFIGS / f"{f}.yaml") for f in FEEDS])
    got = {}
    for name, store in stores.items():
        write_scenario(store)
        store.write_records(big, [record_json(r) for r in big])
        got[name] = (
            store.query(
                "SELECT feed_id, record_key, first_seen, last_seen, address, "
                f"area_beat, call_type_raw, latitude FROM {CALLS_FROM} "
                "ORDER BY feed_id, record_key"
            ),
            [tuple(v.__dict__.values()) for v in store.raw_versions()],
            [
                r["codec"]
                for r in store.query(
                    f"SELECT codec FROM {RAW_DICTS_FROM} ORDER BY dict_id"
                )
            ],
        )
        store.close()
    assert got["pg"] == got["sqlite"]
    assert set(got["pg"][2]) == {DEFLATE, ZSTD}


def test_the_writer_process_hashes_a_record_its_text_would_not_give(
    tmp_path: Path,
) -> None:
    """A record whose text would not read back the same (a NaN: json writes
    ``NaN``, orjson ``null``) crosses to the writer process whole and is hashed
    with the check; the others are read from their texts and hashed without:
    every stored hash is the record's change hash."""
    from cfs_spiders.records.encoding import json_text_exact
    from cfs_spiders.store.process import StoreProcess

    db = tmp_path / "cfs.sqlite"
    new_store(db).close()
    recs = synthetic_records(FEEDS[0], range(4), "2026-01-01T00:00:00Z", "r")
    recs[1]["raw"]["latitude"] = math.nan
    texts, exact = zip(*(json_text_exact(r) for r in recs), strict=True)
    assert exact == (True, False, True, True)
    proc = StoreProcess(db)
    try:
        assert proc.submit(recs, list(texts), list(exact)).result(timeout=120)[:2] == (
            4,
            4,
        )
    finally:
        proc.close()
    store = Store(db)
    rows = store.query(
        f"SELECT values_hash FROM {OBSERVATIONS_FROM} ORDER BY record_key"
    )
    store.close()
    assert [bytes(r["values_hash"]).hex() for r in rows] == [
        change_hash(r["raw"]) for r in recs
    ]
    assert change_hash(recs[1]["raw"]) != change_hash(
        {**recs[1]["raw"], "latitude": None}
    )


class _Recording:
    """A cursor that notes each ``executemany``'s statement and rows."""

    def __init__(self, cur: Any, sent: list[tuple[str, list[Any]]]) -> None:
        self.cur, self.sent = cur, sent

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self.sent.append((sql, rows))
        return self.cur.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)


def test_history_rows_are_written_in_key_order_and_store_the_same(
    tmp_path: Path,
) -> None:
    """A batch's versions and presence spans (inserted and extended) go to
    SQLite in the calls' ``call_key`` order (their primary keys lead with it:
    the pages are walked once, in order, and a new call's rows are appended),
    the calls rows in the order given (which gives their call keys); the store
    is the one written from the same records in key order (but for the call
    keys' numbering)."""
    feed = FEEDS[1]  # a live listing: its calls have presence spans
    order = [(i * 37) % 60 for i in range(60)]  # every key once, shuffled
    assert sorted(order) != order and sorted(order) == list(range(60))

    def batches(keys: list[int]) -> list[list[dict[str, Any]]]:
        def one(i: int, t: str, run: str, version: int) -> dict[str, Any]:
            return synthetic_records(feed, range(i, i + 1), t, run, version)[0]

        return [
            [one(i, "2026-01-01T00:00:00Z", "r1", 0) for i in keys],
            # 0..29 seen again, the even ones changed: versions added and extended
            [one(i, "2026-01-01T00:05:00Z", "r2", i % 2) for i in keys if i < 30],
        ]

    sent: list[tuple[str, list[Any]]] = []
    for name, keys in (("shuffled", order), ("sorted", sorted(order))):
        store = new_store(tmp_path / f"{name}.sqlite")
        if name == "shuffled":
            transaction = store.transaction

            @contextlib.contextmanager
            def recorded(feed_id: Any = None, transaction: Any = transaction) -> Any:
                with transaction(feed_id) as cur:
                    yield _Recording(cur, sent)

            store.transaction = recorded  # type: ignore[method-assign]
        for recs in batches(keys):
            store.write_records(recs, [record_json(r) for r in recs])
        store.close()
    assert dump(tmp_path / "shuffled.sqlite") == dump(tmp_path / "sorted.sqlite")
    seen: dict[str, list[list[str]]] = {}
    for sql, rows in sent:
        words = sql.split()
        if words[0] == "INSERT" and words[2] == "calls":
            at = sql.split("(")[1].split(")")[0].split(", ").index("record_key")
            seen.setdefault("calls", []).append([r[at] for r in rows])
        elif words[0] == "INSERT":
            seen.setdefault(f"new {words[2]}", []).append([r[0] for r in rows])
        elif words[0] == "UPDATE" and words[1] in ("observations", "presence"):
            seen.setdefault(f"extend {words[1]}", []).append([r[1] for r in rows])
    keys = [f"SYN{i:07d}" for i in order]
    # calls: new in the first batch, held in the second (the upsert)
    assert seen["calls"] == [keys, [k for k in keys if int(k[3:]) < 30]]
    assert set(seen) == {
        "calls",
        "new observations",
        "new presence",
        "extend observations",
        "extend presence",
    }
    for kind, lists in seen.items():
        if kind != "calls":
            assert all(got == sorted(got) and len(got) > 1 for got in lists), kind
    # new versions: every call, then the 15 changed
    assert [len(v) for v in seen["new observations"]] == [60, 15]
    # the new calls' keys rise in the order the calls came: their versions and
    # spans are appended
    assert seen["new observations"][0] == list(range(1, 61))
    assert seen["new presence"][0] == list(range(1, 61))
