"""A call's life cycle on a live listing: seen, still there, gone.

Mixed into the store: ``disappeared_at`` is the first complete listing after a
call's ``last_seen`` that did not hold it, computed from the ``listings`` table so
that runs committed out of order give the answer runs in order would.
"""

from __future__ import annotations

from typing import Any


class ListingLifecycle:
    """Listings and disappearance; needs the store's ``transaction``, ``_sql`` and
    ``placeholder``."""

    placeholder: str

    def mark_disappeared(self, feed_id: str, fetched_at: str, board: str) -> int:
        """After a complete, successful fetch of a live listing: calls not in it.

        On an active-calls board, leaving it means the call closed (status
        ``closed``, basis ``feed_presence`` unless the feed itself already said
        closed); on a recent-window listing it only rolled off, so only
        ``disappeared_at`` is set. Never called for a failed or partial run.

        The listing is remembered (table ``listings``), and a call's
        ``disappeared_at`` is the first complete listing after its ``last_seen``
        that did not hold it: runs committed out of order (several writers,
        re-imported history) give the same answer as runs committed in order.
        """
        if board not in ("active_calls", "recent_window"):
            return 0
        ph = self.placeholder
        with self.transaction(feed_id) as cur:
            cur.execute(
                self._sql(
                    f"INSERT INTO listings (feed_id, fetched_at) VALUES ({ph}, {ph}) "
                    "ON CONFLICT(feed_id, fetched_at) DO NOTHING"
                ),
                (feed_id, fetched_at),
            )
            return self._set_gone(
                cur, feed_id, fetched_at, board, f"last_seen < {ph}", (fetched_at,)
            )

    def _set_gone(
        self,
        cur: Any,
        feed_id: str,
        when: str,
        board: str | None,
        which: str,
        params: tuple[Any, ...],
        again: bool = False,
    ) -> int:
        """Set ``disappeared_at = when`` (and close, on an active board) for the
        calls of ``which`` not already gone earlier (``again``: nor at ``when``,
        to close a call whose newer values were just written)."""
        ph = self.placeholder
        after = ">=" if again else ">"
        close = (
            ", status = 'closed', status_basis = CASE WHEN status = 'closed' THEN "
            "status_basis ELSE 'feed_presence' END"
            if board == "active_calls"
            else ""
        )
        cur.execute(
            self._sql(
                f"UPDATE calls SET disappeared_at = {ph}{close} WHERE feed_id = {ph} "
                f"AND {which} AND (disappeared_at IS NULL OR disappeared_at {after} "
                f"{ph})"
            ),
            (when, feed_id, *params, when),
        )
        return int(cur.rowcount or 0)

    def _gone_since(self, cur: Any, feed_id: str, fetched_at: str) -> None:
        """Calls just seen at ``fetched_at`` when a later complete listing is
        already stored (a run committed out of order): gone at that listing."""
        ph = self.placeholder
        cur.execute(
            self._sql(
                f"SELECT MIN(fetched_at) FROM listings WHERE feed_id = {ph} "
                f"AND fetched_at > {ph}"
            ),
            (feed_id, fetched_at),
        )
        later = cur.fetchone()[0]
        if later is None:
            return
        cur.execute(
            self._sql(f"SELECT board FROM feeds WHERE feed_id = {ph}"), (feed_id,)
        )
        row = cur.fetchone()
        self._set_gone(
            cur,
            feed_id,
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
        in it, with the values near-identity is judged on (key churn)."""
        cols = (
            "record_key, received_at_utc, dispatched_at_utc, agency_raw, address, "
            "call_type_raw"
        )
        gone = self.query(  # type: ignore[attr-defined]
            f"SELECT {cols} FROM calls WHERE feed_id = ? AND disappeared_at = ?",
            (feed_id, fetched_at),
        )
        new = self.query(  # type: ignore[attr-defined]
            f"SELECT {cols} FROM calls WHERE feed_id = ? AND first_seen = ?",
            (feed_id, fetched_at),
        )
        return gone, new

    def last_listing(self, feed_id: str) -> str | None:
        """Fetch time (ISO UTC) of the feed's latest complete listing, or None:
        incremental polls read the whole listing again when it grows old."""
        cur = self.conn.cursor()
        cur.execute(
            self._sql(
                f"SELECT MAX(fetched_at) FROM listings WHERE feed_id = "
                f"{self.placeholder}"
            ),
            (feed_id,),
        )
        row = cur.fetchone()
        return row[0] if row and row[0] else None

    def touch_listing(self, feed_id: str, fetched_at: str, board: str) -> int:
        """A live listing answered "not modified": what was on it is still on it.

        The calls of the latest stored listing get ``last_seen = fetched_at`` and
        the listing is remembered; no observation is added (no values were read).
        Returns the number of calls still on the listing.
        """
        if board not in ("active_calls", "recent_window"):
            return 0
        ph = self.placeholder
        with self.transaction(feed_id) as cur:
            cur.execute(
                self._sql(
                    f"SELECT MAX(fetched_at) FROM listings WHERE feed_id = {ph} "
                    f"AND fetched_at < {ph}"
                ),
                (feed_id, fetched_at),
            )
            previous = cur.fetchone()[0]
            if previous is None:
                return 0
            cur.execute(
                self._sql(
                    f"UPDATE calls SET last_seen = {ph} WHERE feed_id = {ph} AND "
                    f"last_seen = {ph} AND disappeared_at IS NULL"
                ),
                (fetched_at, feed_id, previous),
            )
            touched = int(cur.rowcount or 0)
            cur.execute(
                self._sql(
                    f"INSERT INTO listings (feed_id, fetched_at) VALUES ({ph}, {ph}) "
                    "ON CONFLICT(feed_id, fetched_at) DO NOTHING"
                ),
                (feed_id, fetched_at),
            )
            return touched
