"""A SQLite query read in key order on two connections at once: the calls cut
into ranges of the primary key, each range read on a thread of its own, the
batches handed on in key order.

Why: in key order a call is a seek into the table (the rows are stored in the
order they were written, not by key), and at a million calls reading the store
costs twice writing ``calls.csv``; one connection keeps one core busy while
the other waits for it. The calls are read in the order of their feed ids (as
``calls.csv`` has always been), while the primary key is ``(feed_key,
record_key)``: so a range never spans two feeds but one in part; it is one
feed's keys from one bound to the next (one seek on the primary key), or every
call of the whole feeds between two bounds (a seek per feed). At most
``workers + 1`` ranges are held at once.

The same snapshot: each range is read in a transaction of its own, so a commit
by another process while the ranges are read could mix two states of the
store. ``PRAGMA data_version`` on the store's own connection, read before the
first range is read and after the last, tells whether any commit happened in between;
if one did, ``StoreChanged`` is raised (the caller reads again, on one
connection).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any

FEED = "calls_feed.feed_id"
RECORD = "calls.record_key"
KEY = f"{FEED}, {RECORD}"


class StoreChanged(RuntimeError):
    """Another connection committed while the ranges were read."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def key_bounds(store: Any, rows: int) -> list[tuple[str, str]] | None:
    """The key of every ``rows``-th call in key order (read from the primary
    key's index alone, as Arrow batches of ``rows``), the first call's left
    out; ``None`` when a key cannot be written as a SQL literal (a NUL) or
    the store has no Arrow reader."""
    batches = store.iter_batches(
        f"SELECT {KEY} FROM calls JOIN feeds AS calls_feed USING (feed_key) "
        f"ORDER BY {KEY}",
        rows=rows,
    )
    if batches is None:
        return None
    bounds = []
    for batch in batches:
        feed, key = batch.column(0)[0].as_py(), batch.column(1)[0].as_py()
        if not (isinstance(feed, str) and isinstance(key, str)):
            return None
        if "\x00" in feed or "\x00" in key:
            return None
        bounds.append((feed, key))
    return bounds[1:]


def _between(
    low: tuple[str, str] | None,
    high: tuple[str, str] | None,
    feeds: list[str] | None,
) -> list[str]:
    """The conditions, in key order, of the calls from ``low`` (included) to
    ``high`` (not), each within one feed or of whole feeds only (``None``: no
    bound). ``feeds``, when known, are the feeds that have calls: the whole
    feeds between the two bounds are read only if there are some."""
    if low is not None and high is not None and low[0] == high[0]:
        return [
            f"{FEED} = {_literal(low[0])} AND {RECORD} >= {_literal(low[1])} AND "
            f"{RECORD} < {_literal(high[1])}"
        ]
    out, whole = [], []
    if low is not None:
        out.append(f"{FEED} = {_literal(low[0])} AND {RECORD} >= {_literal(low[1])}")
        whole.append(f"{FEED} > {_literal(low[0])}")
    if high is not None:
        whole.append(f"{FEED} < {_literal(high[0])}")
    if feeds is None or any(
        (low is None or f > low[0]) and (high is None or f < high[0]) for f in feeds
    ):
        out.append(" AND ".join(whole))
    if high is not None:
        out.append(f"{FEED} = {_literal(high[0])} AND {RECORD} < {_literal(high[1])}")
    return out


def range_conditions(
    bounds: list[tuple[str, str]], feeds: list[str] | None = None
) -> list[str]:
    """The WHERE condition of each range between consecutive ``bounds``
    (the first open below, the last open above), cut where a range would span
    two feeds in part: together every call, once, in key order. ``feeds``: the
    ids of the feeds that have calls (``feeds_with_calls``), if known."""
    if not bounds:
        return [""]
    edges: list[tuple[str, str] | None] = [None, *bounds, None]
    return [c for a, b in pairwise(edges) for c in _between(a, b, feeds)]


def feeds_with_calls(store: Any) -> list[str]:
    """The ids of the feeds that have calls, in order (a seek per feed)."""
    rows = store.conn.execute(
        "SELECT feed_id FROM feeds f WHERE EXISTS (SELECT 1 FROM calls c WHERE "
        "c.feed_key = f.feed_key) ORDER BY feed_id"
    ).fetchall()
    return [r[0] for r in rows]


def calls_estimate(store: Any) -> int:
    """About how many calls the store holds: the largest rowid (one seek; calls
    are rarely deleted), enough to tell whether ranges are worth reading."""
    row = store.conn.execute("SELECT max(rowid) FROM calls").fetchone()
    return int(row[0] or 0)


def data_version(store: Any) -> int:
    return int(store.conn.execute("PRAGMA data_version").fetchone()[0])


def ranged_batches(
    store: Any,
    query: Callable[[str], str],
    *,
    range_rows: int = 16384,
    batch_rows: int = 8192,
    workers: int = 2,
) -> Iterator[Any] | None:
    """The batches of ``query(condition)`` for each key range in turn, read
    ``workers`` ranges at a time; ``None`` when the store cannot be read so
    (no Arrow reader, a key with a NUL). Raises ``StoreChanged`` after the
    last batch if another connection committed meanwhile."""
    bounds = key_bounds(store, range_rows)
    if bounds is None:
        return None
    conditions = range_conditions(bounds, feeds_with_calls(store))
    # after the keys' read: the bounds need not be of the same state (the
    # ranges cover every key whatever they are), the ranges do
    before = data_version(store)

    def read(condition: str) -> list[Any]:
        batches = store.iter_batches(query(condition), rows=batch_rows)
        return list(batches) if batches is not None else []

    return _in_order(store, [lambda c=c: read(c) for c in conditions], workers, before)


def _in_order(
    store: Any, tasks: list[Callable[[], list[Any]]], workers: int, before: int
) -> Iterator[Any]:
    """Each task's batches in task order, ``workers`` tasks running and one
    more done ahead at most; the data version checked after the last."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="cfs-read-range")
    pending: deque[Future[list[Any]]] = deque()
    queue = iter(tasks)
    try:
        for task in queue:
            pending.append(pool.submit(task))
            if len(pending) > workers:
                break
        while pending:
            done = pending.popleft().result()
            task = next(queue, None)
            if task is not None:
                pending.append(pool.submit(task))
            yield from done
            del done
        if data_version(store) != before:
            raise StoreChanged("the store changed while calls.csv was read")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
