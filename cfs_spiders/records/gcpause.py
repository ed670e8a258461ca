"""Pause Python's cyclic garbage collector around bulk record work.

Parsing a page and building its records allocate hundreds of thousands of dicts
that hold no reference cycles; each allocation burst makes the collector walk
every live object again (the whole page), which costs 10-25% of a backfill.
``paused_gc()`` switches the collector off for such a block and back on after it
(reference counting still frees everything at once; the collector only finds
cycles, which this work does not make). Blocks may nest and interleave (feeds
crawled side by side): the collector comes back when the last one ends, and only
if it was on to begin with.

Switching the collector back on is not enough: everything the block allocated
is still young, so the next collections walk the whole page again (and again as
it ages), about 13% of the reactor thread in a backfill. So when the last block
ends, the objects alive then are frozen (``gc.freeze``: moved out of the
collector's generations, an O(1) list splice); reference counting still frees
them. Frozen objects are given back to the collector (``gc.unfreeze``) at most
every ``UNFREEZE_SECONDS`` and by ``release_frozen()`` (a feed run's end), so a
cycle that becomes garbage after being frozen is collected late, never lost.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

UNFREEZE_SECONDS = 60.0

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_last_unfreeze = time.monotonic()


@contextmanager
def paused_gc() -> Iterator[None]:
    """The collector off for the block, back on (if it was on) after the last
    open block; the block's survivors frozen rather than walked again."""
    global _depth, _was_enabled, _last_unfreeze
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                now = time.monotonic()
                if now - _last_unfreeze >= UNFREEZE_SECONDS:
                    gc.unfreeze()
                    _last_unfreeze = now
                else:
                    gc.freeze()
                gc.enable()


def release_frozen() -> None:
    """Give every frozen object back to the collector (at a run's end)."""
    global _last_unfreeze
    with _lock:
        gc.unfreeze()
        _last_unfreeze = time.monotonic()
