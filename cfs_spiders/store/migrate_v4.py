"""``cfs migrate``, schema 3 -> 4: the feed and run ids replaced by integer keys.

Schema 4 names a feed by ``feeds.feed_key`` and a run by ``runs.run_key`` in
every row of ``calls``, ``observations``, ``presence``, ``listings``,
``raw_dicts``, ``imports``, ``feed_state`` and ``runs`` (the 33-byte feed id and
the 50-byte run id were most of a small store's bytes). Each of these tables is
renamed, made again in schema 4's shape and filled from the old one in one
statement, its ids looked up in ``feeds`` and ``runs``; then the old tables are
dropped (children first: SQLite checks the foreign keys as it drops). Feeds get
their keys in the order of their ids, runs in the order they started. A run id
named by a call, a version or an import but without a ``runs`` row (a run that
wrote and never finished) gets a row of its own, as this cfs makes at a run's
first write. It runs inside ``migrate()``'s transaction, and makes schema 4's
tables (``schema_v4.py``), which ``migrate_v5.py`` converts next.
"""

from __future__ import annotations

from typing import Any

from .schema_v4 import ddl_v4


class MigrationError(RuntimeError):
    """A store this cfs cannot convert without losing something; it is left as
    it was (every step runs in ``migrate()``'s one transaction)."""


# renamed and made again, parents before children
TABLES = (
    "feeds",
    "runs",
    "raw_dicts",
    "calls",
    "observations",
    "presence",
    "listings",
    "feed_state",
    "imports",
)
# schema 3's indexes (their names would clash with schema 4's)
OLD_INDEXES = (
    "presence_last_seen",
    "calls_feed_received",
    "calls_category",
    "calls_open",
    "calls_gone",
    "runs_feed",
    "calls_received",
    "imports_feed",
)
# the identity columns of PostgreSQL filled with explicit values here
_IDENTITIES = (("feeds", "feed_key"), ("runs", "run_key"), ("raw_dicts", "dict_id"))
_KEYED = {"feed_key": "f.feed_key", "run_key": "r.run_key"}


def _columns(cur: Any, table: str) -> list[str]:
    cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    return [d[0] for d in cur.description]


def _copy(cur: Any, table: str, order: str = "") -> int:
    """Fill ``table`` from ``<table>_v3``: each column of the new table from the
    old one's of that name (NULL if it has none), the keys from the ids."""
    new = _columns(cur, table)
    old = set(_columns(cur, f"{table}_v3"))
    cells = [_KEYED.get(c, f"o.{c}" if c in old else "NULL") for c in new]
    joins = " JOIN feeds f ON f.feed_id = o.feed_id" if "feed_key" in new else ""
    if "run_key" in new and "run_id" in old:
        joins += " LEFT JOIN runs r ON r.run_id = o.run_id"
    cur.execute(
        f"INSERT INTO {table} ({', '.join(new)}) SELECT {', '.join(cells)} FROM "
        f"{table}_v3 o{joins}{order}"
    )
    return int(cur.rowcount or 0)


def _reseed(store: Any, cur: Any) -> None:
    """PostgreSQL: each identity column continues after the keys given here."""
    if store.dialect != "postgresql":
        return
    for table, col in _IDENTITIES:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), "
            f"COALESCE((SELECT MAX({col}) FROM {table}), 0) + 1, false)"
        )


def remake(
    store: Any,
    cur: Any,
    tables: tuple[str, ...],
    indexes: tuple[str, ...],
    suffix: str,
    statements: list[str],
) -> None:
    """The old ``tables`` renamed to ``<table>_<suffix>`` (their ``indexes``
    dropped: the new ones have their names) and made again by the new
    schema's ``statements`` (all but the views): the step a migration fills
    the new tables from the old ones after."""
    for name in indexes:
        cur.execute(f"DROP INDEX IF EXISTS {name}")
    for table in tables:
        cur.execute(f"ALTER TABLE {table} RENAME TO {table}_{suffix}")
        if store.dialect == "postgresql":  # index names are per schema there
            cur.execute(
                f"ALTER INDEX IF EXISTS {table}_pkey RENAME TO {table}_{suffix}_pkey"
            )
    for stmt in store._ddl(statements):
        if "VIEW" not in stmt:
            cur.execute(stmt)


def to_v4(store: Any, cur: Any) -> tuple[int, int]:
    """Convert a schema-3 store (in ``cur``'s transaction); returns (calls,
    versions)."""
    pg = store.dialect == "postgresql"
    remake(store, cur, TABLES, OLD_INDEXES, "v3", ddl_v4())
    feed_cols = [c for c in _columns(cur, "feeds_v3") if c != "feed_id"]
    cur.execute(
        f"INSERT INTO feeds (feed_key, feed_id, {', '.join(feed_cols)}) SELECT "
        f"ROW_NUMBER() OVER (ORDER BY feed_id), feed_id, {', '.join(feed_cols)} "
        "FROM feeds_v3"
    )
    _reseed(store, cur)
    # feeds named but not registered (never written by this cfs): rows of their own
    named = " UNION ".join(
        f"SELECT feed_id FROM {t}_v3" for t in TABLES if t not in ("feeds",)
    )
    cur.execute(
        f"INSERT INTO feeds (feed_id) SELECT feed_id FROM ({named}) AS x WHERE "
        "feed_id IS NOT NULL AND feed_id NOT IN (SELECT feed_id FROM feeds)"
    )
    run_cols = [c for c in _columns(cur, "runs_v3") if c not in ("run_id", "feed_id")]
    cur.execute(
        f"INSERT INTO runs (run_key, run_id, feed_key, {', '.join(run_cols)}) "
        "SELECT ROW_NUMBER() OVER (ORDER BY o.started_at, o.run_id), o.run_id, "
        f"f.feed_key, {', '.join(f'o.{c}' for c in run_cols)} FROM runs_v3 o "
        "JOIN feeds f ON f.feed_id = o.feed_id"
    )
    _reseed(store, cur)
    cur.execute(
        "INSERT INTO runs (run_id, feed_key) SELECT x.run_id, MIN(f.feed_key) FROM "
        "(SELECT feed_id, run_id FROM calls_v3 UNION SELECT feed_id, run_id FROM "
        "observations_v3 UNION SELECT feed_id, run_id FROM imports_v3) AS x JOIN "
        "feeds f ON f.feed_id = x.feed_id WHERE x.run_id IS NOT NULL AND x.run_id "
        "NOT IN (SELECT run_id FROM runs) GROUP BY x.run_id ORDER BY x.run_id"
    )
    _copy(cur, "raw_dicts")
    _reseed(store, cur)
    calls = _copy(cur, "calls", "" if pg else " ORDER BY o.rowid")
    versions = _copy(cur, "observations")
    for table in ("presence", "listings", "feed_state", "imports"):
        _copy(cur, table)
    for table in reversed(TABLES):
        cur.execute(f"DROP TABLE {table}_v3")
    return calls, versions
