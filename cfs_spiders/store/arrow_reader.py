"""A SQLite store's queries read as Arrow batches by child processes
(``arrow_child.py``), never by the ADBC driver in this process: the driver's
own copy of SQLite and Python's ``sqlite3`` would break each other's locks on
the store (see ``arrow_child``).

A child is started on the first query and kept for the next (starting one costs
about 0.25 s: pyarrow and the driver); a query running on each of several
threads has a child of its own. The batches come through a pipe as Arrow IPC
messages, read without a Python object per value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .arrow_child import HEADER

# the directory that holds the cfs_spiders package: the child imports
# arrow_child from it whatever the parent's working directory and sys.path
_ROOT = str(Path(__file__).resolve().parents[2])
_START = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from cfs_spiders.store.arrow_child import main; main(sys.argv[2])"
)
_PIPE_BYTES = 1 << 20  # Linux: a 1 MiB pipe, 16 times fewer reads than 64 KiB


class BatchReadError(RuntimeError):
    """Reading a query as Arrow batches failed part way (a value of another type
    than its column's first batch, a value the driver cannot read, the reading
    process gone)."""


class _Child:
    """One reading process and its pipes."""

    def __init__(self, path: Path) -> None:
        self.where = path
        uri = f"{path.resolve().as_uri()}?mode=ro"
        # its stderr in a file, read if it dies: a pipe nobody reads while the
        # batches flow could fill with warnings and stop the child
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _START, _ROOT, uri],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.err,
            )
        except OSError as exc:  # no interpreter to start: the caller reads rows
            self.err.close()
            raise BatchReadError(f"{path}: no reading process: {exc}") from exc
        self.ready = True  # no answer left unread in the pipe
        try:
            import fcntl

            fcntl.fcntl(self.proc.stdout, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except (ImportError, AttributeError, OSError):
            pass  # not Linux, or a lower limit: the pipe's default size

    def _read(self, n: int) -> bytes:
        data = self.proc.stdout.read(n) if n else b""  # type: ignore[union-attr]
        if len(data) < n:
            raise BatchReadError(
                f"{self.where}: the reading process ended: {self._stderr()}"
            )
        return data

    def _stderr(self) -> str:
        self.proc.kill()
        self.proc.wait()
        self.err.seek(0)
        lines = self.err.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {self.proc.returncode}"

    def batches(self, sql: str, rows: int) -> Iterator[Any]:
        """The query's batches; raises ``BatchReadError`` with the driver's
        message when it fails. The child is ready for the next query only once
        ``D`` or ``E`` has been read."""
        import pyarrow as pa

        stdin: IO[bytes] = self.proc.stdin  # type: ignore[assignment]
        self.ready = False
        try:
            stdin.write(json.dumps({"sql": sql, "rows": rows}).encode() + b"\n")
            stdin.flush()
        except OSError as exc:
            raise BatchReadError(f"{self.where}: {exc}") from exc
        schema = None
        while True:
            tag, size = HEADER.unpack(self._read(HEADER.size))
            payload = self._read(size)
            if tag == b"B":
                yield pa.ipc.read_record_batch(pa.py_buffer(payload), schema)
            elif tag == b"S":
                schema = pa.ipc.read_schema(pa.py_buffer(payload))
            elif tag == b"D":
                self.ready = True
                return
            elif tag == b"E":
                self.ready = True
                raise BatchReadError(f"{self.where}: {payload.decode()}")
            else:
                raise BatchReadError(f"{self.where}: unexpected frame {tag!r}")

    def close(self) -> None:
        """End the child. One left part way through a query (``ready``
        false) may be blocked writing the rest of its answer into a full pipe,
        where it would never read the end of its input: it is killed at once
        (it only reads the store, with a read-only connection)."""
        if self.proc.poll() is None and self.ready:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdout, self.err):
            if pipe is not None:
                pipe.close()


class ArrowReaders:
    """The idle reading processes of one store, handed to one query at a
    time. A query read to its end gives its child back; one left part way
    (the caller stopped, an error) ends it, since its answer is still in the
    pipe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()

    def batches(self, sql: str, rows: int) -> Iterator[Any]:
        with self._lock:
            child = self._idle.pop() if self._idle else None
        if child is None:
            child = _Child(self.path)
        try:
            yield from child.batches(sql, rows)
        finally:
            if child.ready:
                with self._lock:
                    self._idle.append(child)
            else:
                child.close()

    def close(self) -> None:
        """End every idle child (each exits when its stdin closes)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.close()
