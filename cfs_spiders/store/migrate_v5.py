"""``cfs migrate``, schema 4 -> 5: calls get their integer ``call_key``, and the
history tables (``observations``, ``presence``) name a call by it instead of by
(feed_key, record_key).

Why schema 5: record keys are often hashes, so a backfill's versions and spans,
keyed by the record key, landed on random pages of their tables' primary keys
(every page of a 300 MB table dirtied, written to the WAL at each commit, then
copied by the checkpoint); keyed by a call key given in the order calls come,
they are appended. ``calls`` is renamed, made again with ``call_key`` (SQLite:
the rowid it had, so the calls keep their order; PostgreSQL: numbered by first
sighting) and filled from the old table column by column; then the two history
tables are filled from their old rows, each joined to its call for the key. A
history row without its call (no foreign key allows one) stops the migration
rather than being lost. It runs inside ``migrate()``'s transaction.
"""

from __future__ import annotations

from typing import Any

from .base import ddl
from .migrate_v4 import MigrationError, _columns, remake

# the indexes of ``calls`` in schema 4 (made again with the table)
CALL_INDEXES = (
    "calls_feed_received",
    "calls_category",
    "calls_open",
    "calls_gone",
    "calls_received",
)
# parents before children
TABLES = ("calls", "observations", "presence")


def to_v5(store: Any, cur: Any) -> tuple[int, int]:
    """Convert a schema-4 store (in ``cur``'s transaction); returns (calls,
    versions)."""
    pg = store.dialect == "postgresql"
    remake(store, cur, TABLES, CALL_INDEXES, "v4", ddl())
    new = [c for c in _columns(cur, "calls") if c != "call_key"]
    old = set(_columns(cur, "calls_v4"))
    cells = [f"o.{c}" if c in old else "NULL" for c in new]
    key = (
        "ROW_NUMBER() OVER (ORDER BY o.first_seen, o.feed_key, o.record_key)"
        if pg
        else "o.rowid"
    )
    cur.execute(
        f"INSERT INTO calls (call_key, {', '.join(new)}) SELECT {key}, "
        f"{', '.join(cells)} FROM calls_v4 o{'' if pg else ' ORDER BY o.rowid'}"
    )
    calls = int(cur.rowcount or 0)
    if pg:  # the column's sequence goes on after the keys given here
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('calls', 'call_key'), "
            "COALESCE((SELECT MAX(call_key) FROM calls), 0) + 1, false)"
        )
    counts = {}
    for table in ("observations", "presence"):
        cols = [c for c in _columns(cur, table) if c != "call_key"]
        cur.execute(
            f"INSERT INTO {table} (call_key, {', '.join(cols)}) SELECT c.call_key, "
            f"{', '.join(f'o.{c}' for c in cols)} FROM {table}_v4 o JOIN calls c "
            "ON c.feed_key = o.feed_key AND c.record_key = o.record_key "
            f"ORDER BY c.call_key, o.{cols[0]}"
        )
        counts[table] = int(cur.rowcount or 0)
        cur.execute(f"SELECT COUNT(*) FROM {table}_v4")
        held = int(cur.fetchone()[0])
        if held != counts[table]:
            raise MigrationError(
                f"{store.describe()}: {held - counts[table]} rows of {table} name a "
                "call that is not in calls; not migrated (the store is as it was)"
            )
    for table in reversed(TABLES):
        cur.execute(f"DROP TABLE {table}_v4")
    return calls, counts["observations"]
