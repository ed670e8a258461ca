"""The stored state of a batch's calls, looked up by record key: (values_hash,
last_seen, call_key) of each call the store holds already. Used by
``write.RecordWriter`` before it places a batch's sightings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

State = tuple[bytes, str, int]

# the keys outside, each looked up in the calls' unique index: CROSS JOIN, since a
# plain JOIN lets SQLite 3.40 walk the feed's calls instead
_BY_JSON = (
    "SELECT c.record_key, c.values_hash, c.last_seen, c.call_key "
    "FROM json_each(?) AS k CROSS JOIN calls AS c "
    "ON c.feed_key = ? AND c.record_key = k.value"
)
_CHUNK = 500


def call_states(
    cur: Any,
    dialect: str,
    placeholder: str,
    sql: Callable[[str], str],
    feed: int,
    keys: Iterable[str],
) -> dict[str, State]:
    """(values_hash, last_seen, call_key) of the calls of ``keys`` already
    stored (of the feed whose key is ``feed``).

    On SQLite the keys are bound once, as one JSON array walked by
    ``json_each``: bound as 500 parameters a statement, the ADBC driver's
    conversion of each statement's parameters into Arrow cost the writer process
    more than the rest of a backfill's batch (py-spy, 200,000 records: 5.8 of
    its 15 s). A key holding NUL is looked up by parameter instead: SQLite's
    JSON functions end a string at an escaped NUL, so ``k.value`` would not be
    the key (a published id with NUL is a fault, but it is stored as
    published). PostgreSQL binds 500-key ``IN`` lists."""
    ordered = list(keys)
    rows: list[Any] = []
    if dialect == "sqlite":
        plain = [k for k in ordered if "\x00" not in k]
        if plain:
            cur.execute(_BY_JSON, (orjson.dumps(plain).decode(), feed))
            rows = cur.fetchall()
        # by parameter below: only the keys the JSON array could not carry
        ordered = (
            [k for k in ordered if "\x00" in k] if len(plain) < len(ordered) else []
        )
    for i in range(0, len(ordered), _CHUNK):
        chunk = ordered[i : i + _CHUNK]
        marks = ", ".join([placeholder] * len(chunk))
        cur.execute(
            sql(
                "SELECT record_key, values_hash, last_seen, call_key FROM "
                f"calls WHERE feed_key = {placeholder} AND record_key IN ({marks})"
            ),
            (feed, *chunk),
        )
        rows += cur.fetchall()
    return {key: (bytes(value), last, ck) for key, value, last, ck in rows}
