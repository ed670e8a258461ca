"""A batch's Arrow stream handed to the writer process as a file in shared
memory (``/dev/shm``), not through the pipe.

Why: through the pipe a batch's bytes were copied some six times: the stream's
buffer into a bytes object, pickled by the queue's feeder thread, written into
the pipe, read out of it 64 KiB at a time, joined, unpickled. At a million
records that is about 1.5 GB each time, a few CPU seconds shared by the two
processes, half of them in the writer, whose pace is a backfill's. Here the
stream is written once, into a file on tmpfs; the writer maps the file (no
copy), reads the columns out of the mapping and deletes the file.

The crawl makes one directory per writer process (``cfs-batches-<pid>-*``) and
deletes it when the process closes; the directories of crawls that are gone
(killed) are swept when the next writer process starts. Where there is no
``/dev/shm``, or a file cannot be written (tmpfs full: a container's is 64 MB
by default), the batch goes through the pipe as before. ``CFS_BATCH_FILES=0``
sends every batch through the pipe.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pyarrow only where a batch is (an unchanged poll has none)
    import pyarrow as pa

T = TypeVar("T")

SHM = Path("/dev/shm")
PREFIX = "cfs-batches-"
ENV_SWITCH = "CFS_BATCH_FILES"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: another user's process, alive
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def sweep(root: Path) -> list[Path]:
    """Delete the batch directories under ``root`` whose crawl process is
    gone; returns them."""
    gone = []
    for path in root.glob(PREFIX + "*"):
        pid = path.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            gone.append(path)
    return gone


class BatchFiles:
    """The crawl's side: a directory of batch files for one writer process."""

    def __init__(self, root: Path = SHM) -> None:
        self.dir: Path | None = None
        self._names = itertools.count()
        if os.environ.get(ENV_SWITCH, "1").strip() == "0":
            return
        try:
            if root.is_dir() and os.access(root, os.W_OK | os.X_OK):
                sweep(root)
                self.dir = Path(
                    tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root)
                )
        except OSError:
            self.dir = None

    def write(self, table: pa.Table) -> str | None:
        """The table as an Arrow IPC stream in a new file: its path, or
        ``None`` when it could not be written (the pipe then takes it)."""
        if self.dir is None:
            return None
        import pyarrow as pa

        path = self.dir / f"{next(self._names)}.arrows"
        try:
            with (
                pa.OSFile(str(path), "wb") as sink,
                pa.ipc.new_stream(sink, table.schema) as writer,
            ):
                writer.write_table(table)
        except (OSError, pa.ArrowException):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return str(path)

    def close(self) -> None:
        """Delete the directory and any file the writer did not read."""
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def read_file(path: str, read: Callable[[pa.Table], T]) -> T:
    """``read(table)`` of the stream in the file at ``path``, read from a
    mapping of the file (no copy); the file is deleted, read or not."""
    import pyarrow as pa

    try:
        with pa.memory_map(path) as source:
            table = pa.ipc.open_stream(source).read_all()
            return read(table)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
