"""The lookup of a batch's stored call states (``store.call_states``): every key
found, whichever way it is bound. Synthetic keys, including one holding NUL, which
SQLite's JSON functions cut short (the CI failure this test pins: the key was not
found, so the writer inserted the call again and hit the unique index)."""

from __future__ import annotations

import sqlite3

import pytest

from cfs_spiders.store.call_states import call_states

KEYS = ["a", "b\x00c", "b", "\x00", "ünï", "x" * 300, '"quoted"', "back\\slash"]


@pytest.fixture
def cur():
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE calls (feed_key INTEGER, record_key TEXT, values_hash BLOB, "
        "last_seen TEXT, call_key INTEGER, UNIQUE (feed_key, record_key))"
    )
    rows = [(1, k, k.encode(), f"t{i}", i) for i, k in enumerate(KEYS)]
    rows.append((2, "a", b"other feed", "t", 99))
    db.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?)", rows)
    yield db.cursor()
    db.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_every_stored_key_is_found_and_no_other(cur, dialect):
    wanted = [*KEYS, "missing", "miss\x00ing"]
    got = call_states(cur, dialect, "?", lambda s: s, 1, wanted)
    assert got == {k: (k.encode(), f"t{i}", i) for i, k in enumerate(KEYS)}


def test_keys_with_nul_alone_and_many_keys(cur):
    assert call_states(cur, "sqlite", "?", lambda s: s, 1, ["b\x00c"]) == {
        "b\x00c": (b"b\x00c", "t1", 1)
    }
    many = [f"k{i}" for i in range(1200)] + ["a"]
    assert set(call_states(cur, "postgres", "?", lambda s: s, 1, many)) == {"a"}
    assert call_states(cur, "sqlite", "?", lambda s: s, 1, []) == {}
