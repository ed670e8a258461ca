"""Change-only history: a version per change of what the feed published, presence
spans per call, in any commit order.

The store's tables are checked against a brute-force reading of every sighting
(synthetic runs, named so), against the real Clearwater capture written in
shuffled orders, and the change hash against golden values committed once.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cfs_spiders.config.loader import get_config
from cfs_spiders.records.encoding import canonical_bytes, change_hash
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_FROM,
    RUNS_FROM,
)
from cfs_spiders.store.connect import open_store
from cfs_spiders.store.history import (
    Span,
    Version,
    add_presence,
    add_version,
    cut_presence,
)
from tests.test_lifecycle import CLEARWATER, clearwater_snapshots

PORTLAND = "or_portland_boec_911_incidents"  # a recent-window board
SF = "ca_san_francisco_police_calls_legacy"  # history: not a listing


# ------------------------------------------------------------ the change hash
def test_change_hash_golden_values() -> None:
    """Stores keep these hashes: the hashed bytes and the hash must never
    change. Each case: the raw record, its canonical bytes (keys sorted, compact,
    UTF-8) and blake2b-128 of them, computed once and committed."""
    cases = [
        (
            {"Master_Incident_Number": "121325-00081", "Address": "100 MAIN ST"},
            b'{"Address":"100 MAIN ST","Master_Incident_Number":"121325-00081"}',
            "5bcf0c3ddd6344a019c066ac2f82de93",
        ),
        (
            {"units": [{"t": 1.5, "id": "E1"}, {"id": "M2", "t": None}]},
            b'{"units":[{"id":"E1","t":1.5},{"id":"M2","t":null}]}',
            "922179e170827474def4dc797ee5a631",
        ),
        (
            {"n": 29561602, "addr": "CALLE \u00d1AND\u00da"},
            '{"addr":"CALLE \u00d1AND\u00da","n":29561602}'.encode(),
            "695335930636458e0a21b5429e43541a",
        ),
        (
            [{"unit": "A1"}, {"unit": "B2"}],
            b'[{"unit":"A1"},{"unit":"B2"}]',
            "f3901c2838c17c3e3bf109221fdac993",
        ),
        ({"x": float("nan")}, b'{"x":NaN}', "58dda689610aaee360d0beb3f30775af"),
        ({}, b"{}", "2afb9b83f9314e5d029766197f539792"),
    ]
    for raw, text, digest in cases:
        assert canonical_bytes(raw) == text
        assert change_hash(raw) == digest


def test_canonical_bytes_ignore_key_order_only() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": None}}
    b = {"a": {"x": None, "y": [1, 2]}, "b": 1}
    assert (
        canonical_bytes(a) == canonical_bytes(b) == b'{"a":{"x":null,"y":[1,2]},"b":1}'
    )
    assert change_hash(a) == change_hash(b)
    # what was published differs: the hash differs
    assert change_hash({"n": 1}) != change_hash({"n": "1"})
    assert change_hash({"n": 1}) != change_hash({"n": 1.0})
    assert change_hash([1, 2]) != change_hash([2, 1])
    assert change_hash({"x": None}) != change_hash({})
    # orjson cannot write these; json does, the same way every time
    assert canonical_bytes({"big": 2**70}) == b'{"big":1180591620717411303424}'
    assert canonical_bytes({1: "a"}) == b'{"1":"a"}'
    assert canonical_bytes({"s": "\ud800"}) == '{"s":"\ud800"}'.encode(
        "utf-8", "surrogatepass"
    )


# ------------------------------------------------- the span rules, in any order
def test_span_rules_by_hand() -> None:
    v = [Version("t1", "t3", "A")]
    assert add_version(v, "t2", "A") == v  # inside, same values
    assert add_version(v, "t4", "A") == [Version("t1", "t4", "A")]
    assert add_version(v, "t4", "B") == [*v, Version("t4", "t4", "B")]
    assert add_version(v, "t0", "A") == [Version("t0", "t3", "A")]
    assert add_version(v, "t3", "B") == v  # same time, other values: first stands
    # a change inside a run breaks it at the nearest known sightings
    inner = {("t1", "t2"): [], ("t2", "t3"): []}
    assert add_version(v, "t2", "B", lambda a, b: inner[(a, b)]) == [
        Version("t1", "t1", "A"),
        Version("t2", "t2", "B"),
        Version("t3", "t3", "A"),
    ]
    assert add_version(v, "t5", None) == [Version("t1", "t5", "A")]  # id only
    assert add_version([], "t5", None) == []
    s = [Span("t1", "t3")]
    assert add_presence(s, "t4", lambda a, b: False) == [Span("t1", "t4")]
    assert add_presence(s, "t5", lambda a, b: True) == [*s, Span("t5", "t5")]
    assert cut_presence(s, "t2", lambda a, b: []) == [
        Span("t1", "t1"),
        Span("t3", "t3"),
    ]


def _iso(minute: int) -> str:
    return f"2025-12-13T{minute // 60:02d}:{minute % 60:02d}:00Z"


def synthetic_runs(seed: int, n_runs: int = 24, complete: float = 1.0) -> list[dict]:
    """Synthetic runs of a board of six calls (not captured data): each run a
    fetch time, the calls on it with their published values, and whether it was
    a complete listing."""
    rnd = random.Random(seed)
    values: dict[str, str] = {}
    runs = []
    for i in range(n_runs):
        on = {}
        for key in (f"K{j}" for j in range(6)):
            if rnd.random() < 0.6:
                if key not in values or rnd.random() < 0.3:
                    values[key] = rnd.choice("abc")
                on[key] = values[key]
        runs.append({"t": _iso(5 * i), "on": on, "complete": rnd.random() < complete})
    return runs


def _record(feed_id: str, key: str, t: str, value: str) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "record_key": key,
        "call_id": key,
        "fetched_at": t,
        "run_id": f"run-{t}",
        "status": "dispatched",
        "status_basis": "derived_from_timestamps",
        "config_version": 1,
        "raw": {"id": key, "v": value},
    }


def truth(runs: list[dict], feed_id: str, board: bool) -> dict[str, Any]:
    """Every table the history keeps, read straight from all the sightings."""
    listings = sorted(r["t"] for r in runs if r["complete"] and board)
    seen: dict[str, list[tuple[str, str]]] = {}
    for r in sorted(runs, key=lambda r: r["t"]):
        for key, value in r["on"].items():
            seen.setdefault(key, []).append((r["t"], value))
    versions, presence, calls = [], [], []
    for key, sights in sorted(seen.items()):
        for t, value in sights:
            digest = change_hash({"id": key, "v": value})
            if versions and versions[-1][0] == key and versions[-1][4] == digest:
                versions[-1] = (*versions[-1][:2], t, versions[-1][3], digest)
            else:
                versions.append((key, t, t, f"run-{t}", digest))
        if board:
            span = [sights[0][0], sights[0][0]]
            for t, _ in sights[1:]:
                if any(span[1] < x < t for x in listings):
                    presence.append((key, *span))
                    span = [t, t]
                else:
                    span[1] = t
            presence.append((key, *span))
        last = sights[-1][0]
        gone = next((x for x in listings if x > last), None)
        calls.append((key, sights[0][0], last, gone))
    return {"versions": versions, "presence": presence, "calls": calls}


def stored(store: Any, feed_id: str) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple]:
        # the store keeps the change hash as its 16 bytes: compare its hex
        return [
            tuple(
                bytes(v).hex() if isinstance(v, bytes | memoryview) else v
                for v in r.values()
            )
            for r in store.query(sql, (feed_id,))
        ]

    return {
        "versions": rows(
            "SELECT record_key, fetched_at, last_seen, run_id, values_hash FROM "
            f"{OBSERVATIONS_FROM} WHERE feed_id = ? ORDER BY record_key, fetched_at"
        ),
        "presence": rows(
            f"SELECT record_key, first_seen, last_seen FROM {PRESENCE_FROM} WHERE feed_id = ? "
            "ORDER BY record_key, first_seen"
        ),
        "calls": rows(
            f"SELECT record_key, first_seen, last_seen, disappeared_at FROM {CALLS_FROM} "
            "WHERE feed_id = ? ORDER BY record_key"
        ),
    }


def write_runs(store: Any, feed_id: str, board: str, runs: list[dict]) -> None:
    for r in runs:
        records = [_record(feed_id, k, r["t"], v) for k, v in r["on"].items()]
        store.write_records(records)
        if r["complete"]:
            store.mark_disappeared(feed_id, r["t"], board, keys=set(r["on"]))


@pytest.mark.parametrize("seed", range(12))
def test_board_history_is_the_same_in_any_commit_order(seed: int, tmp_path: Path):
    """Every run a complete listing: versions, presence and life cycle are
    exactly what all the sightings say, whatever order the runs commit in, and
    writing them all again changes nothing."""
    runs = synthetic_runs(seed)
    expected = truth(runs, CLEARWATER, board=True)
    order = list(runs)
    if seed % 3 == 1:
        order.reverse()
    elif seed % 3 == 2:
        random.Random(seed).shuffle(order)
    store = open_store(tmp_path / "cfs.sqlite")
    store.register_feeds([get_config(CLEARWATER)])
    write_runs(store, CLEARWATER, "active_calls", order)
    got = stored(store, CLEARWATER)
    if seed % 3 == 0:  # in order: run ids are those of the first sightings
        assert got == expected
    else:  # a restored run of values keeps its first-known run id
        strip = lambda d: {**d, "versions": [v[:3] + v[4:] for v in d["versions"]]}  # noqa: E731
        assert strip(got) == strip(expected)
    write_runs(store, CLEARWATER, "active_calls", runs)
    assert stored(store, CLEARWATER)["calls"] == got["calls"]
    assert stored(store, CLEARWATER)["presence"] == got["presence"]
    assert len(stored(store, CLEARWATER)["versions"]) == len(got["versions"])
    store.close()


@pytest.mark.parametrize("seed", range(4))
def test_partial_reads_and_other_feeds_in_order(seed: int, tmp_path: Path) -> None:
    """Runs in order, a third of them partial (no listing): exact. A feed that is
    not a listing keeps versions and no presence."""
    runs = synthetic_runs(100 + seed, complete=0.66)
    store = open_store(tmp_path / "cfs.sqlite")
    store.register_feeds([get_config(CLEARWATER), get_config(SF)])
    write_runs(store, CLEARWATER, "active_calls", runs)
    assert stored(store, CLEARWATER) == truth(runs, CLEARWATER, board=True)
    for r in runs:
        r["complete"] = False
    write_runs(store, SF, "history", runs)
    assert stored(store, SF) == truth(runs, SF, board=False)
    store.close()


def test_clearwater_shuffled_gives_the_same_tables(tmp_path: Path) -> None:
    """The real capture's 52 snapshots, in order and in two shuffled orders."""
    snaps = clearwater_snapshots()
    results = []
    for seed in (None, 5, 6):
        store = open_store(tmp_path / f"cw-{seed}.sqlite")
        store.register_feeds([get_config(CLEARWATER)])
        order = list(snaps)
        if seed is not None:
            random.Random(seed).shuffle(order)
        for t, calls in order:
            key = "Master_Incident_Number"
            store.write_records(
                [{**_record(CLEARWATER, c[key], t, ""), "raw": c} for c in calls]
            )
            store.mark_disappeared(
                CLEARWATER, t, "active_calls", keys={c[key] for c in calls}
            )
        got = stored(store, CLEARWATER)
        got["versions"] = [v[:3] + v[4:] for v in got["versions"]]
        results.append(got)
        store.close()
    assert results[0] == results[1] == results[2]
    assert len(results[0]["versions"]) == 167


