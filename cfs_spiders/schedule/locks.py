"""Run locks: two runs of one feed never overlap, whoever starts them.

A *run lock* (``feed_state.lock_owner``/``lock_until``) is taken by ``cfs crawl
--due`` from cron, ``cfs watch``, or for a scrapyd job sent by ``cfs schedule``.
Taking it is one atomic ``UPDATE`` on either store; it expires (``lock_until``) so
that a killed process does not hold a feed for ever, and a process that holds it
renews it while it runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

from ..normalize.time import iso_utc
from ..store.connect import open_store
from .due import now_utc

log = logging.getLogger(__name__)

LOCK_TTL = timedelta(minutes=30)


def new_owner(kind: str = "cfs") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunLocks:
    """Run locks held by this process, renewed by a thread while it works."""

    def __init__(
        self,
        database_url: str | None,
        ttl: timedelta = LOCK_TTL,
        owner: str | None = None,
    ) -> None:
        self.store = open_store(database_url)
        self.ttl = ttl
        self.owner = owner or new_owner()
        self.held: set[str] = set()
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, feed_id: str) -> bool:
        now = now_utc()
        with self._mutex:
            ok = self.store.acquire_lock(
                feed_id, self.owner, iso_utc(now + self.ttl), iso_utc(now)
            )
            if ok:
                self.held.add(feed_id)
        return ok

    def release(self, feed_id: str) -> None:
        with self._mutex:
            if feed_id in self.held:
                self.store.release_lock(feed_id, self.owner)
                self.held.discard(feed_id)

    def _renew(self) -> None:
        period = max(self.ttl.total_seconds() / 3, 1.0)
        while not self._stop.wait(period):
            with self._mutex:
                until = iso_utc(now_utc() + self.ttl)
                for feed_id in sorted(self.held):
                    try:
                        if not self.store.renew_lock(feed_id, self.owner, until):
                            log.warning(
                                "%s: run lock lost (expired and taken)", feed_id
                            )
                    except Exception:  # a store hiccup must not kill the renewer
                        log.exception("%s: could not renew the run lock", feed_id)

    def __enter__(self) -> RunLocks:
        self._thread = threading.Thread(
            target=self._renew, name="cfs-lock-renew", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for feed_id in sorted(self.held):
            try:
                self.release(feed_id)
            except Exception:
                log.exception("%s: could not release the run lock", feed_id)
        self.store.close()
