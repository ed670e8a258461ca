"""The store keeps each raw record compressed and each response URL once; what
it gives back is exactly what was published, and it stays small.

Every bundled capture is replayed (the session's ``replayed`` store, with its
per-run JSON Lines): each stored version's raw record, read back through the
store (``cfs_raw``, ``Store.raw_versions``, ``cfs raw``), is the very text the
crawl wrote for that record, and the store's bytes per call stay under a bound.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cfs_spiders.records.encoding import change_hash, raw_json
from cfs_spiders.store.base import CALLS_FROM, OBSERVATIONS_FROM, RAW_DICTS_FROM  # noqa: F401
from cfs_spiders.store.connect import open_store
from cfs_spiders.store.raw import (
    Compressor,
    RawRecordError,
    build_zdict,
    inflate,
    install_sql_function,
)
from tests.conftest import run_cfs

# the tables (and their indexes) that grow with calls
PER_CALL = ("calls", "observations", "presence", "sources", "raw_dicts")


def _published(output: Path) -> dict[tuple[str, str, str], str]:
    """(feed, key, fetch time) -> the raw text of the first record the crawl
    wrote for it, from the per-run JSON Lines."""
    found: dict[tuple[str, str, str], str] = {}
    for path in sorted((output / "runs").glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            at = (rec["feed_id"], rec["record_key"], rec["fetched_at"])
            found.setdefault(at, raw_json(rec, line))
    return found


def test_every_raw_record_reads_back_as_published(replayed: dict) -> None:
    published = _published(replayed["output"])
    store = open_store(replayed["db"])
    try:
        versions = list(store.raw_versions())
        feeds = {r["feed_id"] for r in store.query(f"SELECT feed_id FROM {CALLS_FROM}")}
    finally:
        store.close()
    assert len(feeds) >= 25  # every bundled capture that stores calls
    assert {v.feed_id for v in versions} == feeds
    for v in versions:
        text = published[(v.feed_id, v.record_key, v.fetched_at)]
        assert v.raw_json == text, (v.feed_id, v.record_key, v.fetched_at)
        assert v.values_hash == change_hash(json.loads(text))
    # the SQL function of a plain connection reads the same texts
    conn = sqlite3.connect(replayed["db"])
    install_sql_function(conn)
    via_sql = conn.execute(
        f"SELECT cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM} "
        "ORDER BY feed_id, record_key, fetched_at"
    ).fetchall()
    conn.close()
    assert [r[0] for r in via_sql] == [v.raw_json for v in versions]


def test_the_raw_is_compressed_and_the_store_small(replayed: dict) -> None:
    """The bound: on these captures what grows with calls measured 1,333 bytes
    a call (1,899 with schema 2: the raw as JSON text, the URL in every call,
    16 KiB pages both); it must stay under 1,450, and the raw records take
    under 40% of their text."""
    conn = sqlite3.connect(replayed["db"])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n_calls = conn.execute(f"SELECT COUNT(*) FROM {CALLS_FROM}").fetchone()[0]
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE tbl_name IN "
        f"({', '.join('?' * len(PER_CALL))})",
        PER_CALL,
    ).fetchall()
    marks = ", ".join("?" * len(names))
    (size,) = conn.execute(
        f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})",
        [n[0] for n in names],
    ).fetchone()
    install_sql_function(conn)
    packed, text = conn.execute(
        "SELECT SUM(length(raw_deflate)), "
        f"SUM(length(CAST(cfs_raw(raw_dict, raw_deflate) AS BLOB))) FROM {OBSERVATIONS_FROM}"
    ).fetchone()
    urls, distinct = conn.execute(
        f"SELECT COUNT(source_url), COUNT(DISTINCT source_url) FROM {CALLS_FROM}"
    ).fetchone()
    (sources,) = conn.execute("SELECT COUNT(*) FROM sources").fetchone()
    conn.close()
    assert n_calls > 30_000
    assert size / n_calls < 1_450, size / n_calls
    assert packed < 0.4 * text, (packed, text)
    assert urls == n_calls and sources == distinct < n_calls / 50


def test_cfs_raw_prints_each_version_as_published(replayed: dict) -> None:
    feed = "tx_dallas_police_active_calls"
    proc = run_cfs("--db", str(replayed["db"]), "raw", feed)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    published = _published(replayed["output"])
    assert len(lines) == 45
    for line in lines:
        text = published[(feed, line["record_key"], line["fetched_at"])]
        assert line["raw"] == json.loads(text)
        assert proc.stdout.count(f'"raw": {text}}}') >= 1
    one = run_cfs("--db", str(replayed["db"]), "raw", feed, lines[0]["record_key"])
    assert one.stdout.splitlines() == proc.stdout.splitlines()[:1]
    missing = run_cfs("--db", str(replayed["db"]), "raw", feed, "no-such", check=False)
    assert missing.returncode == 1 and "no stored versions" in missing.stderr


def test_a_damaged_raw_record_is_refused_naming_it(
    replayed: dict, tmp_path: Path
) -> None:
    """A truncated blob raises naming the row; a dictionary that is not the one
    the records were compressed with (synthetic damage to a copy of the store)
    is caught by the versions' change hashes, never read as other text."""
    texts = ['{"a":"synthetic","n":1}', '{"a":"synthetic","n":2}']
    zdict = build_zdict(texts)
    blob = Compressor(zdict)(texts[1])
    assert inflate(blob, zdict) == texts[1]
    with pytest.raises(RawRecordError, match="feed/key"):
        inflate(blob[:-2], zdict, "feed/key")
    db = tmp_path / "damaged.sqlite"
    src = sqlite3.connect(replayed["db"])
    dst = sqlite3.connect(db)
    src.backup(dst)
    src.close()
    feed = "tx_dallas_police_active_calls"
    dict_id, good = dst.execute(
        f"SELECT dict_id, zdict FROM {RAW_DICTS_FROM} WHERE feed_id = ?", (feed,)
    ).fetchone()
    bad = good[:-400] + bytes(b ^ 0x20 for b in good[-400:])  # case flipped
    dst.execute("UPDATE raw_dicts SET zdict = ? WHERE dict_id = ?", (bad, dict_id))
    dst.commit()
    dst.close()
    store = open_store(db)
    try:
        with pytest.raises(RawRecordError, match=f"{feed}/"):
            list(store.raw_versions(feed))
    finally:
        store.close()
