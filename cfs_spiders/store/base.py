"""The store: every call ever seen, each version of it, every run.

SQLite at ``output/cfs.sqlite`` by default (WAL, one transaction per batch), or
PostgreSQL when ``CFS_DATABASE_URL`` is a ``postgresql://`` URL; the schema and the
semantics are the same. The store grows with what changes, not with polls. Tables
(named for people, so the store reads well in Datasette):

- ``feeds``: one row per configured feed (catalog facts), with its small integer
  ``feed_key``: every other table names the feed by it, not by the 33-byte id.
- ``calls``: one row per (feed_key, record_key), with its integer ``call_key``
  (given in the order calls are first written): the latest values, the hash of the
  published values they came from (``values_hash``: the 16 bytes of
  ``records.encoding.change_hash``, whose hex it is), ``first_seen``,
  ``last_seen`` and, for live listings, ``disappeared_at``.
- ``observations``: one row per version of a call (named by its ``call_key``):
  the first sighting and every
  change of what the feed published, with the raw record (kept once, here,
  compressed: ``raw.py``) and the first and last fetch that showed it. A poll that
  finds the call unchanged only moves ``last_seen``.
- ``raw_dicts``: the preset dictionaries the raw records are compressed with, one
  or a few per feed, built from the feed's own first raw records.
- ``sources``: each distinct response URL once (``calls.source_id`` names it; the
  page's URL is the same for every call of the page).
- ``presence``: live listings only: the spans of complete listings a call was on
  (a call that leaves and comes back has two), by ``call_key``.
- ``listings``: every complete read of a live listing.
- ``runs``: one row per feed run, with its report (records, fill rates, errors),
  and its integer ``run_key``, which ``calls`` and ``observations`` hold (a run's
  row is made when it first writes, and completed when it finishes).
- ``imports``: one row per git commit imported by ``cfs import-git``.
- ``store_meta``: the schema version (``cfs migrate`` converts older stores).

The integer keys make each row and index entry of the history tables shorter (a
run id is 50 bytes): readers see the ids again through ``CALLS_FROM`` (calls) or a
join with ``feeds``/``runs``, and ``FEED_KEY`` turns a feed id into its key
within a statement. The history tables name a call by its ``call_key`` (schema
5), not by (feed_key, record_key): a backfill's new calls get rising keys, so
their versions and spans are appended at the end of each table's primary key
instead of landing on a random page of it (record keys are often hashes), and
each row is shorter by the record key. Readers see ``feed_key`` and
``record_key`` in them again through ``OBSERVATIONS_FROM`` and ``PRESENCE_FROM``
(the same columns as schema 4's tables).

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
# record compressed (observations.raw_deflate, raw_dicts), calls.source_id;
# 4: integer feed and run keys (feeds.feed_key, runs.run_key) in every table;
# 5: calls.call_key, which observations and presence name a call by
SCHEMA_VERSION = 5
# the columns of ``calls`` that hold something else than the record's field of that
# name: ``source_url`` is kept once in ``sources`` (``calls.source_id``), the feed
# and run ids once in ``feeds`` and ``runs`` (``calls.feed_key``, ``run_key``)
STORED_AS = {"source_url": "source_id", "feed_id": "feed_key", "run_id": "run_key"}
STORED_COLUMNS: tuple[str, ...] = tuple(STORED_AS.get(c, c) for c in RECORD_COLUMNS)
# what reads ``calls`` with every record field as published: the readers'
# FROM clause (``SELECT *`` gives calls' columns, then ``feed_id``, ``run_id``,
# ``last_run_id`` and ``source_url``). The feeds and runs are read as subqueries
# of the id columns only (their other columns share names with the record's).
CALLS_FROM = (
    "calls JOIN (SELECT feed_key, feed_id FROM feeds) AS calls_feed USING (feed_key)"
    " LEFT JOIN (SELECT run_key, run_id, run_id AS last_run_id FROM runs) AS "
    "calls_run USING (run_key) LEFT JOIN sources USING (source_id)"
)
# the order of calls as their readers see it (``FROM CALLS_FROM``): by feed id
CALLS_ORDER = "calls_feed.feed_id, calls.record_key"


def _with_ids(table: str, run: bool = False, source: str | None = None) -> str:
    """A history table as its readers see it: with ``feed_id`` (and ``run_id``)
    joined from the table's keys (``SELECT *`` gives them after its columns);
    ``source`` is what stands for the table (``by_call``), if not the table."""
    out = (
        f"{source or table} JOIN (SELECT feed_key, feed_id FROM feeds) AS "
        f"{table}_feed USING (feed_key)"
    )
    if run:
        out += (
            f" LEFT JOIN (SELECT run_key, run_id FROM runs) AS {table}_run "
            "USING (run_key)"
        )
    return out


# the history tables' columns after their call key
OBSERVATION_COLUMNS = (
    "fetched_at",
    "last_seen",
    "run_key",
    "values_hash",
    "raw_dict",
    "raw_deflate",
)
PRESENCE_COLUMNS = ("first_seen", "last_seen")


def by_call(
    table: str,
    columns: tuple[str, ...],
    call_key: bool = True,
    alias: str | None = None,
) -> str:
    """A history table (keyed by ``call_key``) with its call's ``feed_key`` and
    ``record_key`` first, then ``call_key`` (unless left out) and ``columns``,
    under the table's own name (or ``alias``): what schema 4's table, which
    held the two keys, gave. A derived table, which SQLite and PostgreSQL flatten into the
    statement's join (a reader's ``WHERE record_key = ?`` seeks ``calls``'
    unique index, then the table's primary key)."""
    cols = ", ".join(f"h.{c}" for c in (("call_key",) if call_key else ()) + columns)
    return (
        f"(SELECT c.feed_key, c.record_key, {cols} FROM {table} h JOIN calls c "
        f"ON c.call_key = h.call_key) AS {alias or table}"
    )


