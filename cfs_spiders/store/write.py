"""Writing a batch of records: the calls' latest values, and a version only when
what the feed published changed.

Mixed into the store. Each record's raw values are hashed (``change_hash``); a call
seen again with the same hash only moves its ``last_seen`` (and the end of its
current version and presence span); a new hash is a new row of ``observations``
holding the raw record, once (compressed, ``raw.py``). Sightings in fetch order (the common case: a poll
after the last one) are written in bulk; a sighting older than what the store
holds for the call (runs committed out of order) goes through the span rules of
``history.py``, one call at a time.

Rows name the feed and the run by their integer keys (``feeds.feed_key``,
``runs.run_key``): a batch looks its feed's key up once (``_feed_key``) and each
of its runs' once (``_run_keys``, which makes the run's row on its first write);
the statements below bind those keys where the ids were. The history rows name
their call by ``calls.call_key``: a call held already has its key read with its
state (``_call_states``); the batch's new calls get the next keys, in the order
they come (``_new_call_keys``), so that a backfill's versions and spans are
appended to their tables' primary keys, not scattered over them.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Container, Iterable
from typing import Any

from ..records.encoding import change_digest, raw_json, record_json
from .base import RECORD_COLUMNS, STORED_AS, STORED_COLUMNS, db_value
from .batch_parts import BatchCompressor, filled_columns
from .call_states import State, call_states
from .history import Span, Version, add_presence, add_version, present_at
from .ids import CallColumns, Sighting, StoreKeys

LISTING_BOARDS = ("active_calls", "recent_window")
_LIFE = ("first_seen", "last_seen", "values_hash")
_CALL_COLUMNS = (*STORED_COLUMNS, *_LIFE, "call_key")
# a history row's call key and time: (call key, time, ...) to insert, (time,
# call key, last seen) to extend
_BY_KEY = operator.itemgetter(0, 1)
_EXT_BY_KEY = operator.itemgetter(1, 2)


class RecordWriter(StoreKeys):
    """``write_records`` and the history rows; needs the store's ``transaction``,
    ``_sql``, ``placeholder``, ``dialect`` and ``RawStore``'s ``_raw_encoder``."""

    placeholder: str
    dialect: str
    binds_arrow: bool  # ``_each_row`` may be given an Arrow table (sqlite.py)

    # ------------------------------------------------------------ statements
    def _call_insert_sql(self, columns: tuple[str, ...] = _CALL_COLUMNS) -> str:
        """A plain INSERT of calls the store does not hold yet (known inside the
        batch's transaction): the same row the upsert would insert, at about
        two thirds of its cost on SQLite (no conflict clause to prepare for,
        measured 19 against 27 us a row on the bench rows)."""
        p = ", ".join([self.placeholder] * len(columns))
        return self._sql(f"INSERT INTO calls ({', '.join(columns)}) VALUES ({p})")

    def _upsert_sql(self, columns: tuple[str, ...] = _CALL_COLUMNS) -> str:
        """Insert or update a call held already; ``columns`` are those bound (the
        others insert as NULL, so ``excluded`` has them NULL: see
        ``batch_parts.filled_columns``)."""
        cols = columns
        p = ", ".join([self.placeholder] * len(cols))
        newer = (
            "(excluded.last_seen > calls.last_seen OR (excluded.last_seen = "
            "calls.last_seen AND calls.disappeared_at IS NULL))"
        )
        least = "MIN" if self.dialect == "sqlite" else "LEAST"
        greatest = "MAX" if self.dialect == "sqlite" else "GREATEST"
        sets = [
            f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE calls.{c} END"
            for c in (*STORED_COLUMNS, "values_hash")
            if c not in ("feed_key", "record_key")
        ]
        sets.append(
            "disappeared_at = CASE WHEN excluded.last_seen > calls.disappeared_at "
            "THEN NULL ELSE calls.disappeared_at END"
        )
        sets.append(f"first_seen = {least}(calls.first_seen, excluded.first_seen)")
        sets.append(f"last_seen = {greatest}(calls.last_seen, excluded.last_seen)")
        return self._sql(
            f"INSERT INTO calls ({', '.join(cols)}) VALUES ({p})\n"
            f"ON CONFLICT(feed_key, record_key) DO UPDATE SET {', '.join(sets)}"
        )

    def _version_insert_sql(self) -> str:
        p = ", ".join([self.placeholder] * 7)
        return self._sql(
            "INSERT INTO observations (call_key, fetched_at, last_seen, run_key, "
            f"values_hash, raw_dict, raw_deflate) VALUES ({p}) "
            "ON CONFLICT(call_key, fetched_at) DO NOTHING"
        )

    def _presence_insert_sql(self) -> str:
        ph = self.placeholder
        return self._sql(
            "INSERT INTO presence (call_key, first_seen, last_seen) "
            f"VALUES ({ph}, {ph}, {ph}) "
            "ON CONFLICT(call_key, first_seen) DO NOTHING"
        )

    def _extend_sql(self, table: str) -> str:
        """Move the end of the span that ends at the call's last sighting."""
        ph = self.placeholder
        return self._sql(
            f"UPDATE {table} SET last_seen = {ph} WHERE call_key = {ph} AND "
            f"last_seen = {ph}"
        )

    # ------------------------------------------------------------- the batch
    def write_records(
        self,
        records: list[dict[str, Any]],
        encoded: list[str] | None = None,
        *,
        finite: Container[int] = (),
    ) -> tuple[int, int]:
        """Upsert calls and keep each new version, in one transaction.

        ``encoded``, when given, is ``record_json(r)`` of each record (the store
        pipeline encodes a record once, for the store and the JSON Lines export;
        the raw record's text is cut from it). ``finite`` holds the positions of
        records known to have no NaN or infinite number (the writer process reads
        them from JSON text, where there can be none): their change hash skips
        the check (``_hash``). Returns (new calls, new versions). Idempotent: the
        same records written twice change nothing the second time.
        """
        if not records:
            return 0, 0
        if encoded is None or len(encoded) != len(records):
            encoded = [record_json(rec) for rec in records]
        feed_id = records[0]["feed_id"]
        convert = self.dialect != "sqlite"  # PostgreSQL will not cast booleans
        # the columns of the feed's last batch that had values, and those of
        # this batch's first record; checked below for every record
        guess = set(self._filled.get(feed_id, ()))
        guess.update(c for c, v in records[0].items() if v is not None)
        filled = tuple(c for c in RECORD_COLUMNS if c in guess)
        left = tuple(c for c in RECORD_COLUMNS if c not in guess)
        columns_of = operator.itemgetter(*filled)  # feed_id and record_key at least
        # (a tuple, even of one column)
        left_of = operator.itemgetter(*left, *left[-1:]) if left else None
        n_left = len(left) + 1
        wrong = False  # a value in a column left out: rows made again below
        rows, sightings = [], []
        for i, (rec, text) in enumerate(zip(records, encoded, strict=True)):
            if rec["feed_id"] != feed_id:
                raise ValueError(
                    f"record {rec.get('record_key')!r}: feed {rec['feed_id']!r} in a "
                    f"batch of {feed_id!r} (one feed per batch)"
                )
            fetched = rec["fetched_at"]
            raw = rec.get("raw")
            # stored as its 16 bytes; a record read from JSON text (``finite``)
            # is hashed without the NaN walk
            value = change_digest(raw, i in finite)
            try:
                row = list(columns_of(rec))
                if left_of is not None and left_of(rec).count(None) != n_left:
                    wrong = True
            except KeyError:  # a record without some field: None
                row = [rec.get(c) for c in filled]
                wrong = wrong or any(rec.get(c) is not None for c in left)
            if convert:
                row = [db_value(v) for v in row]
            row.extend((fetched, fetched, value))
            rows.append(row)
            sightings.append(
                Sighting(
                    rec["record_key"],
                    fetched,
                    rec["run_id"],
                    value,
                    raw_json(rec, text),
                )
            )
        if wrong:
            filled = filled_columns(records)
            rows = [[rec.get(c) for c in filled] for rec in records]
            if convert:
                rows = [[db_value(v) for v in row] for row in rows]
            for row, s in zip(rows, sightings, strict=True):
                row.extend((s.t, s.t, s.value))
        self._filled[feed_id] = filled
        return self.write_rows(feed_id, filled, rows, sightings)

    def write_rows(
        self,
        feed_id: str,
        filled: tuple[str, ...],
        rows: list[list[Any]] | CallColumns,
        sightings: list[Sighting],
    ) -> tuple[int, int]:
        """The core both paths share, ``write_records`` (rows from record
        dicts) and ``arrow_batch.write_columns`` (a batch's columns, in the
        writer process: ``CallColumns``, zipped into rows once their keys are
        bound): ``rows`` are the calls rows of
        ``filled`` (then first seen, last seen, change hash), ``sightings`` the
        same records' sightings, in order. One transaction: the sources, the
        calls (inserted or upserted), the versions and presence by the
        life-cycle rules (``_write_batch``), what left a listing. Returns (new
        calls, new versions)."""
        new_dicts: dict[int, tuple[str, bytes]] = {}
        new_sources: dict[str, int] = {}
        new_runs: dict[str, int] = {}
        columns = (*(STORED_AS.get(c, c) for c in filled), *_LIFE, "call_key")
        with self.transaction(feed_id) as cur:
            feed = self._feed_key(cur, feed_id)
            runs = self._run_keys(cur, feed, {s.run_id for s in sightings}, new_runs)
            if isinstance(rows, CallColumns):
                sources = None
                if "source_url" in filled:
                    sources = lambda urls: self._source_keys(cur, urls, new_sources)  # noqa: E731
                rows.bind_keys(feed, runs, sources)
                for s in sightings:
                    s.run_id = runs[s.run_id]
            else:
                if "source_url" in filled:
                    at = filled.index("source_url")
                    self._source_ids(cur, rows, at, new_sources)
                self._bind_keys(rows, filled, feed, runs, sightings)
            compress = self._batch_compressor(cur, feed, sightings, new_dicts)
            new_calls, new_versions, placed = self._write_batch(
                cur, feed_id, feed, columns, rows, sightings, compress
            )
            for fetched in sorted({s.t for s in sightings}):
                self._gone_since(cur, feed, fetched)
        # ids given in a transaction are kept only once it committed
        self._committed_dicts(new_dicts)
        self._sources.update(new_sources)
        self._run_key_cache.update(new_runs)
        if self._listing_board(feed_id):
            # what the listing's close needs beyond the store's own columns (see
            # ``_sighted``): the fetch times written, and the calls placed by the
            # span rules at each
            for s in sightings:
                self._sighted.setdefault((feed_id, s.t), set())
            for s in placed:
                self._sighted[(feed_id, s.t)].add(s.key)
        return new_calls, new_versions

    @property
    def _filled(self) -> dict[str, tuple[str, ...]]:
        """Per feed, the columns its last batch had values in (a guess for the
        next batch's, which ``write_records`` checks)."""
        return self.__dict__.setdefault("_filled_columns", {})

    @property
    def _sources(self) -> dict[str, int]:
        """``sources.source_id`` by URL, as committed."""
        return self.__dict__.setdefault("_source_cache", {})

    def _source_ids(
        self, cur: Any, rows: list[list[Any]], at: int, new: dict[str, int]
    ) -> None:
        """Each row's ``source_url`` (at ``at``) replaced by its
        ``sources.source_id`` (``_source_keys``)."""
        found = self._source_keys(cur, {row[at] for row in rows}, new)
        for row in rows:
            row[at] = found[row[at]]

    def _source_keys(
        self, cur: Any, urls: set[str | None], new: dict[str, int]
    ) -> dict[str | None, int | None]:
        """The ``sources.source_id`` of each URL (``None``: ``None``); a URL not
        yet there is added (``new`` gets the ids this transaction gave)."""
        known = self._sources
        out: dict[str | None, int | None] = {None: None}
        for url in urls:
            if url is None:
                continue
            found = known.get(url) or new.get(url)
            if found is None:
                found = new[url] = self._key_made(
                    cur, "sources", "source_id", {"source_url": url}
                )
            out[url] = found
        return out

    def _batch_compressor(
        self,
        cur: Any,
        feed: int,
        sightings: list[Sighting],
        new: dict[int, tuple[str, bytes]],
    ) -> BatchCompressor:
        """The batch's compressor (``batch_parts.BatchCompressor``)."""
        return BatchCompressor(
            lambda: self._raw_encoder(
                cur, feed, [s.raw for s in sightings if s.raw is not None], new
            )
        )

    def _write_batch(
        self,
        cur: Any,
        feed_id: str,
        feed: int,
        columns: tuple[str, ...],
        rows: list[list[Any]],
        sightings: list[Sighting],
        compress: BatchCompressor,
    ) -> tuple[int, int, list[Sighting]]:
        """(new calls, new versions, the sightings placed by the span rules);
        ``rows`` are the calls rows of ``columns`` but the last, ``call_key``
        (added here); ``feed`` is the feed's key."""
        board = self._listing_board(feed_id, cur)
        keys = {s.key for s in sightings}
        state = self._call_states(cur, feed, keys)
        repeated = {k for k, n in Counter(s.key for s in sightings).items() if n > 1}
        times = {s.t for s in sightings} if board else ()
        before = {t: self._listing_before(cur, feed, t) for t in times}
        at = columns.index("record_key")
        by_columns = rows if isinstance(rows, CallColumns) else None
        if by_columns is not None:  # the rows made here (or an Arrow table)
            call_keys, rows = self._keys_of_columns(cur, by_columns, at, state)
        else:
            call_keys = self._keys_of_rows(cur, rows, at, state)
        versions, ext_versions, spans, ext_spans, slow = [], [], [], [], []
        for s in sightings:
            known = state.get(s.key)
            if s.key in repeated:
                slow.append(s)
            elif known is None:  # first sighting
                ck = call_keys[s.key]
                versions.append((ck, s.t, s.t, s.run_id, s.value, s.raw))
                if board:
                    spans.append((ck, s.t, s.t))
            elif s.t > known[1]:  # after the call's last sighting
                ck = known[2]
                if s.value == known[0]:
                    ext_versions.append((s.t, ck, known[1]))
                else:
                    versions.append((ck, s.t, s.t, s.run_id, s.value, s.raw))
                if board:
                    listing = before[s.t]
                    if listing is not None and listing > known[1]:
                        spans.append((ck, s.t, s.t))  # it came back
                    else:
                        ext_spans.append((s.t, ck, known[1]))
            elif s.t == known[1] and s.value == known[0]:
                continue  # the same sighting again
            else:
                slow.append(s)
        if (state or repeated) and not isinstance(rows, list):  # an Arrow table
            assert by_columns is not None
            new_rows, known_rows, twice = by_columns.split(rows, state, repeated, at)
        elif state or repeated:  # calls held already: upserted
            new_rows, known_rows, twice = [], [], []
            for r in rows:
                key = r[at]
                if key in repeated:
                    twice.append(r)
                elif key in state:
                    known_rows.append(r)
                else:
                    new_rows.append(r)
        else:  # a backfill's batch: every call is new
            new_rows, known_rows, twice = rows, [], []
        self._insert_many(cur, self._call_insert_sql(columns), new_rows)
        self._insert_many(cur, self._upsert_sql(columns), known_rows)
        if len(twice):  # a call twice in one batch: its rows one after another
            self._each_row(cur, self._upsert_sql(columns), twice)
        # the history rows in call key order (each call once here, so the
        # order changes nothing stored): their primary keys lead with the call
        # key, so the new calls' rows are appended, and the rows of calls held
        # already walk the pages once, in order
        if versions:
            versions.sort(key=_BY_KEY)
            dict_id, blobs = compress.many([v[5] for v in versions])
            self._insert_many(
                cur,
                self._version_insert_sql(),
                [(*v[:5], dict_id, b) for v, b in zip(versions, blobs, strict=True)],
            )
        if ext_versions:
            ext_versions.sort(key=_EXT_BY_KEY)
            cur.executemany(self._extend_sql("observations"), ext_versions)
        if spans:
            spans.sort(key=_BY_KEY)
            cur.executemany(self._presence_insert_sql(), spans)
        if ext_spans:
            ext_spans.sort(key=_EXT_BY_KEY)
            cur.executemany(self._extend_sql("presence"), ext_spans)
        added = len(versions)
        for s in slow:  # one call at a time, in the order given
            added += self._apply_sighting(cur, feed, s, board, compress)
        return len(keys - state.keys()), added, slow

    def _insert_many(self, cur: Any, sql: str, rows: list[Any]) -> None:
        """Run an ``INSERT ... VALUES (...) [ON CONFLICT ...]`` for every row, in
        bulk: ``executemany`` here (SQLite); PostgreSQL ``COPY``s the rows to a
        staging table and inserts them in one statement. The rows' keys must be
        distinct (an upsert may not touch one row twice in a statement)."""
        self._each_row(cur, sql, rows)

    @staticmethod
    def _each_row(cur: Any, sql: str, rows: Any) -> None:
        """``sql`` run for each row, in order: ``rows`` a list of rows, or an
        Arrow table (``CallColumns.table``) bound in C by a store that binds
        Arrow (``adbc_conn.Cursor.execute_arrow``)."""
        if isinstance(rows, list):
            if rows:
                cur.executemany(sql, rows)
        elif len(rows):
            cur.execute_arrow(sql, rows)

    def _call_states(
        self, cur: Any, feed: int, keys: Iterable[str]
    ) -> dict[str, State]:
        """``call_states.call_states`` with this store's dialect."""
        return call_states(cur, self.dialect, self.placeholder, self._sql, feed, keys)

    def _listing_before(self, cur: Any, feed: int, t: str) -> str | None:
        cur.execute(
            self._sql(
                f"SELECT MAX(fetched_at) FROM listings WHERE feed_key = "
                f"{self.placeholder} AND fetched_at < {self.placeholder}"
            ),
            (feed, t),
        )
        return cur.fetchone()[0]

    def _listing_board(self, feed_id: str, cur: Any = None) -> bool:
        """Whether the feed is a live listing (its calls have presence spans)."""
        boards = self.__dict__.setdefault("_boards", {})
        if feed_id not in boards:
            if cur is None:
                return False
            cur.execute(
                self._sql(
                    f"SELECT board FROM feeds WHERE feed_id = {self.placeholder}"
                ),
                (feed_id,),
            )
            row = cur.fetchone()
            boards[feed_id] = bool(row and row[0] in LISTING_BOARDS)
        return boards[feed_id]

    @property
    def _sighted(self) -> dict[tuple[str, str], set[str]]:
        """Per (feed, fetch time) written on a listing, until the listing is
        recorded: the keys of the sightings placed by the span rules (out of
        order, repeated in a batch, or with other values at the same time).

        Why only those: every other call seen at that time has ``last_seen`` at
        it, so a listing's close (``mark_disappeared`` without keys) needs no set
        of every call listed (see ``lifecycle.py``)."""
        return self.__dict__.setdefault("_sighted_keys", {})

    # ------------------------------------------------ one call, in any order
    def _apply_sighting(
        self,
        cur: Any,
        feed: int,
        s: Sighting,
        board: bool,
        compress: BatchCompressor | None = None,
    ) -> int:
        """A sighting placed by the span rules (out of order, repeated, or an id
        without values); returns the versions added (may be negative when spans
        join). ``compress`` is needed when the sighting has values."""
        ph = self.placeholder
        ck = self._call_key(cur, feed, s.key)
        spans: list[Span] = []
        if board:
            cur.execute(
                self._sql(
                    "SELECT first_seen, last_seen FROM presence WHERE call_key = "
                    f"{ph} ORDER BY first_seen"
                ),
                (ck,),
            )
            spans = [Span(a, b) for a, b in cur.fetchall()]
        cur.execute(
            self._sql(
                "SELECT fetched_at, last_seen, values_hash, run_key, raw_dict, "
                f"raw_deflate FROM observations WHERE call_key = {ph} "
                "ORDER BY fetched_at"
            ),
            (ck,),
        )
        rows = cur.fetchall()
        rows = [(a, b, bytes(h), *rest) for a, b, h, *rest in rows]
        old = [Version(a, b, h) for a, b, h, *_ in rows]
        # a version moved keeps its compressed raw record as it is
        payload: dict[bytes, tuple[Any, ...]] = {}
        for _, _, h, run, dict_id, blob in rows:
            payload[h] = (run, dict_id, blob)
        starts = {v.start: v for v in old}
        if s.value is not None and s.value not in payload:
            if compress is None or s.raw is None:
                raise ValueError(f"sighting of {s.key!r} with values but no raw text")
            payload[s.value] = (s.run_id, *compress(s.raw))

        def inner(a: str, b: str) -> list[str]:
            if not board:
                return []
            return [
                t
                for t in self._listings_between(cur, feed, a, b)
                if present_at(spans, t)
            ]

        new = add_version(old, s.t, s.value, inner)
        for v in old:
            if v not in new:
                cur.execute(
                    self._sql(
                        f"DELETE FROM observations WHERE call_key = {ph} AND "
                        f"fetched_at = {ph}"
                    ),
                    (ck, v.start),
                )
        for v in new:
            if v in old:
                continue
            run_id, dict_id, blob = payload[v.value]
            if v.start == s.t and v.value == s.value:
                run_id = s.run_id
            elif v.start in starts and starts[v.start].value == v.value:
                run_id = next(r[3] for r in rows if r[0] == v.start)
            cur.execute(
                self._version_insert_sql(),
                (ck, v.start, v.end, run_id, v.value, dict_id, blob),
            )
        if board:
            self._place_presence(cur, feed, ck, s.t, spans)
        return len(new) - len(old)

    def _place_presence(
        self, cur: Any, feed: int, call_key: int, t: str, spans: list[Span]
    ) -> None:
        new = add_presence(
            spans, t, lambda a, b: bool(self._listings_between(cur, feed, a, b))
        )
        self._replace_spans(cur, call_key, spans, new)

    def _replace_spans(
        self, cur: Any, call_key: int, old: list[Span], new: list[Span]
    ) -> None:
        ph = self.placeholder
        for sp in old:
            if sp not in new:
                cur.execute(
                    self._sql(
                        f"DELETE FROM presence WHERE call_key = {ph} AND "
                        f"first_seen = {ph}"
                    ),
                    (call_key, sp.start),
                )
        for sp in new:
            if sp not in old:
                cur.execute(self._presence_insert_sql(), (call_key, sp.start, sp.end))

    def _listings_between(self, cur: Any, feed: int, a: str, b: str) -> list[str]:
        ph = self.placeholder
        cur.execute(
            self._sql(
                f"SELECT fetched_at FROM listings WHERE feed_key = {ph} AND fetched_at "
                f"> {ph} AND fetched_at < {ph} ORDER BY fetched_at"
            ),
            (feed, a, b),
        )
        return [r[0] for r in cur.fetchall()]
