"""calls.csv read in key ranges on two connections (``exports/key_ranges.py``):
the ranges cover every call once, in key order, whatever the keys hold (quotes,
unicode, a NUL); a commit by another connection while the ranges are read is
noticed, and the export is read again on one connection. The calls here are
synthetic."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from cfs_spiders.exports import calls_csv, key_ranges
from cfs_spiders.store.sqlite import Store

sys.path.insert(0, str(Path(__file__).parent))
from test_export_identity import NAMES, cycled, insert_calls  # noqa: E402

ODD_KEYS = ["a'b", "''", "é", "東京", "Z", "a", "a b", "'", "z'", "~", "0", "k\ud7ff"]


def keyed_store(path: Path, keys: list[str], feeds: tuple[str, ...]) -> Store:
    store = Store(path)
    conn = sqlite3.connect(path)
    rows = cycled(len(keys) * len(feeds))
    i = 0
    for feed in feeds:
        for key in keys:
            conn.execute("INSERT OR IGNORE INTO feeds (feed_id) VALUES (?)", (feed,))
            insert_calls(conn, [rows[i]], "?")
            conn.execute(
                "UPDATE calls SET feed_key = (SELECT feed_key FROM feeds WHERE "
                "feed_id = ?), record_key = ? WHERE record_key = ?",
                (feed, key, "K000000"),
            )
            i += 1
    conn.commit()
    conn.close()
    return store


def files(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in NAMES}


@pytest.mark.parametrize("range_rows", [1, 2, 5, 1000])
def test_ranges_cover_every_call_once_in_key_order(tmp_path, range_rows):
    store = keyed_store(tmp_path / "cfs.sqlite", ODD_KEYS, ("aa_one", "zz_two"))
    try:
        calls_csv.export_calls_rows(store, tmp_path / "rows")
        calls_csv.export_calls_batches(
            store,
            tmp_path / "ranges",
            batch_rows=2,
            range_rows=range_rows,
            ranges_from=0,
        )
        assert files(tmp_path / "ranges") == files(tmp_path / "rows")
        bounds = key_ranges.key_bounds(store, range_rows)
        assert bounds is not None
        n = len(ODD_KEYS) * 2
        assert len(bounds) == (n - 1) // range_rows
        feeds = key_ranges.feeds_with_calls(store)
        assert feeds == ["aa_one", "zz_two"]
        # a range holding the start of the second feed is read as two (a range
        # is within one feed: one seek on the primary key (feed_key, record_key))
        conditions = key_ranges.range_conditions(bounds, feeds)
        assert len(conditions) == len(bounds) + 1 + (1 if bounds else 0)
    finally:
        store.close()


def test_a_key_with_a_nul_reads_on_one_connection(tmp_path):
    store = keyed_store(tmp_path / "cfs.sqlite", ["a", "b\x00c", "d"], ("aa_one",))
    try:
        assert key_ranges.key_bounds(store, 1) is None
        calls_csv.export_calls_rows(store, tmp_path / "rows")
        calls_csv.export_calls_batches(
            store, tmp_path / "b", range_rows=1, ranges_from=0
        )
        assert files(tmp_path / "b") == files(tmp_path / "rows")
    finally:
        store.close()


def test_a_commit_while_the_ranges_are_read_reads_again(tmp_path, monkeypatch):
    path = tmp_path / "cfs.sqlite"
    store = keyed_store(path, [f"k{i:03d}" for i in range(40)], ("aa_one",))
    real = Store.iter_batches
    reads, commits = [], []

    def committing(self, sql, rows=8192):
        reads.append(sql)
        if len(reads) == 3:  # the keys, one range, then another process writes
            commits.append(sql)
            with sqlite3.connect(path) as conn:
                conn.execute(
                    "UPDATE calls SET address = ? WHERE rowid = 1",
                    (f"changed {len(commits)}",),
                )
        return real(self, sql, rows)

    monkeypatch.setattr(Store, "iter_batches", committing)
    try:
        with pytest.raises(key_ranges.StoreChanged):
            calls_csv.export_calls_batches(
                store, tmp_path / "b", range_rows=8, ranges_from=0
            )
        assert not (tmp_path / "b" / "calls.csv").exists()  # nothing half written
        reads.clear()  # the same commit while export_calls reads its ranges
        calls_csv.export_calls(store, tmp_path / "auto", range_rows=8, ranges_from=0)
        # the keys, five ranges (the commit after the first), then one stream
        assert len(reads) == 7 and "WHERE" in reads[1] and "WHERE" not in reads[-1]
        calls_csv.export_calls_rows(store, tmp_path / "rows")
        assert files(tmp_path / "auto") == files(tmp_path / "rows")
        assert b"changed 2" in files(tmp_path / "auto")["calls.csv"]
    finally:
        store.close()
