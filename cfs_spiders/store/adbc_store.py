"""The SQLite store as the writer process opens it: the same store
(``sqlite.Store``), its connection through SQLite's ADBC driver
(``adbc_conn.py``), so that a batch's calls rows are bound from their Arrow
columns in C (``binds_arrow``: ``write.RecordWriter._insert_many``).

Only the writer process opens it, and nothing else in that process opens the
store (the driver's copy of SQLite and ``sqlite3``'s must not share a process).
It has no ``cfs_raw`` SQL function: the writer reads raw records as blobs."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from .sqlite import Store, cache_kib


def available() -> bool:
    """Whether the writer process writes through ADBC: the driver is installed
    and ``CFS_WRITER_ADBC`` is not ``0`` (then it writes through ``sqlite3``)."""
    if os.environ.get("CFS_WRITER_ADBC", "1") == "0":
        return False
    return importlib.util.find_spec("adbc_driver_sqlite") is not None


class AdbcStore(Store):
    """``sqlite.Store`` over an ADBC connection."""

    binds_arrow = True
    driver = "adbc"

    def _connect(self) -> Any:
        from .adbc_conn import Connection

        conn = Connection(str(self.path))
        for pragma in (
            f"page_size={int(self.page_size)}",
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=60000",
            f"cache_size=-{cache_kib()}",
        ):
            conn.execute(f"PRAGMA {pragma}").fetchall()
        return conn
