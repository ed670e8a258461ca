"""Store writes in a second process, so a large run uses both cores.

Writing a batch (hashing each record's values, upserting calls, appending
observations) costs about as much as parsing and building it. For a large run
(a backfill) the store pipeline hands its batches to a ``StoreWriter``: a child
process with its own connection to the same store, which writes them one after
another, in the order they were sent, each in its own transaction, exactly as
``Store.write_records`` does in process. Meanwhile this process builds the next
page.

What crosses the pipe is each record's JSON text (already made for the
observation and the JSON Lines export); the child reads the record back from it.
A text only goes alone when reading it gives back the very record (orjson wrote
it); any other record goes whole (pickled). About a page of records may be in
flight (``max_pending_records``: this process parses the next page while the
child writes this one); each batch's texts are kept here until the child says it
is stored.

When a write fails (or the child dies), the child writes nothing more; the
batches it did not store come back, in order, to be written in this process, and
the store's own exception is raised here, as an in-process write would raise it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import queue
import sys
import types
from collections import deque
from typing import Any

import orjson

log = logging.getLogger(__name__)

Batch = tuple[list[dict[str, Any]], list[str], list[bool]]
Sent = tuple[list[str], list[bool], dict[int, dict[str, Any]]]


START_TIMEOUT = 60.0  # seconds for the child to import and open the store


class StoreWriterError(RuntimeError):
    """The writer process failed in a way that is not a store error."""


def _serve(requests: Any, conn: Any, database_url: str | None) -> None:
    """The child: write each batch received; answer with the counts or the error."""
    import gc

    import orjson

    from .connect import open_store

    gc.disable()  # batches of acyclic dicts (see records/gcpause.py)
    parent = multiprocessing.parent_process()
    store = None
    broken = False
    try:
        store = open_store(database_url)
        conn.send(("ready",))
        while True:
            try:
                message = requests.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return  # the parent was killed: nothing more will come
                continue
            if message[0] == "close":
                return
            _, texts, whole = message
            if broken:
                conn.send(("skipped",))
                continue
            try:
                loads = orjson.loads
                records = [
                    whole[i] if i in whole else loads(t) for i, t in enumerate(texts)
                ]
                new_calls, new_obs = store.write_records(records, texts)
            except Exception as exc:  # noqa: BLE001 - sent back and raised there
                broken = True
                conn.send(("error", _picklable(exc)))
            else:
                conn.send(("ok", new_calls, new_obs))
    except Exception as exc:  # noqa: BLE001 - the store did not open
        with contextlib.suppress(OSError):
            conn.send(("error", _picklable(exc)))
    finally:
        if store is not None:
            store.close()
        conn.close()


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return StoreWriterError(f"{type(exc).__name__}: {exc}")
    return exc


class StoreWriter:
    """Writes batches through a child process; see the module docstring."""

    def __init__(
        self, database_url: str | None, *, max_pending_records: int = 60000
    ) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork with threads around
        # Batches go through a queue (its feeder thread sends them, so sending a
        # batch never waits for the child to finish the one before); answers come
        # back on a pipe.
        self._requests = ctx.Queue()
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_serve,
            args=(self._requests, child, database_url),
            name="cfs-store-writer",
            daemon=True,
        )
        # ``spawn`` re-runs the parent's main module in the child (for ``cfs``, the
        # CLI, which imports Scrapy: ~35 MB and a third of a second): the writer
        # needs nothing from it, so the child is started without it.
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            self._proc.start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main
        child.close()
        self.max_pending_records = max_pending_records
        # sent, not yet stored: (texts, exact, whole) of each batch (the texts
        # give the records back if they must be written here after all)
        self._pending: deque[Sent] = deque()
        self._pending_records = 0
        self._unsent: list[Batch] = []  # could not be sent (the writer failed)
        self._ready = False

    @property
    def ready(self) -> bool:
        """Whether the child has started and opened the store."""
        return self._ready

    # ----------------------------------------------------------------- parent
    def submit(
        self, records: list[dict[str, Any]], encoded: list[str], exact: list[bool]
    ) -> list[tuple[int, int]]:
        """Send one batch; return the (new calls, new observations) of each batch
        the child has stored meanwhile. Blocks while more than
        ``max_pending_records`` records are in flight. Raises the store's
        exception when a write failed."""
        whole = {
            i: rec
            for i, (rec, ok) in enumerate(zip(records, exact, strict=True))
            if not ok
        }
        try:
            done = self._collect(block=not self._ready)  # the child has started
            self._requests.put(("write", encoded, whole))
        except BaseException as exc:
            self._unsent.append((records, encoded, exact))
            if isinstance(exc, OSError | ValueError):
                raise StoreWriterError(f"store writer gone: {exc}") from exc
            raise
        self._pending.append((encoded, exact, whole))
        self._pending_records += len(encoded)
        while (
            self._pending_records > self.max_pending_records and len(self._pending) > 1
        ):
            done += self._collect(block=True, one=True)
        done += self._collect(block=False)
        return done

    def drain(self) -> list[tuple[int, int]]:
        """Wait until every batch sent is stored; their counts."""
        done: list[tuple[int, int]] = []
        while self._pending:
            done += self._collect(block=True, one=True)
        return done

    def take_back(self) -> list[Batch]:
        """After a failure: the batches not stored, in the order they were sent."""
        loads = orjson.loads
        back: list[Batch] = [
            (
                [whole[i] if i in whole else loads(t) for i, t in enumerate(texts)],
                texts,
                exact,
            )
            for texts, exact, whole in self._pending
        ]
        back += self._unsent
        self._pending.clear()
        self._pending_records = 0
        self._unsent.clear()
        return back

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._requests.put(("close",))
        self._proc.join(timeout=60)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=5)
        self._requests.close()
        self._requests.cancel_join_thread()
        self._conn.close()

    def _collect(self, *, block: bool, one: bool = False) -> list[tuple[int, int]]:
        done: list[tuple[int, int]] = []
        while True:
            if not block and not self._conn.poll():
                return done
            if not self._ready and not self._conn.poll(START_TIMEOUT):
                raise StoreWriterError(
                    f"store writer process did not start in {START_TIMEOUT} s"
                )
            try:
                reply = self._conn.recv()
            except (EOFError, OSError) as exc:
                code = self._proc.exitcode
                raise StoreWriterError(
                    f"store writer process ended (exit code {code})"
                ) from exc
            kind = reply[0]
            if kind == "ready":
                self._ready = True
                if block and not one:
                    return done
                continue
            if kind == "ok":
                self._pending_records -= len(self._pending.popleft()[0])
                done.append((reply[1], reply[2]))
            elif kind == "error":
                # the failed batch and the ones after it (skipped) stay pending
                self._drain_skipped()
                raise reply[1]
            if one or not self._pending:
                return done

    def _drain_skipped(self) -> None:
        """Read the answers of the batches sent after the failed one (the child
        skips them) so that the pipe is left clean."""
        for _ in range(len(self._pending) - 1):
            try:
                self._conn.recv()
            except (EOFError, OSError):
                return