OBSERVATIONS_FROM = _with_ids(
    "observations",
    run=True,
    source=by_call("observations", OBSERVATION_COLUMNS, call_key=False),
)
PRESENCE_FROM = _with_ids(
    "presence", source=by_call("presence", PRESENCE_COLUMNS, call_key=False)
)
LISTINGS_FROM = _with_ids("listings")
RUNS_FROM = _with_ids("runs")
IMPORTS_FROM = _with_ids("imports", run=True)
FEED_STATE_FROM = _with_ids("feed_state")
RAW_DICTS_FROM = _with_ids("raw_dicts")
COLUMN_SET = frozenset(RECORD_COLUMNS)
LIFECYCLE_COLUMNS = ("first_seen", "last_seen", "disappeared_at", "last_run_id")


def feed_key_of(ph: str) -> str:
    """A scalar subquery giving the key of the feed id bound at ``ph``: a reader
    given a feed id names its rows by key (evaluated once per statement)."""
    return f"(SELECT feed_key FROM feeds WHERE feed_id = {ph})"


FEED_KEY = feed_key_of("?")
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


# the store's views (dropped before a migration changes the tables they read)
VIEWS = ("call_raw", "calls_with_ids")


def call_columns_ddl() -> str:
    """The record's columns of ``calls`` (schema 4 on), as CREATE TABLE lists
    them."""
    fields = record_fields()
    stored = {
        "source_url": "source_id INTEGER REFERENCES sources(source_id)",
        "feed_id": "feed_key INTEGER NOT NULL REFERENCES feeds(feed_key)",
        "run_id": "run_key INTEGER REFERENCES runs(run_key)",
    }
    return ",\n  ".join(
        stored.get(name) or f"{name} {_sql_type(fields[name])}"
        for name in RECORD_COLUMNS
    )


