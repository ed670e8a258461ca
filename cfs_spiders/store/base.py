"""The store: every call ever seen, each version of it, every run.

SQLite at ``output/cfs.sqlite`` by default (WAL, one transaction per batch), or
PostgreSQL when ``CFS_DATABASE_URL`` is a ``postgresql://`` URL; the schema and the
semantics are the same. The store grows with what changes, not with polls. Tables
(named for people, so the store reads well in Datasette):

- ``feeds``: one row per configured feed (catalog facts).
- ``calls``: one row per (feed_id, record_key): the latest values, the hash of the
  published values they came from (``values_hash``: the 16 bytes of
  ``records.encoding.change_hash``, whose hex it is), ``first_seen``,
  ``last_seen`` and, for live listings, ``disappeared_at``.
- ``observations``: one row per version of a call: the first sighting and every
  change of what the feed published, with the raw record (kept once, here,
  compressed: ``raw.py``) and the first and last fetch that showed it. A poll that
  finds the call unchanged only moves ``last_seen``.
- ``raw_dicts``: the preset dictionaries the raw records are compressed with, one
  or a few per feed, built from the feed's own first raw records.
- ``sources``: each distinct response URL once (``calls.source_id`` names it; the
  page's URL is the same for every call of the page).
- ``presence``: live listings only: the spans of complete listings a call was on
  (a call that leaves and comes back has two).
- ``listings``: every complete read of a live listing.
- ``runs``: one row per feed run, with its report (records, fill rates, errors).
- ``imports``: one row per git commit imported by ``cfs import-git``.
- ``store_meta``: the schema version (``cfs migrate`` converts older stores).

Times are ISO 8601 UTC text (``2025-12-13T17:28:12Z``), which sorts as time does on
both engines.
"""

from __future__ import annotations

from typing import Any

from ..config.schema import record_fields

# Record fields stored as columns of ``calls`` (everything but the raw record).
RECORD_COLUMNS: tuple[str, ...] = tuple(f for f in record_fields() if f != "raw")
# 1: an observation per sighting, raw_json in calls; 2: a version per change, the
# raw record as JSON text in observations.raw_json, source_url in calls; 3: the raw
# record compressed (observations.raw_deflate, raw_dicts), calls.source_id
SCHEMA_VERSION = 3
# the columns of ``calls`` that hold something else than the record's field of that
# name: ``source_url`` is kept once in ``sources`` (``calls.source_id``)
STORED_COLUMNS: tuple[str, ...] = tuple(
    "source_id" if c == "source_url" else c for c in RECORD_COLUMNS
)
# what reads ``calls`` with every record field as published: the readers'
# FROM clause (``SELECT *`` gives calls' columns, then ``source_url``)
CALLS_FROM = "calls LEFT JOIN sources USING (source_id)"
COLUMN_SET = frozenset(RECORD_COLUMNS)
LIFECYCLE_COLUMNS = ("first_seen", "last_seen", "disappeared_at", "last_run_id")
_SQL_TYPES = {"number": "REAL", "integer": "INTEGER", "boolean": "INTEGER"}


def _sql_type(spec: dict[str, Any]) -> str:
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    for t in types:
        if t in _SQL_TYPES:
            return _SQL_TYPES[t]
    return "TEXT"


def db_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def ddl() -> list[str]:
    """The CREATE statements of every table and index (SQLite types; the
    PostgreSQL store widens REAL)."""
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
