"""Where output and the store are: one reading of a store URL (SQLAlchemy's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cfs_spiders.config.paths import DEFAULT_SQLITE, store_target
from cfs_spiders.normalize.text import to_text
from cfs_spiders.store.base import CALLS_FROM  # noqa: F401
from cfs_spiders.store.connect import open_store


def test_store_url_follows_sqlalchemy() -> None:
    assert store_target("sqlite:///rel.db") == ("sqlite", Path("rel.db"))
    assert store_target("sqlite:///sub/rel.db") == ("sqlite", Path("sub/rel.db"))
    assert store_target("sqlite:////abs/x.db") == ("sqlite", Path("/abs/x.db"))
    assert store_target("/abs/x.db") == ("sqlite", Path("/abs/x.db"))
    assert store_target("out/x.db") == ("sqlite", Path("out/x.db"))
    url = "postgresql://u@127.0.0.1:5432/db"
    assert store_target(url) == ("postgresql", url)
    assert store_target("postgres://h/db")[0] == "postgresql"
    with pytest.raises(ValueError, match="sqlite:///relative.db"):
        store_target("sqlite://")


def test_store_url_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CFS_DATABASE_URL", raising=False)
    assert store_target(None) == ("sqlite", DEFAULT_SQLITE)
    monkeypatch.setenv("CFS_DATABASE_URL", "sqlite:///x.db")
    assert store_target(None) == ("sqlite", Path("x.db"))


def test_open_store_reads_a_relative_sqlite_url_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel/cfs.sqlite")
    store.close()
    assert (tmp_path / "rel" / "cfs.sqlite").is_file()
    absolute = tmp_path / "abs.sqlite"
    store = open_store(f"sqlite:///{absolute}")  # four slashes: /tmp/... absolute
    store.close()
    assert (
        sqlite3.connect(absolute)
        .execute(f"SELECT COUNT(*) FROM {CALLS_FROM}")
        .fetchone()
    )


def test_to_text() -> None:
    assert to_text(None) is None
    assert to_text(" a ") == " a "
    assert to_text(12.0) == "12"
    assert to_text(12.5) == "12.5"
    assert to_text(7) == "7"
    assert to_text(b"caf\xc3\xa9 \xff") == "café \ufffd"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError

    assert to_text(Broken()) is None
