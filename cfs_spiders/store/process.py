"""Batch writes in a process of their own, for large runs on SQLite.

Why: the writer thread (``thread.py``) keeps the reactor free, but its Python work
(rows, change hashes, statement parameters) holds the interpreter lock, so a
backfill's build and store take turns on one core (a batch written there cost
~200 us a record of the crawl's process, against ~60 here). Once a run has sent
more than ``CFS_STORE_PROCESS_AFTER`` records (by default one less than a batch:
a backfill from its first full batch; a poll smaller than a batch never starts
a process), its batches go to this process instead: one per database file, shared by every feed run of the crawl process, so
SQLite still has a single batch writer. Other jobs (registering feeds, a run's
closing) stay on the thread, after the run's batches are written.

A thread of the child receives and decodes the next batch while the current one
writes (``_receive``: Arrow to Python values holds the interpreter lock, SQLite
writing mostly does not).

A batch crosses as one Arrow IPC stream of its columns (``arrow_batch.py``: the
rows are zipped from whole columns, no record is read back); a batch that does
not convert exactly crosses as the records' JSON texts (each record is read back
from its text; a record whose text would not read back the same, ``exact``
false, crosses pickled). The answer says which (``"arrow"``, ``"json"``). The answers come back in order; a reader thread resolves each batch's
future. A batch the store refuses is answered with its exception, raised in the
crawl as the thread's would be. The child exits when the crawl process is gone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import queue
import sys
import threading
import types
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..config.paths import store_target
from .batch_files import BatchFiles
from .thread import Shared

START_TIMEOUT = 60.0


class StoreProcessError(RuntimeError):
    """The writer process failed in a way that is not a store error."""


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return StoreProcessError(f"{type(exc).__name__}: {exc}")
    return exc


class _Except:
    """The positions of a batch but those in ``whole`` (a container)."""

    __slots__ = ("whole",)

    def __init__(self, whole: dict[int, Any]) -> None:
        self.whole = whole

    def __contains__(self, i: object) -> bool:
        return i not in self.whole


def _read_back(texts: list[str], whole: dict[int, Any], loads: Any) -> list[Any]:
    """A batch sent as JSON texts, as records (``whole``: those sent whole)."""
    if whole:
        return [whole[i] if i in whole else loads(t) for i, t in enumerate(texts)]
    return list(map(loads, texts))  # the common case: each reads back


# batches received and decoded ahead of the one being written: the next one
# decodes (Arrow to Python values, with the interpreter lock) while SQLite
# writes the current one (without it)
AHEAD = 1
_END = object()


def _receive(
    requests: Any, ahead: queue.Queue, parent: Any, arrow: bool = False
) -> None:
    """The child's receiving thread: each message, decoded when it came as
    columns, into ``ahead`` as (kind, body, whole, decoded or the decoding's
    exception); ``_END`` when the crawl sent its last or is gone. ``arrow``:
    the columns the store binds from Arrow stay Arrow (``decode_table``)."""
    from .arrow_batch import decode_batch, decode_file

    try:
        while True:
            try:
                message = requests.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return  # the crawl was killed: nothing more will come
                continue
            if message is None:
                return
            kind, body, whole = message
            decoded: Any = None
            if kind in ("arrow", "arrow-file"):  # columns: no record read back
                try:
                    decode = decode_file if kind == "arrow-file" else decode_batch
                    decoded = decode(body, arrow)
                except Exception as exc:  # noqa: BLE001 - answered in order
                    decoded = exc
                kind, body = "arrow", None  # the decoded columns only
            ahead.put((kind, body, whole, decoded))
            message = body = whole = decoded = None
    except BaseException as exc:  # noqa: BLE001 - the loop answers it
        ahead.put(("broken", None, None, exc))
    finally:
        ahead.put(_END)


def _open(database_url: str | None) -> Any:
    """The writer's store: through SQLite's ADBC driver where it is installed
    (``adbc_store.py``), else ``sqlite3``."""
    from . import adbc_store
    from .connect import open_store

    kind, target = store_target(database_url)
    if kind == "sqlite" and adbc_store.available():
        return adbc_store.AdbcStore(Path(target))
    return open_store(database_url)


def _serve(requests: Any, answers: Any, database_url: str | None) -> None:
    """The child: write each batch received, answer with its counts or error.
    A thread receives and decodes the next batch (``_receive``) while this one
    writes."""
    import gc

    import orjson

    from .arrow_batch import write_columns

    gc.disable()  # batches of acyclic dicts (see records/gcpause.py)
    parent = multiprocessing.parent_process()
    store = None
    try:
        store = _open(database_url)
        answers.send(("ready",))
        loads = orjson.loads
        ahead: queue.Queue = queue.Queue(maxsize=AHEAD)
        threading.Thread(
            target=_receive,
            args=(requests, ahead, parent, store.binds_arrow),
            name="cfs-store-receive",
            daemon=True,
        ).start()
        records = None
        while True:
            got = ahead.get()
            if got is _END:
                return
            kind, body, whole, decoded = got
            if kind == "broken":
                raise decoded
            path = kind
            try:
                if kind == "arrow":
                    if isinstance(decoded, Exception):
                        raise decoded
                    new_calls, new_obs = write_columns(store, decoded)
                else:
                    records = _read_back(body, whole, loads)
                    # a record read from its text has no NaN or infinity in it
                    new_calls, new_obs = store.write_records(
                        records, body, finite=_Except(whole)
                    )
            except Exception as exc:  # noqa: BLE001 - raised in the crawl
                answers.send(("error", _picklable(exc)))
            else:
                answers.send(("ok", new_calls, new_obs, path, store.driver))
            finally:
                # the crawl asks about a listing's keys itself when it closes
                # the run (``ingest/pipelines.KeySpool``)
                store._sighted.clear()
            # nothing of this batch is held while waiting for the next
            got = body = whole = decoded = records = None
    except Exception as exc:  # noqa: BLE001 - the store did not open
        with contextlib.suppress(OSError):
            answers.send(("error", _picklable(exc)))
    finally:
        if store is not None:
            store.close()
        answers.close()


class StoreProcess:
    """One child process writing batches to one SQLite database."""

    name = "cfs-store-process"

    def __init__(self, database_url: str | Path | None) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork with threads around
        # a queue: its feeder thread sends, so submitting never waits on the child
        self._requests = ctx.Queue()
        self._answers, child = ctx.Pipe(duplex=False)
        url = None if database_url is None else str(database_url)
        self._proc = ctx.Process(
            target=_serve,
            args=(self._requests, child, url),
            name=self.name,
            daemon=True,
        )
        # ``spawn`` re-runs the parent's main module in the child (the CLI, which
        # imports Scrapy): the writer needs nothing from it
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            self._proc.start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main
        child.close()
        self._files = BatchFiles()
        self.users = 0
        self.written = 0
        self._waiting: deque[Future] = deque()
        self._broken: BaseException | None = None  # the child is gone: why
        self._lock = threading.Lock()
        self._ready: Future = Future()
        self._reader = threading.Thread(
            target=self._read, name="cfs-store-process-reader", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        """Resolve each batch's future with the child's answer, in order."""
        try:
            first = self._answers.recv()
            if first[0] != "ready":
                self._ready.set_exception(first[1])
                raise first[1]
            self._ready.set_result(True)
            while True:
                answer = self._answers.recv()
                with self._lock:
                    done = self._waiting.popleft()
                if answer[0] == "ok":
                    self.written += 1
                    # (new calls, new versions, writer, how the batch came,
                    # the driver that wrote it)
                    done.set_result((*answer[1:3], self.name, *answer[3:]))
                else:
                    done.set_exception(answer[1])
        except BaseException as exc:  # noqa: BLE001 - every waiting batch fails
            if not self._ready.done():
                self._ready.set_exception(
                    StoreProcessError(f"store writer process did not start: {exc}")
                )
            error = (
                exc
                if not isinstance(exc, EOFError | OSError)
                else StoreProcessError("store writer process ended")
            )
            with self._lock:
                while self._waiting:
                    self._waiting.popleft().set_exception(error)
                self._broken = error

    def submit(
        self,
        records: list[dict[str, Any]],
        texts: list[str],
        exact: list[bool],
        *,
        columns: list[Any] | None = None,
    ) -> Future:
        """Queue one batch; its future gives (new calls, new versions, writer,
        ``"arrow"`` or ``"json"``: how the batch crossed). As Arrow
        (``arrow_batch.py``) when the records come with the columns they were
        built from (``columns``: ``records.colarrow.PageColumns``, in order)
        and convert exactly; else as the records' JSON texts."""
        body: Any = None
        kind = "arrow"
        if columns is not None:
            from ..records.gcpause import paused_gc
            from .arrow_batch import encode_table, stream_bytes

            with paused_gc():  # lists of scalars, no cycles: records/gcpause.py
                table = encode_table(columns, records, texts, exact)
            if table is not None:  # a file in shared memory, else the pipe
                body = self._files.write(table)
                if body is not None:
                    kind = "arrow-file"
                else:
                    body = stream_bytes(table)
                table = None
        if body is not None:
            message: tuple[str, Any, Any] = (kind, body, None)
        else:
            whole = {
                i: rec
                for i, (rec, ok) in enumerate(zip(records, exact, strict=True))
                if not ok
            }
            message = ("json", texts, whole)
        done: Future = Future()
        with self._lock:
            if self._broken is not None:
                done.set_exception(self._broken)
                return done
            self._waiting.append(done)
            self._requests.put(message)
        return done

    def close(self) -> None:
        """Let the child write what it was sent, then stop it."""
        with contextlib.suppress(OSError, ValueError):
            self._requests.put(None)
        self._proc.join(timeout=START_TIMEOUT)
        if self._proc.is_alive():
            self._proc.terminate()
        self._requests.close()
        self._reader.join(timeout=5)
        self._files.close()


_processes: Shared[StoreProcess] = Shared()


def process_key(database_url: str | Path | None) -> str | None:
    """The database file a process writes, or None where processes are not used
    (PostgreSQL already writes per feed in parallel)."""
    kind, target = store_target(database_url)
    if kind != "sqlite":
        return None
    return str(Path(target).resolve())


def acquire(database_url: str | Path | None) -> StoreProcess:
    """The writer process of this SQLite database, started on first use."""
    key = process_key(database_url)
    assert key is not None
    return _processes.acquire(key, lambda: StoreProcess(database_url))


def release(proc: StoreProcess) -> None:
    _processes.release(proc)
