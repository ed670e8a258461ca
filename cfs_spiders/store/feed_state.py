"""Runs and feed state: the run rows, and what scheduling and incremental fetches
need per feed (last success, failures, validators, high-water mark, run lock).

Mixed into the store; taking a lock is one atomic ``UPDATE`` on either engine.
"""

from __future__ import annotations

from typing import Any

from .base import FEED_KEY

# a feed_state row with its feed's id (the table holds the feed's key)
_STATE = (
    "SELECT f.feed_id, s.* FROM feed_state s JOIN feeds f ON f.feed_key = s.feed_key"
)


class FeedState:
    """Run rows, ``feed_state`` and run locks; needs the store's ``transaction``,
    ``_sql``, ``query`` and ``placeholder``."""

    placeholder: str

    def record_run(self, run: dict[str, Any]) -> None:
        cols = (
            "run_id",
            "feed_key",
            "mode",
            "started_at",
            "finished_at",
            "fetched_at",
            "status",
            "complete",
            "records",
            "new_calls",
            "new_observations",
            "closed_calls",
            "error",
            "report_json",
        )
        # the feed's key from its id (bound where the key goes)
        p = ", ".join(FEED_KEY if c == "feed_key" else "?" for c in cols)
        updates = ", ".join(f"{c}=excluded.{c}" for c in cols[1:])
        sql = self._sql(
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({p}) "
            f"ON CONFLICT(run_id) DO UPDATE SET {updates}"
        )
        with self.transaction() as cur:
            cur.execute(
                sql, [run.get("feed_id" if c == "feed_key" else c) for c in cols]
            )
            if run.get("status") in ("ok", "degraded", "failed"):
                self._update_state(cur, run)

    def _ensure_state_row(self, cur: Any, feed_id: str) -> None:
        """The feed's ``feed_state`` row exists (created empty if it did not)."""
        cur.execute(
            self._sql(
                f"INSERT INTO feed_state (feed_key) VALUES ({FEED_KEY}) "
                "ON CONFLICT(feed_key) DO NOTHING"
            ),
            (feed_id,),
        )

    def _update_state(self, cur: Any, run: dict[str, Any]) -> None:
        ph = self.placeholder
        ok = run["status"] != "failed"
        self._ensure_state_row(cur, run["feed_id"])
        if ok:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET last_success_at = {ph}, last_attempt_at = "
                    f"{ph}, consecutive_failures = 0 WHERE feed_key = {FEED_KEY}"
                ),
                (run["finished_at"], run["finished_at"], run["feed_id"]),
            )
        else:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET last_attempt_at = {ph}, consecutive_failures"
                    f" = COALESCE(consecutive_failures, 0) + 1 WHERE feed_key = {FEED_KEY}"
                ),
                (run["finished_at"], run["feed_id"]),
            )

    def feed_state(self, feed_id: str) -> dict[str, Any]:
        cur = self.conn.cursor()
        cur.execute(
            self._sql(f"{_STATE} WHERE f.feed_id = {self.placeholder}"),
            (feed_id,),
        )
        row = cur.fetchone()
        if row is None:
            return {}
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def set_state(self, feed_id: str, **values: Any) -> None:
        ph = self.placeholder
        with self.transaction() as cur:
            self._ensure_state_row(cur, feed_id)
            for key, value in values.items():
                cur.execute(
                    self._sql(
                        f"UPDATE feed_state SET {key} = {ph} WHERE feed_key = {FEED_KEY}"
                    ),
                    (value, feed_id),
                )

    def feed_states(self) -> dict[str, dict[str, Any]]:
        """Every feed's state row (scheduling: last success, failures, locks)."""
        return {r["feed_id"]: r for r in self.query(_STATE)}

    def raise_high_water(
        self, feed_id: str, mark: str, ceiling: str | None = None
    ) -> None:
        """Keep the larger of the stored high-water mark and ``mark`` (ISO UTC);
        a stored mark above ``ceiling`` (implausibly in the future) is replaced."""
        ph = self.placeholder
        with self.transaction(feed_id) as cur:
            self._ensure_state_row(cur, feed_id)
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET high_water = {ph} WHERE feed_key = {FEED_KEY} AND "
                    f"(high_water IS NULL OR high_water < {ph} OR high_water > {ph})"
                ),
                (mark, feed_id, mark, ceiling or "9999"),
            )

    def acquire_lock(self, feed_id: str, owner: str, until: str, now: str) -> bool:
        """Take the feed's run lock until ``until`` (ISO UTC) unless someone else
        holds an unexpired one; atomic on both engines. True when taken."""
        ph = self.placeholder
        with self.transaction() as cur:
            self._ensure_state_row(cur, feed_id)
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET lock_owner = {ph}, lock_until = {ph} "
                    f"WHERE feed_key = {FEED_KEY} AND (lock_owner IS NULL OR lock_until IS "
                    f"NULL OR lock_until < {ph} OR lock_owner = {ph})"
                ),
                (owner, until, feed_id, now, owner),
            )
            return (cur.rowcount or 0) == 1

    def renew_lock(self, feed_id: str, owner: str, until: str) -> bool:
        ph = self.placeholder
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET lock_until = {ph} WHERE feed_key = "
                    f"{FEED_KEY} AND lock_owner = {ph}"
                ),
                (until, feed_id, owner),
            )
            return (cur.rowcount or 0) == 1

    def release_lock(self, feed_id: str, owner: str) -> bool:
        ph = self.placeholder
        with self.transaction() as cur:
            cur.execute(
                self._sql(
                    f"UPDATE feed_state SET lock_owner = NULL, lock_until = NULL "
                    f"WHERE feed_key = {FEED_KEY} AND lock_owner = {ph}"
                ),
                (feed_id, owner),
            )
            return (cur.rowcount or 0) == 1
