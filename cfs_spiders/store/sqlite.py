"""The SQLite store (the default, ``output/cfs.sqlite``): WAL, one transaction per
batch. The tables are described in ``base.py``; the PostgreSQL store
(``postgres.py``) subclasses this one.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..records.encoding import raw_json, record_json, values_hash
from .base import COLUMN_SET, RECORD_COLUMNS, db_value, ddl
from .feed_state import FeedState
from .lifecycle import ListingLifecycle


class Store(ListingLifecycle, FeedState):
    """SQLite store. Subclassed by ``postgres.PostgresStore``."""

    placeholder = "?"
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.conn = self._connect()
        self.create_schema()

    # ------------------------------------------------------------ connection
    def _connect(self) -> Any:
        conn = sqlite3.connect(
            self.path, timeout=60, isolation_level=None, check_same_thread=False
        )
        # 16 KiB pages for a new store (an existing one keeps its own): a call
        # and its observation are ~4 KB, and bulk writes run ~25% faster.
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    def close(self) -> None:
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
    # ---------------------------------------------------------------- schema
    def _ddl(self) -> list[str]:
        return ddl()

    def create_schema(self) -> None:
        with self.transaction() as cur:
            for stmt in self._ddl():
                cur.execute(stmt)

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
            f"""INSERT INTO feeds VALUES ({p})
ON CONFLICT(feed_id) DO UPDATE SET agency=excluded.agency, city=excluded.city,
 state=excluded.state, title=excluded.title, platform=excluded.platform,
 liveness=excluded.liveness, board=excluded.board, time_zone=excluded.time_zone,
 live_url=excluded.live_url, update_interval_minutes=excluded.update_interval_minutes,
 config_version=excluded.config_version, capture_kind=excluded.capture_kind,
 verified_against_capture=excluded.verified_against_capture"""
        )
        with self.transaction() as cur:
            cur.executemany(sql, rows)

    # ----------------------------------------------------------------- calls
    def _upsert_sql(self) -> str:
        cols = [*RECORD_COLUMNS, "first_seen", "last_seen", "last_run_id", "raw_json"]
        p = ", ".join([self.placeholder] * len(cols))
        newer = (
            "(excluded.last_seen > calls.last_seen OR (excluded.last_seen = "
            "calls.last_seen AND calls.disappeared_at IS NULL))"
        )
        least = "MIN" if self.dialect == "sqlite" else "LEAST"
        greatest = "MAX" if self.dialect == "sqlite" else "GREATEST"
        sets = [
            f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE calls.{c} END"
            for c in (*RECORD_COLUMNS, "last_run_id", "raw_json")
            if c not in ("feed_id", "record_key")
        ]
        sets.append(
            "disappeared_at = CASE WHEN excluded.last_seen > calls.disappeared_at "
            "THEN NULL ELSE calls.disappeared_at END"
        )
        sets.append(f"first_seen = {least}(calls.first_seen, excluded.first_seen)")
        sets.append(f"last_seen = {greatest}(calls.last_seen, excluded.last_seen)")
        return self._sql(
            f"INSERT INTO calls ({', '.join(cols)}) VALUES ({p})\n"
            f"ON CONFLICT(feed_id, record_key) DO UPDATE SET {', '.join(sets)}"
        )

    def _observation_sql(self) -> str:
        p = ", ".join([self.placeholder] * 6)
        return self._sql(
            f"INSERT INTO observations VALUES ({p}) "
            "ON CONFLICT(feed_id, record_key, fetched_at) DO NOTHING"
        )

    def write_records(
        self, records: list[dict[str, Any]], encoded: list[str] | None = None
    ) -> tuple[int, int]:
        """Upsert calls and append observations in one transaction.

        ``encoded``, when given, is ``record_json(r)`` of each record (the store
        pipeline encodes a record once, for the store and the JSON Lines export).
        Returns (new calls, new observations). Idempotent: the same records
        written twice change nothing the second time.
        """
        if not records:
            return 0, 0
        if encoded is None or len(encoded) != len(records):
            encoded = [record_json(rec) for rec in records]
        call_rows, obs_rows, keys = [], [], set()
        # booleans as 0/1 on both engines (PostgreSQL will not cast them; SQLite
        # binds a bool as the integer already)
        convert = self.dialect != "sqlite"
        columns_of = operator.itemgetter(*RECORD_COLUMNS)
        for rec, text in zip(records, encoded, strict=True):
            fetched = rec["fetched_at"]
            run_id = rec["run_id"]
            if rec.keys() >= COLUMN_SET:
                row = list(columns_of(rec))
            else:
                row = [rec.get(c) for c in RECORD_COLUMNS]
            if convert:
                row = [db_value(v) for v in row]
            row.extend((fetched, fetched, run_id, raw_json(rec, text)))
            call_rows.append(row)
            obs_rows.append(
                (
                    rec["feed_id"],
                    rec["record_key"],
                    fetched,
                    run_id,
                    values_hash(rec),
                    text,
                )
            )
            keys.add(rec["record_key"])
        feed_id = records[0]["feed_id"]
        with self.transaction(feed_id) as cur:
            existing = self._existing_keys(cur, feed_id, keys)
            cur.executemany(self._upsert_sql(), call_rows)
            cur.executemany(self._observation_sql(), obs_rows)
            new_obs = cur.rowcount
            for fetched in sorted({r["fetched_at"] for r in records}):
                self._gone_since(cur, feed_id, fetched)
        new_calls = len(keys - existing)
        return new_calls, int(new_obs if new_obs is not None and new_obs >= 0 else 0)

    def _existing_keys(self, cur: Any, feed_id: str, keys: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = list(keys)
        for i in range(0, len(ordered), 500):
            chunk = ordered[i : i + 500]
            marks = ", ".join([self.placeholder] * len(chunk))
            cur.execute(
                self._sql(
                    f"SELECT record_key FROM calls WHERE feed_id = {self.placeholder} "
                    f"AND record_key IN ({marks})"
                ),
                (feed_id, *chunk),
            )
            found.update(r[0] for r in cur.fetchall())
        return found

    # --------------------------------------------------------------- reading
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def iter_calls(self, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every call, ordered by feed and key, streamed in batches."""
        cur = self.conn.cursor()
        cur.execute("SELECT * FROM calls ORDER BY feed_id, record_key")
        names = [d[0] for d in cur.description]
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            for row in rows:
                yield dict(zip(names, row, strict=True))

    def counts(self) -> dict[str, int]:
        rows = self.query("SELECT feed_id, COUNT(*) AS n FROM calls GROUP BY feed_id")
        return {r["feed_id"]: int(r["n"]) for r in rows}
