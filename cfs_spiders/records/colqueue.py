"""The Arrow columns of a buffer of records, in the buffer's order.

Why a module of its own: the store pipeline keeps it for every run, a poll's
too, and it needs neither polars nor pyarrow (``colarrow.py`` does); it only
slices the ``colarrow.PageColumns`` it holds.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class ColumnQueue:
    """The columns of a buffer of records, in the buffer's order: a run of
    records with their ``PageColumns`` or without (``None``: sent as dicts)."""

    def __init__(self) -> None:
        self._parts: deque[tuple[Any, int]] = deque()

    def add(self, columns: Any, n: int) -> None:
        if n:
            self._parts.append((columns, n))

    def put_back(self, n: int) -> None:
        """``n`` records back at the buffer's front, without columns."""
        if n:
            self._parts.appendleft((None, n))

    def take(self, n: int) -> list[Any] | None:
        """The columns of the buffer's first ``n`` records, taken off; ``None``
        when some of them have none."""
        parts: list[Any] = []
        while n > 0 and self._parts:
            columns, count = self._parts.popleft()
            if count > n:  # the rest stays at the front
                rest = None if columns is None else columns.slice(n, count)
                self._parts.appendleft((rest, count - n))
                columns = None if columns is None else columns.slice(0, n)
                count = n
            parts.append(columns)
            n -= count
        if n > 0 or any(p is None for p in parts):
            return None
        return parts
