"""The writer process's batches as files in shared memory (``store/
batch_files.py``): a batch crosses as a file and leaves nothing behind, every
failure to write one falls back to the pipe, an unreadable one is answered as
an error and deleted, and a killed crawl's directory is swept."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import pyarrow as pa
import pytest

from cfs_spiders.store import batch_files
from cfs_spiders.store import process as store_process
from tests.test_store_arrow import registered

needs_shm = pytest.mark.skipif(
    not (batch_files.SHM.is_dir() and os.access(batch_files.SHM, os.W_OK)),
    reason="no writable /dev/shm",
)


def calls(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    finally:
        conn.close()


@needs_shm
def test_a_batch_crosses_as_a_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """Real Seattle records as columns: written through a file under
    /dev/shm, the file deleted once read, the directory when the process
    closes; the store holds what the answer counted."""
    db, records, columns, texts, exact = registered(tmp_path, 40)
    proc = store_process.StoreProcess(db)
    folder = proc._files.dir
    try:
        assert folder is not None and folder.parent == batch_files.SHM
        made = []
        write = proc._files.write

        def counted(table: pa.Table) -> str | None:
            made.append(write(table))
            return made[-1]

        proc._files.write = counted  # type: ignore[method-assign]
        done = proc.submit(records, texts, exact, columns=[columns])
        new_calls, new_versions, _, path, _ = done.result(timeout=60)
        assert path == "arrow" and made and made[0] is not None
        assert new_calls == new_versions > 0
        assert not Path(made[0]).exists() and list(folder.iterdir()) == []
    finally:
        proc.close()
    assert not folder.exists()
    assert calls(db) == new_calls


def test_without_batch_files_the_pipe_takes_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CFS_BATCH_FILES=0``, or a root that is not there: no directory, and
    the same batch is written through the pipe."""
    monkeypatch.setenv(batch_files.ENV_SWITCH, "0")
    assert batch_files.BatchFiles().dir is None
    monkeypatch.delenv(batch_files.ENV_SWITCH)
    assert batch_files.BatchFiles(tmp_path / "not-there").dir is None
    monkeypatch.setenv(batch_files.ENV_SWITCH, "0")
    db, records, columns, texts, exact = registered(tmp_path, 40)
    proc = store_process.StoreProcess(db)
    try:
        assert proc._files.dir is None
        new_calls, _, _, path, _ = proc.submit(
            records, texts, exact, columns=[columns]
        ).result(timeout=60)
        assert path == "arrow" and new_calls > 0
    finally:
        proc.close()
    assert calls(db) == new_calls


def test_a_file_that_cannot_be_written_gives_none(tmp_path: Path) -> None:
    """A file written and read back (deleted once read); then the directory
    gone under it, as a full tmpfs fails a write: ``None``, the pipe's turn."""
    files = batch_files.BatchFiles(tmp_path)
    assert files.dir is not None and files.dir.parent == tmp_path
    table = pa.table({"x": [1, 2, 3]})
    path = files.write(table)
    assert path is not None and Path(path).stat().st_size > 0
    read = batch_files.read_file(path, lambda t: t.column("x").to_pylist())
    assert read == [1, 2, 3] and not Path(path).exists()
    shutil.rmtree(files.dir)  # as a full tmpfs fails a write
    assert files.write(table) is None
    files.close()
    assert files.dir is None and files.write(table) is None  # closed


@needs_shm
def test_an_unreadable_file_is_answered_as_an_error_and_deleted(
    tmp_path: Path,
) -> None:
    """SYNTHETIC: a file that is not an Arrow stream, between two real
    batches: its error is raised for it, the batches around it are written,
    and the file is gone."""
    db, records, columns, texts, exact = registered(tmp_path, 40)
    proc = store_process.StoreProcess(db)
    try:
        assert proc._files.dir is not None
        first = proc.submit(records, texts, exact, columns=[columns])
        bad = proc._files.dir / "synthetic.arrows"
        bad.write_bytes(b"synthetic: not an Arrow stream")
        done: Future = Future()
        with proc._lock:
            proc._waiting.append(done)
            proc._requests.put(("arrow-file", str(bad), None))
        last = proc.submit(records, texts, exact, columns=[columns])
        assert first.result(timeout=60)[0] > 0
        with pytest.raises(Exception, match="metadata bytes"):
            done.result(timeout=60)
        assert last.result(timeout=60)[:2] == (0, 0)  # the same records again
        assert not bad.exists()
    finally:
        proc.close()


def test_a_dead_crawls_directory_is_swept(tmp_path: Path) -> None:
    """A directory named for a process that is gone is deleted; this
    process's is kept."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = tmp_path / f"{batch_files.PREFIX}{int(gone.stdout)}-abc"
    alive = tmp_path / f"{batch_files.PREFIX}{os.getpid()}-def"
    for d in (dead, alive):
        d.mkdir()
        (d / "0.arrows").write_bytes(b"synthetic")
    assert batch_files.sweep(tmp_path) == [dead]
    assert not dead.exists() and alive.exists()
