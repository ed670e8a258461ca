"""Store writes off the crawl's thread: one writer thread per database.

A store write (a batch's transaction, a run's closing) can wait: for the disk, or
for a write lock another process holds (SQLite lets one writer in at a time; its
busy timeout is a minute). Run on the thread that also drives the downloads and
timers of every feed, that wait would stall them all. So the crawl hands each
write to a ``StoreThread``: a thread with its own connection, fed through a
bounded queue, that runs the jobs one after another in the order given, each a
callable of the store.

``acquire`` shares the threads of a process: on SQLite one thread per database
file serves every feed run of the process (one writer, no contention for the lock
inside the process); on PostgreSQL each feed gets its own (feeds write in
parallel; the store's per-feed advisory lock orders the writers of one feed).
``release`` stops a thread when its last user is done.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..config.paths import store_target
from .connect import open_store

T = TypeVar("T")
W = TypeVar("W", bound=Any)  # a writer: has ``users`` and ``close()``
QUEUE_SIZE = 4  # jobs waiting; the crawl waits (without blocking) beyond that


class StoreThread:
    """One thread, one store connection, a bounded queue of jobs."""

    def __init__(self, database_url: str | Path | None, *, name: str) -> None:
        self.database_url = database_url
        self.jobs: queue.Queue[tuple[Callable[[Any], Any], Future] | None] = (
            queue.Queue(maxsize=QUEUE_SIZE)
        )
        self.users = 0
        self.written = 0  # jobs done (tests and reports: the thread did write)
        self._opened: Future = Future()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def submit(self, job: Callable[[Any], T]) -> Future:
        """Queue ``job(store)``; its result (or exception) comes in the future.
        Blocks while the queue is full (callers on an event loop bound what they
        send, see ``ingest/pipelines.py``)."""
        done: Future = Future()
        self.jobs.put((job, done))
        return done

    def close(self) -> None:
        """Run what is queued, then stop (and close the connection)."""
        self.jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        try:
            store = open_store(self.database_url)
        except BaseException as exc:  # noqa: BLE001 - each job gets the error
            self._opened.set_exception(exc)
            store = None
        else:
            self._opened.set_result(True)
        try:
            while True:
                item = self.jobs.get()
                if item is None:
                    return
                job, done = item
                if not done.set_running_or_notify_cancel():
                    continue
                if store is None:
                    done.set_exception(self._opened.exception())
                    continue
                try:
                    result = job(store)
                except BaseException as exc:  # noqa: BLE001 - the caller raises it
                    done.set_exception(exc)
                else:
                    self.written += 1
                    done.set_result(result)
        finally:
            if store is not None:
                store.close()


class Shared(Generic[W]):
    """Writers shared by key within the process, counted by user: ``acquire``
    starts one on first use, ``release`` by its last user closes it (after the
    jobs it was given). Used for the writer threads here and the writer
    processes of ``process.py``."""

    def __init__(self) -> None:
        self._writers: dict[Any, W] = {}
        self._lock = threading.Lock()

    def acquire(self, key: Any, start: Callable[[], W]) -> W:
        with self._lock:
            writer = self._writers.get(key)
            if writer is None:
                writer = self._writers[key] = start()
            writer.users += 1
            return writer

    def release(self, writer: W) -> None:
        with self._lock:
            writer.users -= 1
            if writer.users > 0:
                return
            for key, value in list(self._writers.items()):
                if value is writer:
                    del self._writers[key]
        writer.close()


_threads: Shared[StoreThread] = Shared()


def writer_key(database_url: str | Path | None, feed_id: str) -> tuple[str, ...]:
    """SQLite: one writer per database file; PostgreSQL: one per feed."""
    kind, target = store_target(database_url)
    if kind == "postgresql":
        return (kind, str(target), feed_id)
    return (kind, str(Path(target).resolve()))


def acquire(database_url: str | Path | None, feed_id: str) -> StoreThread:
    """The writer thread of this database (and feed, on PostgreSQL), started on
    first use."""
    key = writer_key(database_url, feed_id)
    return _threads.acquire(
        key, lambda: StoreThread(database_url, name=f"cfs-store-{'-'.join(key[1:])}")
    )


def release(writer: StoreThread) -> None:
    """One user less; the last one stops the thread (after its queued jobs)."""
    _threads.release(writer)
