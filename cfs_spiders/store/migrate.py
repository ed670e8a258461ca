"""``cfs migrate``: convert a store written by an earlier cfs, in place.

Schema 1 (cfs before change-only history) kept an observation row per sighting,
each with the whole record as JSON, and the raw record again in ``calls.raw_json``.
Schema 2 keeps one row per version (first sighting and each change of the raw
record, hashed from its canonical bytes) and, on live listings, presence spans.
The conversion reads every old observation once, in fetch order per call, and
derives what the new store would have written had it been there from the start:

- versions: runs of equal raw records; the current one ends at the call's
  ``last_seen`` (a "not modified" poll moved ``last_seen`` without an observation);
- presence: a span is broken where a complete listing lies between two sightings
  that had observations (a listing that brought no observation at all was a
  "not modified" poll: what was on the board stayed on it).

Schema 3 keeps each version's raw record compressed against a per-feed
dictionary (``raw.py``: ``observations.raw_dict``, ``raw_deflate``, the table
``raw_dicts``) instead of ``observations.raw_json``, and each response URL once in
``sources`` (``calls.source_id`` instead of ``calls.source_url``). From schema 2,
the raw texts are compressed as they are (they read back byte for byte) and the
URLs moved; from schema 1, both steps follow the conversion above.

Schema 4 names feeds and runs by integer keys (``migrate_v4.py``), schema 5
calls by theirs in the history tables (``migrate_v5.py``). A store of schema 1
or 2 is first converted to schema 3 as above, by this module through schema 3's
own statements (``schema_v3.V3Store``), then to schema 4, then to 5.

It all happens in one transaction: an interrupted migration leaves the old store
as it was. SQLite is vacuumed afterwards (the old observations are most of it).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.schema import record_fields
from ..records.encoding import change_digest, json_text
from .base import RECORD_COLUMNS, SCHEMA_VERSION, VIEWS, _sql_type
from .connect import open_store
from .migrate_v4 import MigrationError, to_v4
from .migrate_v5 import to_v5
from .schema_v3 import V3Store
from .write import LISTING_BOARDS

Encoder = Callable[[str], bytes]  # a raw text to its compressed bytes

BATCH = 5000


@dataclass
class MigrationReport:
    store: str
    from_version: int | None
    to_version: int = SCHEMA_VERSION
    calls: int = 0
    sightings: int = 0
    versions: int = 0
    spans: int = 0
    sources: int = 0
    bytes_before: int | None = None
    bytes_after: int | None = None

    def summary(self) -> str:
        if self.from_version == SCHEMA_VERSION:
            return f"{self.store}: already schema {SCHEMA_VERSION}, nothing to do"
        size = ""
        if self.bytes_before is not None and self.bytes_after is not None:
            size = f"; {self.bytes_before:,} -> {self.bytes_after:,} bytes"
        if self.from_version == 1:
            what = (
                f"{self.calls} calls, {self.sightings} observations (one per "
                f"sighting) -> {self.versions} versions and {self.spans} presence "
                "spans"
            )
        elif self.from_version == 3:
            return (
                f"{self.store}: schema 3 -> {self.to_version}: {self.calls} calls and "
                f"{self.versions} versions: feed and run ids as integer keys, "
                f"versions and spans by call key{size}"
            )
        elif self.from_version == 4:
            return (
                f"{self.store}: schema 4 -> {self.to_version}: {self.calls} calls and "
                f"{self.versions} versions: versions and spans by call key{size}"
            )
        else:
            what = f"{self.versions} versions' raw records compressed"
        return (
            f"{self.store}: schema {self.from_version} -> {self.to_version}: "
            f"{what}, {self.sources} source URLs kept once{size}"
        )


def _size(path: Path | None) -> int | None:
    if path is None:
        return None
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def migrate(url: str | Path | None = None, *, vacuum: bool = True) -> MigrationReport:
    """Convert the store at ``url`` to the current schema (a no-op if it is)."""
    store = open_store(url, migrating=True)
    try:
        with store.transaction() as cur:
            version = store.schema_version(cur)
        report = MigrationReport(store.describe(), version)
        if version in (None, SCHEMA_VERSION):
            return report
        report.bytes_before = _size(store.path)
        with store.transaction() as cur:
            for view in VIEWS:  # they name old columns
                cur.execute(f"DROP VIEW IF EXISTS {view}")
            encoders: dict[str, tuple[int, Encoder]] = {}
            v3 = V3Store(store)  # schema 1 and 2 go through schema 3
            if version == 1:
                _from_v1(v3, cur, report, encoders)
            elif version == 2:
                _from_v2(v3, cur, report, encoders)
            if version in (1, 2):
                _calls_to_v3(v3, cur, report)
                to_v4(store, cur)
            elif version == 3:
                to_v4(store, cur)
            moved = to_v5(store, cur)
            if version in (3, 4):
                report.calls, report.versions = moved
            for stmt in store._ddl():  # the view again
                cur.execute(stmt)
            store._set_version(cur)
        if vacuum and store.dialect == "sqlite":
            store.conn.execute("VACUUM")
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report.bytes_after = _size(store.path)
        return report
    finally:
        store.close()


def _encode(
    store: Any,
    cur: Any,
    versions: list[tuple],
    encoders: dict[str, tuple[int, Encoder]],
) -> list[tuple]:
    """Version rows ``(feed, key, start, end, run, hash, raw text)`` as schema 3
    stores them: the raw text compressed against the feed's dictionary, made
    from the first raw texts of the feed the migration meets."""
    out = []
    for v in versions:
        feed_id = v[0]
        if feed_id not in encoders:
            texts = [w[6] for w in versions if w[0] == feed_id]
            dict_id, compress = store._raw_encoder(cur, feed_id, texts, {})
            encoders[feed_id] = (dict_id, compress)
        dict_id, compress = encoders[feed_id]
        out.append((*v[:6], dict_id, compress(v[6])))
    return out


def _digest(raw: Any) -> bytes:
    """The change hash as schema 3 stores it: its 16 bytes."""
    return change_digest(raw)


def _from_v2(
    store: Any,
    cur: Any,
    report: MigrationReport,
    encoders: dict[str, tuple[int, Encoder]],
) -> None:
    """observations.raw_json -> raw_dict + raw_deflate (the text as it is)."""
    cur.execute("ALTER TABLE observations RENAME TO observations_v2")
    if store.dialect == "postgresql":
        cur.execute(
            "ALTER INDEX IF EXISTS observations_pkey RENAME TO observations_v2_pkey"
        )
    for stmt in store._ddl():
        if "VIEW" not in stmt:
            cur.execute(stmt)
    reader = store.conn.cursor()
    reader.execute(
        "SELECT feed_id, record_key, fetched_at, last_seen, run_id, values_hash, "
        "raw_json FROM observations_v2 ORDER BY feed_id, record_key, fetched_at"
    )
    while rows := reader.fetchmany(BATCH):
        rows = [(*r[:5], bytes.fromhex(r[5]), r[6]) for r in rows]
        cur.executemany(
            store._version_insert_sql(), _encode(store, cur, rows, encoders)
        )
        report.versions += len(rows)
    cur.execute("DROP TABLE observations_v2")
    # calls.values_hash: hex text -> its 16 bytes
    if store.dialect == "postgresql":
        cur.execute(
            "ALTER TABLE calls ALTER COLUMN values_hash TYPE BYTEA USING "
            "decode(values_hash, 'hex')"
        )
    else:
        store.conn.create_function("cfs_unhex", 1, _unhex, deterministic=True)
        cur.execute("ALTER TABLE calls RENAME COLUMN values_hash TO values_hash_v2")
        cur.execute("ALTER TABLE calls ADD COLUMN values_hash BLOB")
        cur.execute("UPDATE calls SET values_hash = cfs_unhex(values_hash_v2)")
        cur.execute("ALTER TABLE calls DROP COLUMN values_hash_v2")


def _unhex(text: str | None) -> bytes | None:
    return None if text is None else bytes.fromhex(text)


def _add_record_columns(store: Any, cur: Any) -> set[str]:
    """Record elements added since the store was written, as empty columns of
    ``calls`` (their values come with each call's next sighting); the columns
    ``calls`` had before."""
    cur.execute(store._sql("SELECT * FROM calls LIMIT 0"))
    have = {d[0] for d in cur.description}
    fields = record_fields()
    for name in RECORD_COLUMNS:
        if name not in have and name != "source_url":
            cur.execute(
                f"ALTER TABLE calls ADD COLUMN {name} {_sql_type(fields[name])}"
            )
    return have


def _calls_to_v3(store: Any, cur: Any, report: MigrationReport) -> None:
    """calls.source_url -> sources + calls.source_id; record elements added
    since the store was written come as empty columns."""
    have = _add_record_columns(store, cur)
    if "last_run_id" in have:  # now read from run_id, which it always equals
        cur.execute("SELECT COUNT(*) FROM calls WHERE last_run_id <> run_id")
        differ = int(cur.fetchone()[0])
        if differ:
            raise MigrationError(
                f"{store.describe()}: {differ} calls have a last_run_id other than "
                "their run_id, which this cfs never writes; not migrated (the store "
                "is as it was)"
            )
        stored = "STORED" if store.dialect == "postgresql" else "VIRTUAL"
        cur.execute("ALTER TABLE calls DROP COLUMN last_run_id")
        cur.execute(
            "ALTER TABLE calls ADD COLUMN last_run_id TEXT GENERATED ALWAYS AS "
            f"(run_id) {stored}"
        )
    if "source_url" not in have:
        return
    cur.execute(
        "INSERT INTO sources (source_url) SELECT DISTINCT source_url FROM calls "
        "WHERE source_url IS NOT NULL ORDER BY source_url "
        "ON CONFLICT (source_url) DO NOTHING"
    )
    cur.execute(
        "ALTER TABLE calls ADD COLUMN source_id INTEGER REFERENCES sources(source_id)"
    )
    cur.execute(
        "UPDATE calls SET source_id = (SELECT s.source_id FROM sources s WHERE "
        "s.source_url = calls.source_url) WHERE source_url IS NOT NULL"
    )
    cur.execute("ALTER TABLE calls DROP COLUMN source_url")
    cur.execute("SELECT COUNT(*) FROM sources")
    report.sources = int(cur.fetchone()[0])


def _from_v1(
    store: Any,
    cur: Any,
    report: MigrationReport,
    encoders: dict[str, tuple[int, Encoder]],
) -> None:
    sql = store._sql
    cur.execute("ALTER TABLE observations RENAME TO observations_v1")
    if store.dialect == "postgresql":  # index names are per schema there
        cur.execute(
            "ALTER INDEX IF EXISTS observations_pkey RENAME TO observations_v1_pkey"
        )
    cur.execute("DROP INDEX IF EXISTS observations_run")
    cur.execute("DROP INDEX IF EXISTS calls_last_seen")
    blob = "BYTEA" if store.dialect == "postgresql" else "BLOB"
    cur.execute(f"ALTER TABLE calls ADD COLUMN values_hash {blob}")
    _add_record_columns(store, cur)
    for stmt in store._ddl():
        if "VIEW" not in stmt:
            cur.execute(stmt)
    cur.execute(sql("SELECT feed_id, board FROM feeds"))
    boards = {f for f, b in cur.fetchall() if b in LISTING_BOARDS}
    cur.execute(sql("SELECT feed_id, fetched_at FROM listings ORDER BY 1, 2"))
    listings: dict[str, list[str]] = {}
    for feed_id, t in cur.fetchall():
        listings.setdefault(feed_id, []).append(t)
    cur.execute(sql("SELECT DISTINCT feed_id, fetched_at FROM observations_v1"))
    observed = {(f, t) for f, t in cur.fetchall()}
    # complete listings that brought observations (the others answered "not
    # modified": they kept what was on the board)
    breaking = {f: [t for t in ts if (f, t) in observed] for f, ts in listings.items()}
    versions: list[tuple] = []
    spans: list[tuple] = []
    hashes: list[tuple] = []
    reader = store.conn.cursor()
    reader.execute(
        sql(
            "SELECT o.feed_id, o.record_key, o.fetched_at, o.run_id, o.record_json, "
            "c.last_seen FROM observations_v1 o JOIN calls c ON c.feed_id = "
            "o.feed_id AND c.record_key = o.record_key ORDER BY o.feed_id, "
            "o.record_key, o.fetched_at"
        )
    )
    for feed_id, key, last_seen, sightings in _per_call(reader):
        report.calls += 1
        report.sightings += len(sightings)
        call_versions = _versions(sightings, last_seen)
        versions.extend((feed_id, key, *v) for v in call_versions)
        hashes.append((call_versions[-1][3], feed_id, key))
        if feed_id in boards:
            spans.extend(
                (feed_id, key, a, b)
                for a, b in _spans(sightings, last_seen, breaking.get(feed_id, []))
            )
        if len(versions) >= BATCH:
            report.versions += _flush(
                store, cur, versions, spans, hashes, report, encoders
            )
    report.versions += _flush(store, cur, versions, spans, hashes, report, encoders)
    # calls that somehow have no observation: their raw record is their version
    cur.execute(
        sql(
            "SELECT feed_id, record_key, first_seen, last_seen, last_run_id, "
            "raw_json FROM calls WHERE values_hash IS NULL"
        )
    )
    for feed_id, key, first, last, run_id, raw in cur.fetchall():
        value = _digest(json.loads(raw) if raw is not None else None)
        text = raw if raw is not None else "null"
        versions.append((feed_id, key, first, last, run_id, value, text))
        hashes.append((value, feed_id, key))
        if feed_id in boards:
            spans.append((feed_id, key, first, last))
        report.calls += 1
    report.versions += _flush(store, cur, versions, spans, hashes, report, encoders)
    cur.execute("DROP TABLE observations_v1")
    cur.execute("ALTER TABLE calls DROP COLUMN raw_json")


def _per_call(reader: Any) -> Iterator[tuple[str, str, str, list[tuple]]]:
    """(feed, key, the call's last_seen, [(fetched_at, run_id, record_json)])."""
    current: tuple[str, str] | None = None
    rows: list[tuple] = []
    last = ""
    while True:
        chunk = reader.fetchmany(BATCH)
        for feed_id, key, t, run_id, text, last_seen in chunk:
            if (feed_id, key) != current:
                if current is not None:
                    yield (*current, last, rows)
                current, rows, last = (feed_id, key), [], last_seen
            rows.append((t, run_id, text))
        if not chunk:
            break
    if current is not None:
        yield (*current, last, rows)


def _versions(sightings: list[tuple], last_seen: str) -> list[tuple]:
    """(start, end, run_id, hash, raw_json) per run of equal raw records."""
    out: list[list[Any]] = []
    for t, run_id, text in sightings:
        raw = json.loads(text).get("raw")
        value = _digest(raw)
        if out and out[-1][3] == value:
            out[-1][1] = t
        else:
            out.append([t, t, run_id, value, json_text(raw)])
    out[-1][1] = max(out[-1][1], last_seen)
    return [tuple(v) for v in out]


def _spans(
    sightings: list[tuple], last_seen: str, breaking: list[str]
) -> list[tuple[str, str]]:
    out: list[list[str]] = []
    for t, _, _ in sightings:
        if out:
            # a listing with observations, strictly between: the call was not on it
            i = bisect.bisect_right(breaking, out[-1][1])
            if not (i < len(breaking) and breaking[i] < t):
                out[-1][1] = t
                continue
        out.append([t, t])
    out[-1][1] = max(out[-1][1], last_seen)
    return [tuple(s) for s in out]


def _flush(
    store: Any,
    cur: Any,
    versions: list[tuple],
    spans: list[tuple],
    hashes: list[tuple],
    report: MigrationReport,
    encoders: dict[str, tuple[int, Encoder]],
) -> int:
    n = len(versions)
    if versions:
        cur.executemany(
            store._version_insert_sql(), _encode(store, cur, versions, encoders)
        )
    if spans:
        cur.executemany(store._presence_insert_sql(), spans)
        report.spans += len(spans)
    if hashes:
        cur.executemany(
            store._sql(
                "UPDATE calls SET values_hash = ? WHERE feed_id = ? AND record_key = ?"
            ),
            hashes,
        )
    versions.clear()
    spans.clear()
    hashes.clear()
    return n
