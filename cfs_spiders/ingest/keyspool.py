"""The record keys a run read off a live listing, on disk (see ``KeySpool``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable

import orjson


class KeySpool:
    """The record keys a run read off a live listing, spooled to a temporary
    file instead of held in a set.

    Why: the complete listing decides which calls left it, but the store can
    tell nearly all of it itself (a call written at the run's fetch time has
    ``last_seen`` there); it asks only about the calls also seen later (runs
    committed out of order, another writer's later run), through ``among``
    (``store.lifecycle.ListedKeys``). A backfill of a million calls then keeps
    a file of their keys, not a million strings in memory, and a run in order
    never reads it back."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.count = 0

    def add(self, keys: Iterable[str]) -> None:
        # a batch's keys as one JSON array a line: a key may hold any character
        batch = list(keys)
        self.count += len(batch)
        if batch:
            self._file.write(orjson.dumps(batch) + b"\n")

    def among(self, keys: set[str]) -> set[str]:
        """Those of ``keys`` the run listed (reads the file once)."""
        found: set[str] = set()
        if not keys or self._file.closed:
            return found
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            found.update(keys.intersection(orjson.loads(line)))
        self._file.seek(0, 2)
        return found

    def close(self) -> None:
        self._file.close()
