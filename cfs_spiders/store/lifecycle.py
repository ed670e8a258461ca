"""A call's life cycle on a live listing: seen, still there, gone.

Mixed into the store. The interface is one fact per complete read of a listing:
``mark_disappeared(feed_id, fetched_at, board, keys)``, where ``keys`` are the
record keys the listing held (this run's complete listing of ids). Whoever decides
that a read counts as a complete listing calls it; nothing here knows about HTTP
or Scrapy.

``disappeared_at`` is the first complete listing after a call's ``last_seen`` that
did not hold it, computed from the ``listings`` table so that runs committed out
of order give the answer runs in order would. A listing's work is proportional to
the board: only calls still open (partial index ``calls_open``) or gone later than
this listing (``calls_gone``) are looked at, never the feed's whole history.
The presence spans that reach past a time are found the same way
(``SPANS_PAST``): a span ends at one of its call's sightings, so its call was
seen since, and is still open (``calls_open``) or gone since (``calls_gone``);
``presence`` needs no index of its own on ``last_seen``.

The public methods take a feed id; the statements name the feed by its key
(``feed`` in the helpers: ``feeds.feed_key``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .base import FEED_KEY, PRESENCE_COLUMNS, by_call, feed_key_of
from .history import Span, cut_presence
from .write import LISTING_BOARDS, Sighting

# the presence spans of feed ``{ph}`` (its key) that end after (``{op}`` ``>``)
# or at (``>=``) a time and begin at or before it: the spans of the calls seen
# since that time, read from the calls' partial indexes (a call's last sighting
# ends its latest span, and a call gone since was gone after its last sighting),
# each then one seek into presence's primary key (``presence`` as ``by_call``
# gives it: with the call's feed and record key, and its ``call_key``)
# (the feed is named in the subqueries only: a condition on the joined calls'
# feed_key would let the planner walk every call of the feed instead)
SPANS_PAST = (
    "SELECT {cols} FROM " + by_call("presence", PRESENCE_COLUMNS) + " WHERE "
    "call_key IN (SELECT call_key FROM calls WHERE feed_key = {ph} AND "
    "last_seen {op} {ph} AND disappeared_at IS NULL UNION ALL SELECT call_key "
    "FROM calls WHERE feed_key = {ph} AND disappeared_at >= {ph} AND "
    "disappeared_at IS NOT NULL) AND last_seen {op} {ph} AND first_seen {first} "
    "{ph}"
)


def spans_past_params(feed: int, when: str) -> tuple[Any, ...]:
    """``SPANS_PAST``'s parameters, in order, for a feed's key and a time."""
    return (feed, when, feed, when, when, when)


@runtime_checkable
class ListedKeys(Protocol):
    """A run's complete listing of keys, asked rather than handed over: the
    crawl keeps it out of memory (``ingest/pipelines.KeySpool``)."""

    def among(self, keys: set[str]) -> set[str]:
        """Those of ``keys`` the listing held."""
        ...


class ListingLifecycle:
    """Listings, presence spans and disappearance; needs the store's
    ``transaction``, ``_sql``, ``placeholder`` and the ``RecordWriter`` helpers."""

    placeholder: str

    def mark_disappeared(
        self,
        feed_id: str,
        fetched_at: str,
        board: str,
        keys: set[str] | frozenset[str] | list[str] | ListedKeys | None = None,
    ) -> int:
        """A complete, successful read at ``fetched_at`` of a live listing that
        held exactly ``keys``: the calls not on it left it. Returns how many.

        On an active-calls board, leaving it means the call closed (status
        ``closed``, basis ``feed_presence`` unless the feed itself already said
        closed); on a recent-window listing it only rolled off, so only
        ``disappeared_at`` is set. Never call it for a failed or partial run.

        ``keys`` may name calls whose records were not read in this run (a listing
        of ids only): they count as seen at ``fetched_at`` with unchanged values.

        ``keys`` may instead be a ``ListedKeys`` (the crawl's record of a run that
        wrote every call it listed): the store then works the listing out itself
        and asks it only about the calls it cannot tell (see ``_listed``), so no
        set of every call listed is ever built, and the work is the board's.

        When ``keys`` is ``None``, what this store object wrote at ``fetched_at``
        is the listing: the calls whose ``last_seen`` is then, and those the span
        rules placed (``_sighted``); exact unless another writer's later run of
        the feed committed in between (the crawl passes a ``ListedKeys`` for that).
        If it wrote nothing then, the calls whose presence reaches ``fetched_at``
        are used (right for runs written in order).
        """
        if board not in LISTING_BOARDS:
            return 0
        with self.transaction(feed_id) as cur:
            self._listing_board(feed_id, cur)
            feed = self._feed_key(cur, feed_id)
            placed = self._sighted.pop((feed_id, fetched_at), None)
            if keys is None:
                keys = (
                    self._present_at(cur, feed, fetched_at)
                    if placed is None
                    else placed
                )
            elif isinstance(keys, ListedKeys):
                keys = self._listed(cur, feed, fetched_at, keys) | (placed or set())
            return self._apply_listing(cur, feed, fetched_at, board, set(keys))

    def _spans_past(
        self, cur: Any, feed: int, when: str, cols: str, op: str, first: str
    ) -> list[tuple[Any, ...]]:
        """``SPANS_PAST``'s rows: ``cols`` of the spans ending ``op`` ``when``
        and beginning ``first`` it."""
        ph = self.placeholder
        sql = SPANS_PAST.format(cols=cols, ph=ph, op=op, first=first)
        cur.execute(self._sql(sql), spans_past_params(feed, when))
        return cur.fetchall()

    def _listed(self, cur: Any, feed: int, when: str, listed: ListedKeys) -> set[str]:
        """The calls of a listing whose records were all written at ``when`` that
        ``_apply_listing`` needs named: those seen later too (a run committed
        out of order, or another writer's later run committed before this
        close). Every other call written then has ``last_seen`` at ``when``,
        which is all the rules need of it. The candidates are the presence spans
        that reach past ``when`` (``SPANS_PAST``: none at all for runs in
        order); ``listed`` says which of them the run listed."""
        rows = self._spans_past(cur, feed, when, "record_key", ">", "<=")
        candidates = {r[0] for r in rows}
        return listed.among(candidates) if candidates else set()

    def touch_listing(self, feed_id: str, fetched_at: str, board: str) -> int:
        """A live listing answered "not modified": what was on it is still on it.

        The calls of the latest stored listing before ``fetched_at`` are seen
        again at ``fetched_at`` (values unchanged) and the listing is remembered.
        Returns the number of calls still on the listing.
        """
        if board not in LISTING_BOARDS:
            return 0
        with self.transaction(feed_id) as cur:
            self._listing_board(feed_id, cur)
            feed = self._feed_key(cur, feed_id)
            previous = self._listing_before(cur, feed, fetched_at)
            if previous is None:
                return 0
            keys = self._present_at(cur, feed, previous)
            self._apply_listing(cur, feed, fetched_at, board, keys)
            return len(keys)

    # ------------------------------------------------------------ the rules
    def _apply_listing(
        self, cur: Any, feed: int, when: str, board: str, keys: set[str]
    ) -> int:
        ph = self.placeholder
        cur.execute(
            self._sql(
                f"INSERT INTO listings (feed_key, fetched_at) VALUES ({ph}, {ph}) "
                "ON CONFLICT(feed_key, fetched_at) DO NOTHING"
            ),
            (feed, when),
        )
        self._sight_ids(cur, feed, when, keys)
        closed = self._set_gone(cur, feed, when, board, f"last_seen < {ph}", (when,))
        self._cut_presence(cur, feed, when, keys)
        return closed

    def _present_at(self, cur: Any, feed: int, when: str) -> set[str]:
        """The calls on the listing at ``when`` (their presence reaches it)."""
        return {
            r[0] for r in self._spans_past(cur, feed, when, "record_key", ">=", "<=")
        }

    def _sight_ids(self, cur: Any, feed: int, when: str, keys: set[str]) -> None:
        """Calls on the listing not already seen at ``when``: seen then, with the
        values they had (a listing of ids, or a "not modified" answer)."""
        ph = self.placeholder
        states = self._call_states(cur, feed, keys)
        before = self._listing_before(cur, feed, when)
        later = []
        for key, (_, last, call_key) in states.items():
            if last == when:
                continue
            if last > when:
                later.append(key)
                continue
            cur.execute(
                self._sql(
                    f"UPDATE calls SET last_seen = {ph}, disappeared_at = CASE WHEN "
                    f"disappeared_at <= {ph} THEN NULL ELSE disappeared_at END WHERE "
                    f"feed_key = {ph} AND record_key = {ph}"
                ),
                (when, when, feed, key),
            )
            cur.execute(self._extend_sql("observations"), (when, call_key, last))
            if before is not None and before > last:  # it came back
                cur.execute(self._presence_insert_sql(), (call_key, when, when))
            else:
                cur.execute(self._extend_sql("presence"), (when, call_key, last))
        for key in later:  # a listing older than what is stored: the span rules
            cur.execute(
                self._sql(
                    f"UPDATE calls SET first_seen = {ph} WHERE feed_key = {ph} AND "
                    f"record_key = {ph} AND first_seen > {ph}"
                ),
                (when, feed, key, when),
            )
            self._apply_sighting(cur, feed, Sighting(key, when, None, None, None), True)

    def _cut_presence(self, cur: Any, feed: int, when: str, keys: set[str]) -> None:
        """Calls whose presence spans this listing but who were not on it (it was
        committed after later sightings): their span is cut at it."""
        cols = "record_key, first_seen, last_seen, call_key"
        spans = self._spans_past(cur, feed, when, cols, ">", "<")
        for key, start, end, call_key in spans:
            if key in keys:
                continue
            old = [Span(start, end)]
            new = cut_presence(
                old, when, lambda a, b: self._listings_between(cur, feed, a, b)
            )
            self._replace_spans(cur, call_key, old, new)

    def _set_gone(
        self,
        cur: Any,
        feed: int,
        when: str,
        board: str | None,
        which: str,
        params: tuple[Any, ...],
        again: bool = False,
    ) -> int:
        """Set ``disappeared_at = when`` (and close, on an active board) for the
        calls of ``which`` not already gone earlier (``again``: nor at ``when``,
        to close a call whose newer values were just written). Two statements, so
        that each reads only its partial index: the open calls, and the calls
        gone after ``when``."""
        ph = self.placeholder
        after = ">=" if again else ">"
        close = (
            ", status = 'closed', status_basis = CASE WHEN status = 'closed' THEN "
            "status_basis ELSE 'feed_presence' END"
            if board == "active_calls"
            else ""
        )
        update = (
            f"UPDATE calls SET disappeared_at = {ph}{close} WHERE feed_key = {ph} "
            f"AND {which}"
        )
        cur.execute(
            self._sql(f"{update} AND disappeared_at IS NULL"), (when, feed, *params)
        )
        changed = int(cur.rowcount or 0)
        cur.execute(
            self._sql(f"{update} AND disappeared_at {after} {ph}"),
            (when, feed, *params, when),
        )
        return changed + int(cur.rowcount or 0)

    def _gone_since(self, cur: Any, feed: int, fetched_at: str) -> None:
        """Calls just seen at ``fetched_at`` when a later complete listing is
        already stored (a run committed out of order): gone at that listing."""
        ph = self.placeholder
        cur.execute(
            self._sql(
                f"SELECT MIN(fetched_at) FROM listings WHERE feed_key = {ph} "
                f"AND fetched_at > {ph}"
            ),
            (feed, fetched_at),
        )
        later = cur.fetchone()[0]
        if later is None:
            return
        cur.execute(
            self._sql(f"SELECT board FROM feeds WHERE feed_key = {ph}"), (feed,)
        )
        row = cur.fetchone()
        self._set_gone(
            cur,
            feed,
            later,
            row[0] if row else None,
            f"last_seen = {ph}",
            (fetched_at,),
            again=True,
        )

    def left_and_arrived(
        self, feed_id: str, fetched_at: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The calls that left the listing at ``fetched_at`` and those first seen
        in it, with the values near-identity is judged on (key churn). Both read
        a partial index (gone calls; calls still listed, seen last then): the
        work is the board's, not the history's."""
        cols = (
            "record_key, received_at_utc, dispatched_at_utc, agency_raw, address, "
            "call_type_raw"
        )
        gone = self.query(  # type: ignore[attr-defined]
            f"SELECT {cols} FROM calls WHERE feed_key = {FEED_KEY} AND "
            "disappeared_at = ?",
            (feed_id, fetched_at),
        )
        new = self.query(  # type: ignore[attr-defined]
            f"SELECT {cols} FROM calls WHERE feed_key = {FEED_KEY} AND last_seen = ? "
            "AND first_seen = ? AND disappeared_at IS NULL",
            (feed_id, fetched_at, fetched_at),
        )
        return gone, new

    def last_listing(self, feed_id: str) -> str | None:
        """Fetch time (ISO UTC) of the feed's latest complete listing, or None:
        incremental polls read the whole listing again when it grows old."""
        cur = self.conn.cursor()
        cur.execute(
            self._sql(
                "SELECT MAX(fetched_at) FROM listings WHERE feed_key = "
                f"{feed_key_of(self.placeholder)}"
            ),
            (feed_id,),
        )
        row = cur.fetchone()
        return row[0] if row and row[0] else None