DALLAS = "tx_dallas_police_active_calls"


def _poll_folder(folder: Path, minutes: range) -> Path:
    """A replay folder holding Dallas's one real capture as the answer of polls
    every 5 minutes (the same bytes each time: an unchanged board)."""
    import shutil
    from datetime import datetime, timedelta, timezone

    src = Path(__file__).parent / "fixtures" / DALLAS
    feed = folder / DALLAS
    feed.mkdir(parents=True)
    shutil.copy(src / "are8-xahz.csv", feed)
    t0 = datetime(2018, 1, 9, 9, 26, tzinfo=timezone(timedelta(hours=-6)))
    lines = ["snapshots:"]
    for i in minutes:
        when = (t0 + timedelta(minutes=5 * i)).isoformat()
        lines += [
            f"  - captured_at: {when}",
            "    responses:",
            "      - file: are8-xahz.csv",
            "        content_type: text/csv",
        ]
    (feed / "manifest.yaml").write_text("\n".join(lines) + "\n")
    return folder


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def test_100_unchanged_polls_of_dallas_grow_the_store_little(tmp_path: Path) -> None:
    """Dallas's real board (45 calls) polled 101 times, unchanged: 45 versions,
    every sighting as presence, and the 100 later polls add < 200 KB (a run row
    and a listing each; no copy of any record)."""
    from tests.conftest import run_cfs

    db = tmp_path / "cfs.sqlite"

    def crawl(folder: Path) -> None:
        run_cfs(
            "--db",
            str(db),
            "--output",
            str(tmp_path / "out"),
            "crawl",
            DALLAS,
            "--replay",
            str(folder),
            "--no-jsonl",
        )

    crawl(_poll_folder(tmp_path / "first", range(1)))
    one_poll = _size(db)
    crawl(_poll_folder(tmp_path / "later", range(1, 101)))
    grown = _size(db) - one_poll
    store = open_store(db)
    try:
        versions = store.query(f"SELECT COUNT(*) AS n FROM {OBSERVATIONS_FROM}")[0]["n"]
        runs = store.query(
            f"SELECT COUNT(*) AS n, SUM(new_observations) AS v FROM {RUNS_FROM}"
        )
        spans = store.query(
            "SELECT COUNT(*) AS n, MIN(first_seen) AS a, MAX(last_seen) AS b "
            f"FROM {PRESENCE_FROM}"
        )[0]
        listed = store.query(
            f"SELECT COUNT(*) AS n FROM {CALLS_FROM} WHERE disappeared_at IS NULL"
        )[0]["n"]
    finally:
        store.close()
    assert versions == 45 and listed == 45
    assert (runs[0]["n"], runs[0]["v"]) == (101, 45)
    assert (spans["n"], spans["a"], spans["b"]) == (
        45,
        "2018-01-09T15:26:00Z",
        "2018-01-09T23:46:00Z",
    )
    print(f"100 unchanged polls of 45 calls: +{grown} bytes ({grown / 100:.0f}/poll)")
    assert grown < 200_000


