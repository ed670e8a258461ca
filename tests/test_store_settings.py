"""The store's page-cache setting (``CFS_SQLITE_CACHE_MIB``): a bad value is
refused with the variable's name, a good one reaches SQLite."""

from __future__ import annotations

import pytest

from cfs_spiders.store.sqlite import Store


def test_the_cache_setting_reaches_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("CFS_SQLITE_CACHE_MIB", "16")
    store = Store(tmp_path / "cfs.sqlite")
    try:
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -16 * 1024
    finally:
        store.close()


@pytest.mark.parametrize("value", ["lots", "0", "100000"])
def test_a_bad_cache_setting_is_refused_by_name(tmp_path, monkeypatch, value):
    monkeypatch.setenv("CFS_SQLITE_CACHE_MIB", value)
    with pytest.raises(ValueError, match="CFS_SQLITE_CACHE_MIB"):
        Store(tmp_path / "cfs.sqlite")
