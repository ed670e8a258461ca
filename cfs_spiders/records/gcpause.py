"""Pause Python's cyclic garbage collector around bulk record work.

Parsing a page and building its records allocate hundreds of thousands of dicts
that hold no reference cycles; each allocation burst makes the collector walk
every live object again (the whole page), which costs 10-25% of a backfill.
``paused_gc()`` switches the collector off for such a block and back on after it
(reference counting still frees everything at once; the collector only finds
cycles, which this work does not make). Blocks may nest and interleave (feeds
crawled side by side): the collector comes back when the last one ends, and only
if it was on to begin with.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    global _depth, _was_enabled
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
                gc.enable()
