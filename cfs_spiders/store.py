"""The store: every call ever seen, every observation of it, every run.

SQLite at ``output/cfs.sqlite`` by default (WAL, one transaction per batch), or
PostgreSQL when ``CFS_DATABASE_URL`` is a ``postgresql://`` URL; the schema and the
semantics are the same. Tables (named for people, so the store reads well in
Datasette):

- ``feeds``: one row per configured feed (catalog facts).
- ``calls``: one row per (feed_id, record_key): the latest values, ``first_seen``,
  ``last_seen`` and, for live listings, ``disappeared_at``.
- ``observations``: append-only; one row each time a call is seen in a fetch, with
  all its values. Unique on (feed_id, record_key, fetched_at), so replaying the same
  responses again adds nothing.
- ``runs``: one row per feed run, with its report (records, fill rates, errors).
- ``imports``: one row per git commit imported by ``cfs import-git``.

Times are ISO 8601 UTC text (``2025-12-13T17:28:12Z``), which sorts as time does on
both engines.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from .config import PROJECT_ROOT
from .schema import record_fields

DEFAULT_SQLITE = PROJECT_ROOT / "output" / "cfs.sqlite"

# Record fields stored as columns of ``calls`` (everything but the raw record).
RECORD_COLUMNS: tuple[str, ...] = tuple(f for f in record_fields() if f != "raw")
_COLUMN_SET = frozenset(RECORD_COLUMNS)
LIFECYCLE_COLUMNS = ("first_seen", "last_seen", "disappeared_at", "last_run_id")
# Provenance varies between fetches of an unchanged call: not part of its values.
_NOT_VALUES = {"fetched_at", "run_id", "source_url", "raw"}

_SQL_TYPES = {"number": "REAL", "integer": "INTEGER", "boolean": "INTEGER"}


def _sql_type(spec: dict[str, Any]) -> str:
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    for t in types:
        if t in _SQL_TYPES:
            return _SQL_TYPES[t]
    return "TEXT"


# ``json.dumps(value, ensure_ascii=False, default=str)`` (and sorted), the encoders
# made once instead of once a call: the same text.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
_encode_sorted = json.JSONEncoder(
    ensure_ascii=False, default=str, sort_keys=True
).encode
_RAW_KEYS = (',"raw":', ', "raw": ')


def values_hash(record: dict[str, Any]) -> str:
    """Hash of what a call looked like, so an unchanged call is recognised.

    The hashed text is ``json.dumps`` of the values, sorted: stores keep these
    hashes, so the text must never change."""
    payload = dict(record)
    for key in _NOT_VALUES:
        payload.pop(key, None)
    payload["raw"] = record.get("raw")
    text = _encode_sorted(payload)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


_SCALARS = frozenset((str, int, bool, type(None)))


def _finite(value: Any) -> bool:
    """False when a float anywhere in ``value`` is NaN or infinite (``json``
    writes ``NaN``, orjson ``null``: such a value keeps the ``json`` text)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = v.__class__
        if t is dict:
            for x in v.values():
                tx = x.__class__
                if tx in _SCALARS:
                    continue
                if tx is float:
                    if x - x != 0.0:
                        return False
                else:
                    stack.append(x)
        elif t is list or t is tuple:
            stack.extend(v)
        elif t in _SCALARS:
            continue
        elif isinstance(v, float):
            if v - v != 0.0:
                return False
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return True


# orjson for the stored JSON texts (the same JSON values, compact, ~8 times
# faster); anything it would write differently from ``json.dumps(default=str)``
# (a date, a dataclass, NaN) or cannot write (a lone surrogate, a huge integer,
# a non-string key) is written by ``json`` as before.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text_exact(value: Any) -> tuple[str, bool]:
    """``value`` as JSON text (``json.dumps(value, ensure_ascii=False,
    default=str)``, compact), and whether reading the text back gives ``value``
    again (it does when orjson wrote it)."""
    if _finite(value):
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS).decode("utf-8"), True
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _encode(value), False


def json_text(value: Any) -> str:
    return json_text_exact(value)[0]


def record_json(record: dict[str, Any]) -> str:
    """A record as the JSON text of its observation (``record_json``); also the
    line of the per-run JSON Lines export (``exporters.py``)."""
    return json_text_exact(record)[0]


def raw_json(record: dict[str, Any], text: str | None = None) -> str:
    """The JSON text of ``record["raw"]``, cut from the record's JSON ``text``
    when the raw record is its last field (so it is not encoded twice). Inside a
    JSON string a quote is always escaped, so ``,"raw":`` (``, "raw": `` in
    ``json``'s spacing) occurring once in the text can only be the record's own
    ``raw`` key."""
    if (
        text is not None
        and len(record) > 1
        and next(reversed(record)) == "raw"
        and text.endswith("}")
    ):
        for marker in _RAW_KEYS:
            if text.count(marker) == 1:
                return text[text.index(marker) + len(marker) : -1]
    return json_text(record.get("raw"))


