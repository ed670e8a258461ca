"""The SQLite store (the default, ``output/cfs.sqlite``): WAL, one transaction per
batch. The tables are described in ``base.py``; the PostgreSQL store
(``postgres.py``) subclasses this one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .arrow_reader import ArrowReaders, BatchReadError
from .base import CALLS_FROM, CALLS_ORDER, SCHEMA_VERSION, ddl
from .feed_state import FeedState
from .lifecycle import ListingLifecycle
from .raw import RawStore
from .write import RecordWriter

DEFAULT_PAGE_SIZE = 16384


def cache_kib() -> int:
    """SQLite's page cache per connection, in KiB: ``CFS_SQLITE_CACHE_MIB``
    (default 64). Each connection has its own, so a crawl with a writer
    process holds it twice."""
    text = os.environ.get("CFS_SQLITE_CACHE_MIB", "64")
    try:
        mib = float(text)
    except ValueError:
        raise ValueError(f"CFS_SQLITE_CACHE_MIB={text!r} is not a number") from None
    if not 1 <= mib <= 4096:
        raise ValueError(f"CFS_SQLITE_CACHE_MIB={text!r} is outside 1..4096")
    return int(mib * 1024)


class StoreVersionError(RuntimeError):
    """The store was written by an earlier version of cfs; reading it as this one
    would misread it. The message names the command that converts it."""


# what each earlier schema was, for the message that refuses it
_EARLIER = {
    1: "an observation row per sighting, the raw record in calls",
    2: "the raw record as JSON text, the response URL in every call",
    3: "the feed and run ids as text in every row",
    4: "the history tables keyed by feed and record key",
}


class Store(RecordWriter, ListingLifecycle, FeedState, RawStore):
    """SQLite store. Subclassed by ``postgres.PostgresStore``."""

    placeholder = "?"
    dialect = "sqlite"
    # whether ``_insert_many`` may bind an Arrow table's columns in C (the
    # writer process's ADBC connection, ``adbc_store.py``), and which driver
    driver = "sqlite3"
    binds_arrow = False
    _readers: ArrowReaders | None = None  # the batch readers, started on demand

    def __init__(
        self, path: Path, *, migrating: bool = False, page_size: int | None = None
    ) -> None:
        self.path = Path(path)
        self.page_size = page_size or DEFAULT_PAGE_SIZE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.conn = self._connect()
        self.create_schema(migrating=migrating)

    # ------------------------------------------------------------ connection
    def _connect(self) -> Any:
        conn = sqlite3.connect(
            self.path, timeout=60, isolation_level=None, check_same_thread=False
        )
        # 16 KiB pages for a new store (an existing one keeps its own): a call
        # and its observation are ~4 KB, and bulk writes run ~25% faster. A
        # small store (``cfs import-git`` of a short history) asks for 4 KiB:
        # each of its ~25 tables and indexes takes one page at least.
        conn.execute(f"PRAGMA page_size={int(self.page_size)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=60000")
        # a page cache of CFS_SQLITE_CACHE_MIB (64 MiB; SQLite's default is 2):
        # a backfill's index pages stay in memory instead of being read again
        # for every batch
        conn.execute(f"PRAGMA cache_size=-{cache_kib()}")
        # the raw records are compressed (raw.py): SELECT cfs_raw(raw_dict,
        # raw_deflate) reads one as JSON text in cfs's own connections
        conn.create_function("cfs_raw", 2, self._sql_raw, deterministic=True)
        return conn

    def close(self) -> None:
        self.close_readers()
        self.conn.close()

    @contextmanager
    def transaction(self, feed_id: str | None = None) -> Iterator[Any]:
        """One atomic unit: all of it lands or none of it does.

        ``feed_id`` serialises the writers of one feed (SQLite's ``BEGIN
        IMMEDIATE`` already serialises every writer; PostgreSQL takes a
        transaction-level advisory lock on the feed), so that a call's life cycle
        comes out the same whatever order concurrent runs commit in.
        """
        with self._lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    def _sql(self, text: str) -> str:
        return text

    # ---------------------------------------------------------------- schema
    def _ddl(self, statements: list[str] | None = None) -> list[str]:
        """``ddl()`` (or ``statements``, an earlier schema's), with the history
        tables as SQLite ``WITHOUT ROWID`` tables: their primary key is the table
        (no second copy of the key in an index), which saves about 80 bytes per
        version and per presence span."""
        return [_without_rowid(stmt) for stmt in statements or ddl()]

    def _tables(self, cur: Any) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in cur.fetchall()}

    def schema_version(self, cur: Any) -> int | None:
        """The schema the store was written with: ``None`` for an empty store, 1
        for a store of cfs before change-only history (no ``store_meta``)."""
        tables = self._tables(cur)
        if "store_meta" in tables:
            cur.execute(
                self._sql("SELECT value FROM store_meta WHERE key = 'schema_version'")
            )
            row = cur.fetchone()
            return int(row[0]) if row else 1
        return 1 if "calls" in tables else None

    def describe(self) -> str:
        return str(self.path)

    def _check_version(self, cur: Any, migrating: bool) -> bool:
        """Refuse a store of another schema (unless migrating); True when the
        store is new or current."""
        version = self.schema_version(cur)
        if version is None or version == SCHEMA_VERSION:
            return True
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"store {self.describe()} has schema {version}, newer than this cfs "
                f"({SCHEMA_VERSION}): upgrade cfs to read it"
            )
        if migrating:
            return False
        raise StoreVersionError(
            f"store {self.describe()} was written by an earlier cfs (schema "
            f"{version}: {_EARLIER.get(version, 'an older layout')}); this cfs "
            "keeps one row per change with the raw record compressed and integer "
            f"feed, run and call keys (schema {SCHEMA_VERSION}) and will not "
            "misread it. Convert it in place with: "
            f"cfs migrate --db {self.describe()}"
        )

    def create_schema(self, *, migrating: bool = False) -> None:
        with self.transaction() as cur:
            if not self._check_version(cur, migrating):
                return  # ``migrate.py`` converts it
            for stmt in self._ddl():
                cur.execute(stmt)
            self._set_version(cur)

    def _set_version(self, cur: Any) -> None:
        cur.execute(
            self._sql(
                "INSERT INTO store_meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            ),
            (str(SCHEMA_VERSION),),
        )

    # ----------------------------------------------------------------- feeds
    def register_feeds(self, configs: Iterable[Any]) -> None:
        rows = []
        for cfg in configs:
            d = cfg.data
            rows.append(
                (
                    cfg.feed_id,
                    d["agency"],
                    d["city"],
                    d["state"],
                    d["title"],
                    d["platform"],
                    d["liveness"],
                    cfg.board,
                    d["time_zone"],
                    (d.get("urls") or [None])[0],
                    d.get("update_interval_minutes"),
                    cfg.version,
                    d["capture"]["kind"],
                    int(bool(d["verified_against_capture"])),
                )
            )
        p = ", ".join([self.placeholder] * 14)
        sql = self._sql(
            f"""INSERT INTO feeds (feed_id, agency, city, state, title, platform,
 liveness, board, time_zone, live_url, update_interval_minutes, config_version,
 capture_kind, verified_against_capture) VALUES ({p})
ON CONFLICT(feed_id) DO UPDATE SET agency=excluded.agency, city=excluded.city,
 state=excluded.state, title=excluded.title, platform=excluded.platform,
 liveness=excluded.liveness, board=excluded.board, time_zone=excluded.time_zone,
 live_url=excluded.live_url, update_interval_minutes=excluded.update_interval_minutes,
 config_version=excluded.config_version, capture_kind=excluded.capture_kind,
 verified_against_capture=excluded.verified_against_capture"""
        )
        with self.transaction() as cur:
            cur.executemany(sql, rows)

    # --------------------------------------------------------------- reading
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def iter_calls(self, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every call, ordered by feed and key, streamed in batches (with its
        ``source_url`` from ``sources``)."""
        cur = self.conn.cursor()
        cur.execute(f"SELECT * FROM {CALLS_FROM} ORDER BY {CALLS_ORDER}")
        names = [d[0] for d in cur.description]
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            for row in rows:
                yield dict(zip(names, row, strict=True))

    def iter_rows(self, sql: str, batch: int = 5000) -> Iterator[tuple]:
        """The rows of a read-only query as tuples, streamed in batches (an
        export's hot loop: no dict per row)."""
        cur = self.conn.cursor()
        cur.execute(self._sql(sql))
        while rows := cur.fetchmany(batch):
            yield from rows

    def columns(self, table: str) -> list[str]:
        """The columns a table has in this store."""
        cur = self.conn.cursor()
        cur.execute(f"SELECT * FROM {table} LIMIT 0")
        return [d[0] for d in cur.description]

    def column_types(self, source: str) -> dict[str, str]:
        """Each column of ``SELECT * FROM source`` (a table, or tables joined)
        with its declared type (``TEXT``, ``REAL``, ``INTEGER``, upper case;
        ``""`` for none), from the first table named in ``source`` that has
        it: what a typed reader of it may expect."""
        cur = self.conn.cursor()
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        named = sorted(
            (m.start(), t)
            for (t,) in cur.fetchall()
            if (m := re.search(rf"\b{re.escape(t)}\b", source))
        )
        declared: dict[str, str] = {}
        for _, table in named:
            cur.execute(f"PRAGMA table_info({table})")
            for row in cur.fetchall():
                declared.setdefault(row[1], (row[2] or "").upper())
        return {name: declared.get(name, "") for name in self.columns(source)}

    def iter_batches(self, sql: str, rows: int = 8192) -> Iterator[Any] | None:
        """The rows of a read-only query as Arrow record batches of ``rows``
        rows, read by SQLite's ADBC driver in C (no Python object per value), in
        a process of its own on a read-only connection (``arrow_reader``: the
        driver's copy of SQLite must not share this process with ``sqlite3``);
        PostgreSQL: its ADBC driver, a binary ``COPY``. ``None`` when the driver
        is not installed (the caller reads ``iter_rows``).

        The driver takes a column's Arrow type from the first batch (a column
        all NULL there reads as int64) and fails on a later value of another
        type: the query should give each column one type (see
        ``exports/calls_csv.calls_query``). A failure while reading raises
        ``BatchReadError``, so that the caller can read the rows again another
        way."""
        if self.dialect == "postgresql":  # its store subclasses this one
            try:
                import adbc_driver_postgresql.dbapi as adbc_pg
            except ImportError:
                return None
            return _adbc_batches(adbc_pg, self.url, sql)
        if importlib.util.find_spec("adbc_driver_sqlite") is None:
            return None
        if self._readers is None:
            self._readers = ArrowReaders(self.path)
        return self._readers.batches(sql, rows)

    def close_readers(self) -> None:
        """End the processes that read batches (``iter_batches``), if any."""
        if self._readers is not None:
            self._readers.close()

    def counts(self) -> dict[str, int]:
        rows = self.query(
            "SELECT feed_id, n FROM feeds JOIN (SELECT feed_key, COUNT(*) AS n FROM "
            "calls GROUP BY feed_key) AS n USING (feed_key)"
        )
        return {r["feed_id"]: int(r["n"]) for r in rows}


def _adbc_batches(adbc: Any, url: str, sql: str) -> Iterator[Any]:
    """A query's batches through PostgreSQL's ADBC driver: the server's binary
    ``COPY`` of the query, streamed in batches of its own size."""
    try:
        conn = adbc.connect(url)
    except Exception as exc:  # noqa: BLE001 - any driver failure: read otherwise
        raise BatchReadError(f"{url}: {exc}") from exc
    cur = conn.cursor()
    try:
        try:
            cur.execute(sql)
            reader = cur.fetch_record_batch()
        except Exception as exc:  # noqa: BLE001
            raise BatchReadError(f"{url}: {exc}") from exc
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001
                raise BatchReadError(f"{url}: {exc}") from exc
            yield batch
    finally:
        cur.close()
        conn.close()


# tables whose rows are small and always reached by their primary key (and the
# small text-keyed ones: no second b-tree for the key)
_CLUSTERED = ("observations", "presence", "listings", "imports", "store_meta")


def _without_rowid(stmt: str) -> str:
    for table in _CLUSTERED:
        if stmt.startswith(f"CREATE TABLE IF NOT EXISTS {table} ("):
            return stmt + " WITHOUT ROWID"
    return stmt