def test_a_listing_reads_only_open_calls(tmp_path: Path) -> None:
    """The statements a listing runs read the partial indexes of open and gone
    calls (never a scan of the feed's history): SQLite's plan says so."""
    store = open_store(tmp_path / "cfs.sqlite")
    store.register_feeds([get_config(CLEARWATER)])
    runs = synthetic_runs(3)
    write_runs(store, CLEARWATER, "active_calls", runs)
    plans = []
    original = store.conn.cursor

    class Explaining:
        def __init__(self) -> None:
            self.cur = original()

        def execute(self, sql: str, params: Any = ()) -> Any:
            if sql.startswith(
                ("UPDATE calls SET disappeared_at", "SELECT record_key, first_seen")
            ):
                plan = original().execute("EXPLAIN QUERY PLAN " + sql, params)
                plans.append((sql, " ".join(str(r[-1]) for r in plan.fetchall())))
            return self.cur.execute(sql, params)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cur, name)

    store.conn = type(
        "Conn", (), {"cursor": lambda self: Explaining(), "close": lambda s: None}
    )()
    store.mark_disappeared(CLEARWATER, _iso(5 * 30), "active_calls", keys={"K1"})
    assert len(plans) == 3, plans
    for sql, plan in plans:
        assert "SCAN" not in plan, (sql, plan)
        if "disappeared_at IS NULL" in sql:
            assert "calls_open" in plan, plan
        elif sql.startswith("UPDATE"):
            assert "calls_gone" in plan, plan
        else:
            assert "presence_last_seen" in plan, plan


def test_history_tables_keep_their_key_once(tmp_path: Path) -> None:
    """On SQLite the history tables are clustered on their primary key (WITHOUT
    ROWID): no second b-tree holding the key again, about 80 bytes a version."""
    import sqlite3

    store = open_store(tmp_path / "cfs.sqlite")
    store.close()
    conn = sqlite3.connect(tmp_path / "cfs.sqlite")
    try:
        rows = dict(
            conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            ).fetchall()
        )
        autoindexes = {
            r[0]
            for r in conn.execute(
                "SELECT tbl_name FROM sqlite_master WHERE name LIKE 'sqlite_autoindex%'"
            )
        }
    finally:
        conn.close()
    for table in ("observations", "presence", "listings"):
        assert rows[table].rstrip().endswith("WITHOUT ROWID"), table
        assert table not in autoindexes
    assert "calls" in autoindexes  # wide rows keep their rowid table