def _db_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def database_url() -> str:
    return os.environ.get("CFS_DATABASE_URL") or str(DEFAULT_SQLITE)


def open_store(url: str | Path | None = None) -> Store:
    """SQLite for a path or ``sqlite:///path``; PostgreSQL for ``postgresql://``."""
    target = str(url or database_url())
    if target.startswith(("postgresql://", "postgres://")):
        from .store_pg import PostgresStore

        return PostgresStore(target)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///") - 1 :]
    return Store(Path(target))


class Store:
    """SQLite store. Subclassed by ``store_pg.PostgresStore``."""

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
    def _ddl(self) -> list[str]:
        fields = record_fields()
        cols = ",\n  ".join(
            f"{name} {_sql_type(fields[name])}" for name in RECORD_COLUMNS
        )
        ts = "TEXT"
        return [
            """CREATE TABLE IF NOT EXISTS feeds (
  feed_id TEXT PRIMARY KEY,
  agency TEXT, city TEXT, state TEXT, title TEXT, platform TEXT,
  liveness TEXT, board TEXT, time_zone TEXT, live_url TEXT,
  update_interval_minutes REAL, config_version INTEGER, capture_kind TEXT,
  verified_against_capture INTEGER
)""",
            f"""CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  feed_id TEXT NOT NULL REFERENCES feeds(feed_id),
  mode TEXT, started_at {ts}, finished_at {ts}, fetched_at {ts},
  status TEXT, complete INTEGER, records INTEGER, new_calls INTEGER,
  new_observations INTEGER, closed_calls INTEGER, error TEXT, report_json TEXT
)""",
            f"""CREATE TABLE IF NOT EXISTS calls (
  {cols},
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  disappeared_at {ts},
  last_run_id TEXT,
  raw_json TEXT,
  PRIMARY KEY (feed_id, record_key),
  FOREIGN KEY (feed_id) REFERENCES feeds(feed_id)
)""",
            f"""CREATE TABLE IF NOT EXISTS observations (
  feed_id TEXT NOT NULL,
  record_key TEXT NOT NULL,
  fetched_at {ts} NOT NULL,
  run_id TEXT,
  values_hash TEXT NOT NULL,
  record_json TEXT NOT NULL,
  PRIMARY KEY (feed_id, record_key, fetched_at),
  FOREIGN KEY (feed_id, record_key) REFERENCES calls(feed_id, record_key),
  FOREIGN KEY (feed_id) REFERENCES feeds(feed_id)
)""",
            f"""CREATE TABLE IF NOT EXISTS feed_state (
  feed_id TEXT PRIMARY KEY REFERENCES feeds(feed_id),
  last_success_at {ts}, last_attempt_at {ts}, high_water TEXT,
  etag TEXT, last_modified TEXT, consecutive_failures INTEGER DEFAULT 0,
  lock_owner TEXT, lock_until {ts}
)""",
            "CREATE INDEX IF NOT EXISTS calls_feed_received ON calls(feed_id, "
            "received_at_utc)",
            "CREATE INDEX IF NOT EXISTS calls_category ON calls(call_type_category)",
            "CREATE INDEX IF NOT EXISTS calls_last_seen ON calls(feed_id, last_seen)",
            "CREATE INDEX IF NOT EXISTS runs_feed ON runs(feed_id, started_at)",
            "CREATE INDEX IF NOT EXISTS observations_run ON observations(run_id)",
            "CREATE INDEX IF NOT EXISTS calls_received ON calls(received_at_utc)",
            # import_git: one row per (repository, feed, commit) imported, so an
            # interrupted import resumes and a repeated one skips what is done.
            f"""CREATE TABLE IF NOT EXISTS imports (
  repo TEXT NOT NULL,
  feed_id TEXT NOT NULL REFERENCES feeds(feed_id),
  commit_sha TEXT NOT NULL,
  path TEXT NOT NULL,
  committed_at {ts} NOT NULL,
  status TEXT NOT NULL,
  run_id TEXT REFERENCES runs(run_id),
  imported_at {ts},
  PRIMARY KEY (repo, feed_id, commit_sha)
)""",
            "CREATE INDEX IF NOT EXISTS imports_feed ON imports(feed_id, committed_at)",
            # Every complete read of a live listing (active or recent-window board):
            # what ``disappeared_at`` is computed from.
            f"""CREATE TABLE IF NOT EXISTS listings (
  feed_id TEXT NOT NULL REFERENCES feeds(feed_id),
  fetched_at {ts} NOT NULL,
  PRIMARY KEY (feed_id, fetched_at)
)""",
        ]

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
            if rec.keys() >= _COLUMN_SET:
                row = list(columns_of(rec))
            else:
                row = [rec.get(c) for c in RECORD_COLUMNS]
            if convert:
                row = [_db_value(v) for v in row]
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

    def mark_disappeared(self, feed_id: str, fetched_at: str, board: str) -> int:
        """After a complete, successful fetch of a live listing: calls not in it.

        On an active-calls board, leaving it means the call closed (status
        ``closed``, basis ``feed_presence`` unless the feed itself already said
        closed); on a recent-window listing it only rolled off, so only
        ``disappeared_at`` is set. Never called for a failed or partial run.

        The listing is remembered (table ``listings``), and a call's
        ``disappeared_at`` is the first complete listing after its ``last_seen``
        that did not hold it: runs committed out of order (several writers,
        re-imported history) give the same answer as runs committed in order.
        """
        if board not in ("active_calls", "recent_window"):
            return 0
        ph = self.placeholder
        with self.transaction(feed_id) as cur:
            cur.execute(
                self._sql(
                    f"INSERT INTO listings (feed_id, fetched_at) VALUES ({ph}, {ph}) "
                    "ON CONFLICT(feed_id, fetched_at) DO NOTHING"
                ),
                (feed_id, fetched_at),
            )
            return self._set_gone(
                cur, feed_id, fetched_at, board, f"last_seen < {ph}", (fetched_at,)
            )

    def _set_gone(
        self,
        cur: Any,
        feed_id: str,
        when: str,
        board: str | None,
        which: str,
        params: tuple[Any, ...],
        again: bool = False,
    ) -> int:
        """Set ``disappeared_at = when`` (and close, on an active board) for the
        calls of ``which`` not already gone earlier (``again``: nor at ``when``,
        to close a call whose newer values were just written)."""
        ph = self.placeholder
        after = ">=" if again else ">"
        close = (
            ", status = 'closed', status_basis = CASE WHEN status = 'closed' THEN "
            "status_basis ELSE 'feed_presence' END"
            if board == "active_calls"
            else ""
        )
        cur.execute(
            self._sql(
                f"UPDATE calls SET disappeared_at = {ph}{close} WHERE feed_id = {ph} "
                f"AND {which} AND (disappeared_at IS NULL OR disappeared_at {after} "
                f"{ph})"
            ),
            (when, feed_id, *params, when),
        )
        return int(cur.rowcount or 0)

    def _gone_since(self, cur: Any, feed_id: str, fetched_at: str) -> None:
        """Calls just seen at ``fetched_at`` when a later complete listing is
        already stored (a run committed out of order): gone at that listing."""
        ph = self.placeholder
        cur.execute(
            self._sql(
                f"SELECT MIN(fetched_at) FROM listings WHERE feed_id = {ph} "
                f"AND fetched_at > {ph}"
            ),
            (feed_id, fetched_at),
        )
        later = cur.fetchone()[0]
        if later is None:
            return
        cur.execute(
            self._sql(f"SELECT board FROM feeds WHERE feed_id = {ph}"), (feed_id,)
        )
        row = cur.fetchone()
        self._set_gone(
            cur,
            feed_id,
            later,
            row[0] if row else None,
            f"last_seen = {ph}",
            (fetched_at,),
            again=True,
        )

    def touch_listing(self, feed_id: str, fetched_at: str, board: str) -> int:
        """A live listing answered "not modified": what was on it is still on it.

        The calls of the latest stored listing get ``last_seen = fetched_at`` and
        the listing is remembered; no observation is added (no values were read).
        Returns the number of calls still on the listing.
        """
        if board not in ("active_calls", "recent_window"):
            return 0
        ph = self.placeholder
        with self.transaction(feed_id) as cur:
            cur.execute(
                self._sql(
                    f"SELECT MAX(fetched_at) FROM listings WHERE feed_id = {ph} "
                    f"AND fetched_at < {ph}"
                ),
                (feed_id, fetched_at),
            )
            previous = cur.fetchone()[0]
            if previous is None:
                return 0
            cur.execute(
                self._sql(
                    f"UPDATE calls SET last_seen = {ph} WHERE feed_id = {ph} AND "
                    f"last_seen = {ph} AND disappeared_at IS NULL"
                ),
                (fetched_at, feed_id, previous),
            )
            touched = int(cur.rowcount or 0)
            cur.execute(
                self._sql(
                    f"INSERT INTO listings (feed_id, fetched_at) VALUES ({ph}, {ph}) "
                    "ON CONFLICT(feed_id, fetched_at) DO NOTHING"
                ),
                (feed_id, fetched_at),
            )
            return touched

    # ------------------------------------------------------------------ runs
    def record_run(self, run: dict[str, Any]) -> None:
        cols = (
            "run_id",
            "feed_id",
            "mode",
            "started_at",
            "finished_at",
            "fetched_at",
            "status",
            "complete",
            "records",
            "new_calls",
            "new_observations",
            "closed_calls",
            "error",
            "report_json",
        )
        p = ", ".join([self.placeholder] * len(cols))
        updates = ", ".join(f"{c}=excluded.{c}" for c in cols[1:])
        sql = self._sql(
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({p}) "
            f"ON CONFLICT(run_id) DO UPDATE SET {updates}"
        )
        with self.transaction() as cur:
            cur.execute(sql, [run.get(c) for c in cols])
            if run.get("status") in ("ok", "degraded", "failed"):
                self._update_state(cur, run)

    def _ensure_state_row(self, cur: Any, feed_id: str) -> None:
        """The feed's ``feed_state`` row exists (created empty if it did not)."""
        cur.execute(
            self._sql(
                f"INSERT INTO feed_state (feed_id) VALUES ({self.placeholder}) "
                "ON CONFLICT(feed_id) DO NOTHING"
            ),
            (feed_id,),
        )

    def _update_state(self, cur: Any, run: dict[str, Any]) -> None:
        ph = self.placeholder
        ok = run["status"] != "failed"
        self._ensure_state_row(cur, run["feed_id"])
        if ok:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET last_success_at = {ph}, last_attempt_at = "
                    f"{ph}, consecutive_failures = 0 WHERE feed_id = {ph}"
                ),
                (run["finished_at"], run["finished_at"], run["feed_id"]),
            )
        else:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET last_attempt_at = {ph}, consecutive_failures"
                    f" = COALESCE(consecutive_failures, 0) + 1 WHERE feed_id = {ph}"
                ),
                (run["finished_at"], run["feed_id"]),
            )

    def feed_state(self, feed_id: str) -> dict[str, Any]:
        cur = self.conn.cursor()
        cur.execute(
            self._sql(f"SELECT * FROM feed_state WHERE feed_id = {self.placeholder}"),
            (feed_id,),
        )
        row = cur.fetchone()
        if row is None:
            return {}
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def set_state(self, feed_id: str, **values: Any) -> None:
        ph = self.placeholder
        with self.transaction() as cur:
            self._ensure_state_row(cur, feed_id)
            for key, value in values.items():
                cur.execute(
                    self._sql(
                        f"UPDATE feed_state SET {key} = {ph} WHERE feed_id = {ph}"
                    ),
                    (value, feed_id),
                )

    def feed_states(self) -> dict[str, dict[str, Any]]:
        """Every feed's state row (scheduling: last success, failures, locks)."""
        return {r["feed_id"]: r for r in self.query("SELECT * FROM feed_state")}

    def raise_high_water(self, feed_id: str, mark: str) -> None:
        """Keep the larger of the stored high-water mark and ``mark`` (ISO UTC)."""
        ph = self.placeholder
        with self.transaction(feed_id) as cur:
            self._ensure_state_row(cur, feed_id)
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET high_water = {ph} WHERE feed_id = {ph} AND "
                    f"(high_water IS NULL OR high_water < {ph})"
                ),
                (mark, feed_id, mark),
            )

    def acquire_lock(self, feed_id: str, owner: str, until: str, now: str) -> bool:
        """Take the feed's run lock until ``until`` (ISO UTC) unless someone else
        holds an unexpired one; atomic on both engines. True when taken."""
        ph = self.placeholder
        with self.transaction() as cur:
            self._ensure_state_row(cur, feed_id)
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET lock_owner = {ph}, lock_until = {ph} "
                    f"WHERE feed_id = {ph} AND (lock_owner IS NULL OR lock_until IS "
                    f"NULL OR lock_until < {ph} OR lock_owner = {ph})"
                ),
                (owner, until, feed_id, now, owner),
            )
            return (cur.rowcount or 0) == 1

    def renew_lock(self, feed_id: str, owner: str, until: str) -> bool:
        ph = self.placeholder
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET lock_until = {ph} WHERE feed_id = "
                    f"{ph} AND lock_owner = {ph}"
                ),
                (until, feed_id, owner),
            )
            return (cur.rowcount or 0) == 1

    def release_lock(self, feed_id: str, owner: str) -> bool:
        ph = self.placeholder
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET lock_owner = NULL, lock_until = NULL "
                    f"WHERE feed_id = {ph} AND lock_owner = {ph}"
                ),
                (feed_id, owner),
            )
            return (cur.rowcount or 0) == 1

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
