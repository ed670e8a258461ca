"""The integer keys of feeds, runs and calls, as the writer binds them.

Every history row names its feed by ``feeds.feed_key`` and its run by
``runs.run_key`` (schema 4): a batch looks its feed's key up once and each of
its runs' once, and binds the keys where the ids were. A run's row is made at
its first write (status NULL until ``record_run`` completes it), so that its
key exists before its calls do. The history tables name a call by
``calls.call_key`` (schema 5): a call held already has its own (read with its
state), a batch's new calls get the next keys in the order they come
(``_keys_of_rows``). Mixed into the store (``write.RecordWriter``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from itertools import repeat
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
    """``_feed_key``, ``_run_keys``, ``_key_made``, the call keys and
    ``_bind_keys``; needs the store's ``_sql``, ``placeholder`` and
    ``_call_states`` (``write.RecordWriter``)."""

    placeholder: str
    _call_states: Callable[..., dict[str, tuple[bytes, str, int]]]

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

    def _keys_of_rows(
        self,
        cur: Any,
        rows: list[list[Any]],
        at: int,
        state: dict[str, tuple[bytes, str, int]],
    ) -> dict[str, int]:
        """Each row's ``call_key`` appended to it (the record key is at ``at``):
        a call held already keeps its own (``state``), the batch's new calls
        get the next keys, in the order they first come. Returns the new
        calls' keys by record key."""
        new: dict[str, int] = {}
        for r in rows:
            key = r[at]
            if key not in state and key not in new:
                new[key] = 0
        for key, call_key in zip(new, self._new_call_keys(cur, len(new)), strict=True):
            new[key] = call_key
        for r in rows:
            key = r[at]
            known = state.get(key)
            r.append(known[2] if known is not None else new[key])
        return new

    def _keys_of_columns(
        self,
        cur: Any,
        rows: CallColumns,
        at: int,
        state: dict[str, tuple[bytes, str, int]],
    ) -> tuple[dict[str, int], Any]:
        """``_keys_of_rows`` of a batch as columns: the new calls' keys by
        record key, and the rows as tuples, each ending with its call key (as
        an Arrow table when the batch has its Arrow columns: ``table``)."""
        keys = rows.cols[at]
        new: dict[str, int] = dict.fromkeys(k for k in keys if k not in state)
        given = self._new_call_keys(cur, len(new))
        made = rows.rows if rows.arrow is None else rows.table
        if len(new) == rows.n:  # every call new, each once (a backfill's batch)
            new = dict(zip(keys, given, strict=True))
            return new, made(given)
        new = dict(zip(new, given, strict=True))
        column = [new[k] if k in new else state[k][2] for k in keys]
        return new, made(column)

    def _new_call_keys(self, cur: Any, n: int) -> list[int]:
        """``n`` call keys no call has, rising: after the largest (the batch's
        ``BEGIN IMMEDIATE`` holds SQLite's write lock, so no other writer
        gives keys until it commits; PostgreSQL's store takes them from the
        column's sequence)."""
        if not n:
            return []
        cur.execute("SELECT COALESCE(MAX(call_key), 0) FROM calls")
        top = int(cur.fetchone()[0])
        return list(range(top + 1, top + 1 + n))

    def _call_key(self, cur: Any, feed: int, key: str) -> int:
        """The ``call_key`` of a call the store holds."""
        found = self._call_states(cur, feed, (key,)).get(key)
        if found is None:
            raise KeyError(f"call {key!r} of feed key {feed} is not in calls")
        return found[2]

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


class CallColumns:
    """A batch's calls rows as columns (``arrow_batch.write_columns``), in
    ``filled`` order, then first seen, last seen and the change hash: each a
    list, or an ``itertools.repeat`` of a batch's one value. What
    ``_bind_keys`` and ``_keys_of_rows`` do to rows, done here once per
    column (the keys of a column's distinct ids, a call key column), then
    the rows zipped as tuples (``rows``): no list per row to change in
    place. ``arrow``, for a store that binds Arrow: the same columns as Arrow
    arrays (``None`` where the column is the Python values: a column of one
    value, or one whose ids were replaced by keys), and ``table`` instead of
    ``rows``."""

    __slots__ = ("filled", "cols", "n", "arrow")

    def __init__(
        self,
        filled: tuple[str, ...],
        cols: list[Any],
        n: int,
        arrow: list[Any] | None = None,
    ) -> None:
        self.filled, self.cols, self.n, self.arrow = filled, cols, n, arrow

    def __len__(self) -> int:
        return self.n

    def _map(self, name: str, keys: Callable[[set[Any]], dict[Any, Any]]) -> None:
        """The column ``name``'s values replaced by ``keys(distinct values)``."""
        at = self.filled.index(name)
        col = self.cols[at]
        if isinstance(col, repeat):
            value = next(col)
            self.cols[at] = repeat(keys({value})[value])
        else:
            found = keys(set(col))
            self.cols[at] = list(map(found.__getitem__, col))
        if self.arrow is not None:
            self.arrow[at] = None  # the keys, not the ids

    def bind_keys(
        self,
        feed: int,
        runs: dict[str | None, int | None],
        sources: Callable[[set[Any]], dict[Any, Any]] | None,
    ) -> None:
        at = self.filled.index("feed_id")
        self.cols[at] = repeat(feed)
        if self.arrow is not None:
            self.arrow[at] = None
        if "run_id" in self.filled:
            self._map("run_id", lambda ids: runs)
        if sources is not None:
            self._map("source_url", sources)

    def rows(self, call_keys: list[int]) -> list[tuple[Any, ...]]:
        return list(zip(*self.cols, call_keys, strict=False))

    def table(self, call_keys: list[int]) -> Any:
        """The rows as one Arrow table (columns named by position), each row
        ending with its call key: for ``Cursor.execute_arrow``."""
        import pyarrow as pa

        assert self.arrow is not None
        n = self.n
        arrays = []
        for col, array in zip(self.cols, self.arrow, strict=True):
            if array is None:
                if isinstance(col, repeat):
                    value = next(col)
                    array = pa.nulls(n) if value is None else pa.repeat(value, n)
                else:
                    array = pa.array(col)
            arrays.append(array)
        arrays.append(pa.array(call_keys, pa.int64()))
        return pa.Table.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])

    def split(
        self,
        table: Any,
        state: dict[str, Any],
        repeated: set[str],
        at: int,
    ) -> tuple[Any, Any, Any]:
        """``table``'s rows (``table``) of calls new to the store, of calls it
        holds (``state``), and of calls more than once in the batch
        (``repeated``), each in the batch's order; ``at``: the record key's
        column."""
        import pyarrow as pa

        keys = self.cols[at]
        twice = [k in repeated for k in keys]
        known = [k in state and not t for k, t in zip(keys, twice, strict=True)]
        new = [not (a or b) for a, b in zip(known, twice, strict=True)]
        return tuple(table.filter(pa.array(m)) for m in (new, known, twice))
