"""PostgreSQL backend of the store: the same tables and the same semantics.

Chosen by a ``postgresql://`` URL (``CFS_DATABASE_URL`` or ``--db``). The SQL is the
SQLite store's, written with ``?`` placeholders; ``_sql`` turns them into psycopg's
``%s``. What differs:

- A batch of calls or versions is ``COPY``ed to a staging table and inserted
  with one ``INSERT ... SELECT`` (``_insert_many``).
- Real numbers are ``DOUBLE PRECISION`` (PostgreSQL's ``REAL`` is 4 bytes and would
  round coordinates).
- Several processes may write at once (scrapyd nodes, ``cfs crawl`` next to
  ``cfs watch``). Every write to a feed's calls runs under a transaction-level
  advisory lock on that feed, so batches of one feed commit one after another
  (other feeds go on in parallel) and counts, first/last seen and disappearances
  come out exactly as if the runs had been written by one process. Creating the
  schema takes a lock of its own, so that processes starting together do not race
  on ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import ddl
from .sqlite import Store

_SCHEMA_LOCK = 0x63667300  # "cfs\0": advisory lock key of schema creation
_DDL_NAME = re.compile(
    r"CREATE (?:TABLE|INDEX|VIEW) IF NOT EXISTS (\w+)", re.IGNORECASE
)
# an INSERT the bulk path can stage: table, column list, what follows VALUES
_INSERT = re.compile(
    r"INSERT INTO (\w+) \(([\w, ]+)\) VALUES \((?:%s, )*%s\)(.*)\Z", re.DOTALL
)
COPY_MIN_ROWS = 50  # fewer rows go row by row (a COPY has its own round trips)
_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


def _feed_lock_key(feed_id: str) -> int:
    digest = hashlib.blake2b(feed_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def to_psycopg(text: str) -> str:
    """``?`` placeholders to ``%s`` and ``%`` to ``%%`` (outside quoted literals
    only ``?`` is a placeholder; ``%`` is doubled everywhere, as psycopg expects
    whenever parameters are passed, which this store always does)."""

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        return token.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(swap, text)


class PostgresStore(Store):
    placeholder = "?"
    dialect = "postgresql"

    def __init__(self, url: str, *, migrating: bool = False) -> None:
        self.url = url
        self.path = None  # type: ignore[assignment]
        self._lock = threading.RLock()
        self.conn = self._connect()
        self.create_schema(migrating=migrating)

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self, feed_id: str | None = None) -> Iterator[Any]:
        with self._lock, self.conn.transaction():
            cur = self.conn.cursor()
            if feed_id is not None:
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s)", (_feed_lock_key(feed_id),)
                )
            yield cur

    def _sql(self, text: str) -> str:
        return to_psycopg(text)

    def _ddl(self) -> list[str]:
        return [
            re.sub(r"\bREAL\b", "DOUBLE PRECISION", stmt).replace(
                "CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"
            )
            for stmt in ddl()
        ]

    def _tables(self, cur: Any) -> set[str]:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        return {r[0] for r in cur.fetchall()}

    def describe(self) -> str:
        """The URL without its password."""
        return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", self.url)

    def create_schema(self, *, migrating: bool = False) -> None:
        ddl = self._ddl()
        names = sorted({m.group(1).lower() for m in map(_DDL_NAME.search, ddl) if m})
        with self.transaction() as cur:
            # every run opens the store: skip the DDL (and its lock) when every
            # table and index is there already
            cur.execute(
                "SELECT COUNT(*) FROM pg_class WHERE relname = ANY(%s) AND "
                "relnamespace = current_schema()::regnamespace",
                (names,),
            )
            if cur.fetchone()[0] == len(names) and self._check_version(cur, migrating):
                return
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            if not self._check_version(cur, migrating):
                return
            for stmt in ddl:
                cur.execute(stmt)
            self._set_version(cur)

    def _insert_many(self, cur: Any, sql: str, rows: list[Any]) -> None:
        """``COPY`` the rows into a session's staging table shaped like the
        target, then one ``INSERT ... SELECT`` with the statement's own
        conflict clause: a batch costs one round trip instead of one a row."""
        if len(rows) < COPY_MIN_ROWS:
            super()._insert_many(cur, sql, rows)
            return
        m = _INSERT.match(sql)
        if m is None:  # not a plain INSERT ... VALUES: row by row
            super()._insert_many(cur, sql, rows)
            return
        table, columns, rest = m.groups()
        stage = f"cfs_stage_{table}"
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}{rest}"
        )
        cur.execute(f"TRUNCATE {stage}")

    def register_feeds(self, configs: Any) -> None:
        # one order for every process: concurrent upserts never deadlock
        super().register_feeds(sorted(configs, key=lambda c: c.feed_id))

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return super().query(sql, params)

    def iter_calls(self, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Streamed through a server-side cursor (a client cursor would load every
        call into memory)."""
        with self._lock, self.conn.transaction():
            cur = self.conn.cursor(name="cfs_iter_calls")
            cur.itersize = batch
            cur.execute("SELECT * FROM calls ORDER BY feed_id, record_key")
            names = None
            for row in cur:
                if names is None:
                    names = [d[0] for d in cur.description]
                yield dict(zip(names, row, strict=True))

    def iter_rows(self, sql: str, batch: int = 5000) -> Iterator[tuple]:
        """Streamed through a server-side cursor."""
        with self._lock, self.conn.transaction():
            cur = self.conn.cursor(name="cfs_iter_rows")
            cur.itersize = batch
            cur.execute(self._sql(sql))
            yield from cur

    def columns(self, table: str) -> list[str]:
        with self._lock:
            return super().columns(table)