def ddl() -> list[str]:
    """The CREATE statements of every table and index (SQLite types; the
    PostgreSQL store widens REAL)."""
    cols = call_columns_ddl()
    ts = "TEXT"
    return [
        """CREATE TABLE IF NOT EXISTS feeds (
  feed_key INTEGER PRIMARY KEY,
  feed_id TEXT NOT NULL UNIQUE,
  agency TEXT, city TEXT, state TEXT, title TEXT, platform TEXT,
  liveness TEXT, board TEXT, time_zone TEXT, live_url TEXT,
  update_interval_minutes REAL, config_version INTEGER, capture_kind TEXT,
  verified_against_capture INTEGER
)""",
        f"""CREATE TABLE IF NOT EXISTS runs (
  run_key INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL UNIQUE,
  feed_key INTEGER NOT NULL REFERENCES feeds(feed_key),
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
  feed_key INTEGER NOT NULL REFERENCES feeds(feed_key),
  codec TEXT NOT NULL,
  zdict BLOB NOT NULL,
  created_at {ts} NOT NULL
)""",
        # call_key: SQLite's rowid, named (so that it is kept as it is by
        # VACUUM), given by the writer in the order calls are first written
        f"""CREATE TABLE IF NOT EXISTS calls (
  call_key INTEGER PRIMARY KEY,
  {cols},
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  disappeared_at {ts},
  values_hash BLOB NOT NULL,
  UNIQUE (feed_key, record_key)
)""",
        f"""CREATE TABLE IF NOT EXISTS observations (
  call_key INTEGER NOT NULL REFERENCES calls(call_key),
  fetched_at {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  run_key INTEGER REFERENCES runs(run_key),
  values_hash BLOB NOT NULL,
  raw_dict INTEGER NOT NULL REFERENCES raw_dicts(dict_id),
  raw_deflate BLOB NOT NULL,
  PRIMARY KEY (call_key, fetched_at)
)""",
        f"""CREATE TABLE IF NOT EXISTS presence (
  call_key INTEGER NOT NULL REFERENCES calls(call_key),
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  PRIMARY KEY (call_key, first_seen)
)""",
        # no index on presence(last_seen): the spans reaching past a time are
        # found from the calls seen since (``calls_open``, ``calls_gone``), see
        # ``lifecycle.SPANS_PAST``
        f"""CREATE TABLE IF NOT EXISTS feed_state (
  feed_key INTEGER NOT NULL PRIMARY KEY REFERENCES feeds(feed_key),
  last_success_at {ts}, last_attempt_at {ts}, high_water TEXT,
  etag TEXT, last_modified TEXT, consecutive_failures INTEGER DEFAULT 0,
  lock_owner TEXT, lock_until {ts}
)""",
        "CREATE INDEX IF NOT EXISTS calls_feed_received ON calls(feed_key, "
        "received_at_utc)",
        "CREATE INDEX IF NOT EXISTS calls_category ON calls(call_type_category)",
        # the calls still listed, and those gone: a poll's life-cycle work is
        # proportional to the board, not to the feed's history
        "CREATE INDEX IF NOT EXISTS calls_open ON calls(feed_key, last_seen) "
        "WHERE disappeared_at IS NULL",
        "CREATE INDEX IF NOT EXISTS calls_gone ON calls(feed_key, disappeared_at) "
        "WHERE disappeared_at IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS runs_feed ON runs(feed_key, started_at)",
        "CREATE INDEX IF NOT EXISTS calls_received ON calls(received_at_utc)",
        # import_git: one row per (repository, feed, commit) imported, so an
        # interrupted import resumes and a repeated one skips what is done.
        f"""CREATE TABLE IF NOT EXISTS imports (
  repo TEXT NOT NULL,
  feed_key INTEGER NOT NULL REFERENCES feeds(feed_key),
  commit_sha TEXT NOT NULL,
  path TEXT NOT NULL,
  committed_at {ts} NOT NULL,
  status TEXT NOT NULL,
  run_key INTEGER REFERENCES runs(run_key),
  imported_at {ts},
  PRIMARY KEY (repo, feed_key, commit_sha)
)""",
        "CREATE INDEX IF NOT EXISTS imports_feed ON imports(feed_key, committed_at)",
        # Every complete read of a live listing (active or recent-window board):
        # what ``disappeared_at`` is computed from.
        f"""CREATE TABLE IF NOT EXISTS listings (
  feed_key INTEGER NOT NULL REFERENCES feeds(feed_key),
  fetched_at {ts} NOT NULL,
  PRIMARY KEY (feed_key, fetched_at)
)""",
        # each call's raw record as last published (its current version),
        # compressed: ``cfs raw`` (or ``cfs_raw(raw_dict, raw_deflate)`` in cfs's
        # own SQLite connections) gives the JSON text
        """CREATE VIEW IF NOT EXISTS call_raw AS
SELECT f.feed_id, c.record_key, o.fetched_at AS version_fetched_at, o.raw_dict,
 o.raw_deflate
FROM feeds f JOIN calls c ON c.feed_key = f.feed_key
 JOIN observations o ON o.call_key = c.call_key AND o.last_seen = c.last_seen""",
        # ``calls`` with the feed id, last run id and source URL in place of the
        # integer keys: for SQL written against ids (Datasette's users), without
        # the join each time
        "CREATE VIEW IF NOT EXISTS calls_with_ids AS SELECT calls_feed.feed_id, "
        "calls.*, calls_run.last_run_id, sources.source_url FROM " + CALLS_FROM,
        """CREATE TABLE IF NOT EXISTS store_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
)""",
    ]
