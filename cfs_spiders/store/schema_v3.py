"""Schema 3, kept for ``cfs migrate``: a store of schema 1 or 2 is converted to
schema 3 by the code that did so before schema 4 (``migrate.py``), then to 4
(``migrate_v4.py``); that code needs schema 3's tables and the statements it
wrote them with, which are here (frozen: never changed with the schema).
"""

from __future__ import annotations

from typing import Any

from ..config.schema import record_fields
from .base import RECORD_COLUMNS, _sql_type
from .raw import RawStore


class V3Store:
    """The store as schema 3 wrote it: its DDL and its version, presence and raw
    dictionary statements (feeds and runs named by their ids); everything else
    is the store's own."""

    _dicts_feed = "feed_id"

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _ddl(self) -> list[str]:
        return self._store._ddl(ddl_v3())

    def _version_insert_sql(self) -> str:
        p = ", ".join([self.placeholder] * 8)
        return self._sql(
            "INSERT INTO observations (feed_id, record_key, fetched_at, last_seen, "
            f"run_id, values_hash, raw_dict, raw_deflate) VALUES ({p}) "
            "ON CONFLICT(feed_id, record_key, fetched_at) DO NOTHING"
        )

    def _presence_insert_sql(self) -> str:
        ph = self.placeholder
        return self._sql(
            "INSERT INTO presence (feed_id, record_key, first_seen, last_seen) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}) "
            "ON CONFLICT(feed_id, record_key, first_seen) DO NOTHING"
        )

    def _raw_encoder(self, cur: Any, feed_id: str, texts: list[str], new: dict) -> Any:
        return RawStore._raw_encoder(self, cur, feed_id, texts, new)  # type: ignore[arg-type]


def ddl_v3() -> list[str]:
    """Schema 3's CREATE statements, as cfs 70c2a77 wrote them."""
    fields = record_fields()
    cols = ",\n  ".join(
        "source_id INTEGER REFERENCES sources(source_id)"
        if name == "source_url"
        else f"{name} {_sql_type(fields[name])}"
        for name in RECORD_COLUMNS
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
        """CREATE TABLE IF NOT EXISTS sources (
  source_id INTEGER PRIMARY KEY,
  source_url TEXT NOT NULL UNIQUE
)""",
        f"""CREATE TABLE IF NOT EXISTS raw_dicts (
  dict_id INTEGER PRIMARY KEY,
  feed_id TEXT NOT NULL REFERENCES feeds(feed_id),
  codec TEXT NOT NULL,
  zdict BLOB NOT NULL,
  created_at {ts} NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS calls (
  {cols},
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  disappeared_at {ts},
  values_hash BLOB NOT NULL,
  -- the run that last wrote the values is the record's run: not stored twice
  last_run_id TEXT GENERATED ALWAYS AS (run_id) VIRTUAL,
  PRIMARY KEY (feed_id, record_key),
  FOREIGN KEY (feed_id) REFERENCES feeds(feed_id)
)""",
        f"""CREATE TABLE IF NOT EXISTS observations (
  feed_id TEXT NOT NULL,
  record_key TEXT NOT NULL,
  fetched_at {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  run_id TEXT,
  values_hash BLOB NOT NULL,
  raw_dict INTEGER NOT NULL REFERENCES raw_dicts(dict_id),
  raw_deflate BLOB NOT NULL,
  PRIMARY KEY (feed_id, record_key, fetched_at),
  FOREIGN KEY (feed_id, record_key) REFERENCES calls(feed_id, record_key)
)""",
        f"""CREATE TABLE IF NOT EXISTS presence (
  feed_id TEXT NOT NULL,
  record_key TEXT NOT NULL,
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  PRIMARY KEY (feed_id, record_key, first_seen),
  FOREIGN KEY (feed_id, record_key) REFERENCES calls(feed_id, record_key)
)""",
        "CREATE INDEX IF NOT EXISTS presence_last_seen ON presence(feed_id, last_seen)",
        f"""CREATE TABLE IF NOT EXISTS feed_state (
  feed_id TEXT PRIMARY KEY REFERENCES feeds(feed_id),
  last_success_at {ts}, last_attempt_at {ts}, high_water TEXT,
  etag TEXT, last_modified TEXT, consecutive_failures INTEGER DEFAULT 0,
  lock_owner TEXT, lock_until {ts}
)""",
        "CREATE INDEX IF NOT EXISTS calls_feed_received ON calls(feed_id, "
        "received_at_utc)",
        "CREATE INDEX IF NOT EXISTS calls_category ON calls(call_type_category)",
        # the calls still listed, and those gone: a poll's life-cycle work is
        # proportional to the board, not to the feed's history
        "CREATE INDEX IF NOT EXISTS calls_open ON calls(feed_id, last_seen) "
        "WHERE disappeared_at IS NULL",
        "CREATE INDEX IF NOT EXISTS calls_gone ON calls(feed_id, disappeared_at) "
        "WHERE disappeared_at IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS runs_feed ON runs(feed_id, started_at)",
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
        # each call's raw record as last published (its current version),
        # compressed: ``cfs raw`` (or ``cfs_raw(raw_dict, raw_deflate)`` in cfs's
        # own SQLite connections) gives the JSON text
        """CREATE VIEW IF NOT EXISTS call_raw AS
SELECT c.feed_id, c.record_key, o.fetched_at AS version_fetched_at, o.raw_dict,
 o.raw_deflate
FROM calls c JOIN observations o ON o.feed_id = c.feed_id
 AND o.record_key = c.record_key AND o.last_seen = c.last_seen""",
        """CREATE TABLE IF NOT EXISTS store_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
)""",
    ]
