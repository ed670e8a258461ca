"""The integer keys of feeds and runs, as the writer binds them.

Every history row names its feed by ``feeds.feed_key`` and its run by
``runs.run_key`` (schema 4): a batch looks its feed's key up once and each of
its runs' once, and binds the keys where the ids were. A run's row is made at
its first write (status NULL until ``record_run`` completes it), so that its
key exists before its calls do. Mixed into the store (``write.RecordWriter``).
"""

from __future__ import annotations

import sqlite3
from typing import Any


class UnregisteredFeedError(sqlite3.IntegrityError):
    """A batch of a feed the store has no ``feeds`` row for: refused, as the
    foreign key refused it when the rows held the feed id."""


class Sighting:
    """One call seen at one fetch: its key, time, run, and published values
    (``value`` is ``None`` for an id read off a listing without its values)."""

    __slots__ = ("key", "t", "run_id", "value", "raw")

    def __init__(
        self,
        key: str,
        t: str,
        run_id: str | None,
        value: bytes | None,
        raw: str | None,
    ) -> None:
        self.key, self.t, self.run_id, self.value, self.raw = key, t, run_id, value, raw


class StoreKeys:
    """``_feed_key``, ``_run_keys``, ``_key_made`` and ``_bind_keys``; needs the store's
    ``_sql`` and ``placeholder``."""

    placeholder: str

    @property
    def _feed_key_cache(self) -> dict[str, int]:
        return self.__dict__.setdefault("_feed_keys", {})

    @property
    def _run_key_cache(self) -> dict[str, int]:
        """``runs.run_key`` by run id, as committed."""
        return self.__dict__.setdefault("_run_keys_known", {})

    def _feed_key(self, cur: Any, feed_id: str) -> int:
        """The feed's ``feeds.feed_key`` (a feed's key never changes: cached)."""
        found = self._feed_key_cache.get(feed_id)
        if found is None:
            cur.execute(
                self._sql(
                    f"SELECT feed_key FROM feeds WHERE feed_id = {self.placeholder}"
                ),
                (feed_id,),
            )
            row = cur.fetchone()
            if row is None:
                raise UnregisteredFeedError(
                    f"feed {feed_id!r} is not in the store's feeds table (register "
                    "its config first: Store.register_feeds)"
                )
            found = self._feed_key_cache[feed_id] = int(row[0])
        return found

    def _run_keys(
        self, cur: Any, feed: int, run_ids: set[str | None], new: dict[str, int]
    ) -> dict[str | None, int | None]:
        """Each run id's ``runs.run_key``; a run not in ``runs`` yet gets its row
        (status NULL until ``record_run`` completes it); ``new`` gets the keys
        this transaction gave."""
        known = self._run_key_cache
        out: dict[str | None, int | None] = {None: None}
        for run_id in run_ids:
            if run_id is None:
                continue
            found = known.get(run_id) or new.get(run_id)
            if found is None:
                found = new[run_id] = self._key_made(
                    cur, "runs", "run_key", {"run_id": run_id, "feed_key": feed}
                )
            out[run_id] = found
        return out

    def _key_made(self, cur: Any, table: str, key: str, values: dict[str, Any]) -> int:
        """The ``key`` of ``table``'s row whose unique column (the first of
        ``values``) holds its value, the row inserted with ``values`` if there is
        none: insert-or-nothing, then select, which reads the same on SQLite and
        PostgreSQL and whether or not another writer made the row first."""
        ph = self.placeholder
        unique, value = next(iter(values.items()))
        cur.execute(
            self._sql(
                f"INSERT INTO {table} ({', '.join(values)}) VALUES "
                f"({', '.join([ph] * len(values))}) ON CONFLICT ({unique}) DO NOTHING"
            ),
            tuple(values.values()),
        )
        cur.execute(
            self._sql(f"SELECT {key} FROM {table} WHERE {unique} = {ph}"), (value,)
        )
        return int(cur.fetchone()[0])

    @staticmethod
    def _bind_keys(
        rows: list[list[Any]],
        filled: tuple[str, ...],
        feed: int,
        runs: dict[str | None, int | None],
        sightings: list[Sighting],
    ) -> None:
        """The rows' feed and run ids replaced by their keys, in place (the
        calls rows at their columns, the sightings' run)."""
        at_feed = filled.index("feed_id")
        at_run = filled.index("run_id") if "run_id" in filled else None
        for row in rows:
            row[at_feed] = feed
            if at_run is not None:
                row[at_run] = runs[row[at_run]]
        for s in sightings:
            s.run_id = runs[s.run_id]
