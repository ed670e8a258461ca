"""Schema 4, kept for ``cfs migrate``: a store of schema 1, 2 or 3 is converted
to schema 4 by ``migrate_v4.py``, then to 5 (``migrate_v5.py``); that step makes
schema 4's tables, which are here.

Schema 5 changed only ``calls`` (its ``call_key``), ``observations`` and
``presence`` (keyed by it) and the ``call_raw`` view that joins them; schema 4's
statements are schema 5's with those four as cfs 9c05df5 wrote them (frozen:
a later schema that changes another table freezes that one here too).
"""

from __future__ import annotations

import re

from .base import call_columns_ddl, ddl

_NAME = re.compile(r"CREATE (?:TABLE|VIEW) IF NOT EXISTS (\w+)")


def _v4_statements() -> dict[str, str]:
    ts = "TEXT"
    return {
        "calls": f"""CREATE TABLE IF NOT EXISTS calls (
  {call_columns_ddl()},
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  disappeared_at {ts},
  values_hash BLOB NOT NULL,
  PRIMARY KEY (feed_key, record_key)
)""",
        "observations": f"""CREATE TABLE IF NOT EXISTS observations (
  feed_key INTEGER NOT NULL,
  record_key TEXT NOT NULL,
  fetched_at {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  run_key INTEGER REFERENCES runs(run_key),
  values_hash BLOB NOT NULL,
  raw_dict INTEGER NOT NULL REFERENCES raw_dicts(dict_id),
  raw_deflate BLOB NOT NULL,
  PRIMARY KEY (feed_key, record_key, fetched_at),
  FOREIGN KEY (feed_key, record_key) REFERENCES calls(feed_key, record_key)
)""",
        "presence": f"""CREATE TABLE IF NOT EXISTS presence (
  feed_key INTEGER NOT NULL,
  record_key TEXT NOT NULL,
  first_seen {ts} NOT NULL,
  last_seen {ts} NOT NULL,
  PRIMARY KEY (feed_key, record_key, first_seen),
  FOREIGN KEY (feed_key, record_key) REFERENCES calls(feed_key, record_key)
)""",
        "call_raw": """CREATE VIEW IF NOT EXISTS call_raw AS
SELECT f.feed_id, c.record_key, o.fetched_at AS version_fetched_at, o.raw_dict,
 o.raw_deflate
FROM feeds f JOIN calls c ON c.feed_key = f.feed_key
 JOIN observations o ON o.feed_key = c.feed_key
 AND o.record_key = c.record_key AND o.last_seen = c.last_seen""",
    }


def ddl_v4() -> list[str]:
    """Schema 4's CREATE statements (SQLite types, as ``ddl()``)."""
    v4 = _v4_statements()
    out = []
    for stmt in ddl():
        m = _NAME.match(stmt)
        out.append(v4.get(m.group(1), stmt) if m else stmt)
    return out
