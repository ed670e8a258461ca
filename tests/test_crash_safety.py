"""Crash safety: kill -9 during a crawl, during a store transaction and during an
export, then rerun.

After each kill: the store opens cleanly (SQLite integrity check, WAL) with every
call committed before the kill, the previous export files are byte-for-byte intact,
and the rerun completes. All feeds and records here are synthetic.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from faultserver import (
    FAST_ENV,
    ROOT,
    FaultServer,
    Reply,
    cfs_command,
    json_reply,
    kill9,
    run_cfs,
    socrata_feed_config,
    wait_for,
)

from cfs_spiders.store.base import CALLS_FROM, OBSERVATIONS_FROM, RUNS_FROM  # noqa: F401

FEED = "zz_crash_socrata"
ROWS = [
    {
        "incident_number": f"C{n:05d}",
        "datetime": "2025-12-13T10:00:00.000",
        "address": f"{n % 90 + 1}00 Block of Pine St",
        "type": "Aid Response",
    }
    for n in range(2000)
]
PAGE = 50


def pages(rows: list[dict], delay: float = 0.0):
    def answer(query: dict[str, str]) -> Reply:
        offset = int(query.get("$offset", 0))
        return json_reply(rows[offset : offset + PAGE], delay=delay)

    return answer


def count(db: Path, sql: str) -> int:
    """Read the store from outside, as a reader would, while it is being written."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def integrity(db: Path) -> tuple[str, str]:
    conn = sqlite3.connect(db)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        return check, mode
    finally:
        conn.close()


def test_kill_during_crawl_then_rerun(tmp_path: Path):
    configs, db, out = tmp_path / "configs", tmp_path / "cfs.sqlite", tmp_path / "out"
    configs.mkdir()
    with FaultServer() as srv:
        (configs / f"{FEED}.yaml").write_text(
            socrata_feed_config(
                FEED,
                srv.url("/resource/crash-0001.json"),
                page_size=PAGE,
                board="active_calls",
            )
        )
        # 1. a complete run with the first 100 calls, and an export of it
        srv.route("/resource/crash-0001.json", pages(ROWS[:100]))
        first = run_cfs(configs, db, out, "crawl", "--all")
        assert first.returncode == 0, first.stderr[-3000:]
        assert run_cfs(configs, db, out, "export").returncode == 0
        export_before = (out / "calls.csv").read_bytes()
        reports_before = {p: p.read_bytes() for p in (out / "runs").glob("*.json")}
        assert len(reports_before) == 1

        # 2. a long run (40 slow pages, committed every page), killed mid-way
        srv.route("/resource/crash-0001.json", pages(ROWS, delay=0.1))
        env = {**FAST_ENV, "CFS_STORE_BATCH": str(PAGE)}
        proc = subprocess.Popen(
            cfs_command(configs, db, out, "crawl", "--all"),
            cwd=ROOT,
            env={**_env(), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_for(
                lambda: count(db, f"SELECT COUNT(*) FROM {CALLS_FROM}") >= 400,
                timeout=60,
            ), "the crawl never committed a batch"
        finally:
            kill9(proc)
        committed = count(db, f"SELECT COUNT(*) FROM {CALLS_FROM}")
        assert 400 <= committed < len(ROWS), "killed too late to prove anything"

        # the store opens cleanly with everything committed before the kill
        assert integrity(db) == ("ok", "wal")
        conn = sqlite3.connect(db)
        keys = {
            r[0]
            for r in conn.execute(
                f"SELECT record_key FROM {CALLS_FROM} WHERE feed_id = ?", (FEED,)
            )
        }
        # a run's row is made at its first write, its status set when it ends
        runs = conn.execute(f"SELECT status FROM {RUNS_FROM}").fetchall()
        gone = conn.execute(
            f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE disappeared_at IS NOT NULL"
        ).fetchone()[0]
        conn.close()
        assert {r["incident_number"] for r in ROWS[:100]} <= keys
        assert len(keys) >= committed
        # the killed run never claimed to finish
        assert [r for r in runs if r != (None,)] == [("ok",)]
        assert gone == 0  # and closed nothing
        # the previous exports are intact
        assert (out / "calls.csv").read_bytes() == export_before
        for path, data in reports_before.items():
            assert path.read_bytes() == data

        # 3. the rerun completes
        srv.route("/resource/crash-0001.json", pages(ROWS))
        rerun = run_cfs(configs, db, out, "crawl", "--all")
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    conn = sqlite3.connect(db)
    assert conn.execute(f"SELECT COUNT(*) FROM {CALLS_FROM}").fetchone()[0] == len(ROWS)
    assert conn.execute(
        # a run's row is made at its first write: the killed run's has no status
        f"SELECT status FROM {RUNS_FROM} WHERE status IS NOT NULL ORDER BY finished_at"
    ).fetchall() == [
        ("ok",),
        ("ok",),
    ]
    conn.close()


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("CFS_DATABASE_URL", None)
    env.pop("CFS_REPLAY_DIR", None)
    return env


# A batch write killed between its first and its last statement: the script writes
# batch 1, then pauses inside batch 2's transaction (after the calls were upserted,
# before their versions (observations) and the commit) until it is killed.
WRITER = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from cfs_spiders.config.loader import load_config
    from cfs_spiders.records.builder import RecordBuilder
    from cfs_spiders.store.connect import open_store

    config_path, db, marker = sys.argv[1:4]
    cfg = load_config(config_path)
    builder = RecordBuilder(cfg)
    when = datetime(2025, 12, 13, 17, 0, tzinfo=UTC)

    def batch(start, n, run_id):
        return [builder.build({"incident_number": f"K{i:04d}", "address": "1 MAIN ST",
                               "type": "Aid Response"}, fetched_at=when,
                              source_url="http://127.0.0.1/synthetic", run_id=run_id)
                for i in range(start, start + n)]

    store = open_store(db)
    store.register_feeds([cfg])
    store.write_records(batch(0, 100, "run-1"))
    original = store._version_insert_sql

    def pause():
        Path(marker).write_text("inside the transaction")
        time.sleep(60)
        return original()

    store._version_insert_sql = pause
    store.write_records(batch(100, 100, "run-2"))
""")


def test_kill_inside_a_store_transaction_loses_only_that_batch(tmp_path: Path):
    config = tmp_path / f"{FEED}.yaml"
    config.write_text(socrata_feed_config(FEED, "http://127.0.0.1:9/synthetic.json"))
    db, marker = tmp_path / "cfs.sqlite", tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(config), str(db), str(marker)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(marker.is_file, timeout=30), proc.stderr.read().decode()
    finally:
        kill9(proc)
    assert integrity(db) == ("ok", "wal")
    conn = sqlite3.connect(db)
    keys = [
        r[0] for r in conn.execute(f"SELECT record_key FROM {CALLS_FROM} ORDER BY 1")
    ]
    observations = conn.execute(f"SELECT COUNT(*) FROM {OBSERVATIONS_FROM}").fetchone()[
        0
    ]
    conn.close()
    assert keys == [f"K{i:04d}" for i in range(100)]  # batch 1 whole, batch 2 absent
    assert observations == 100


# An export killed half-way through writing calls.csv.
EXPORTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cfs_spiders.exports import calls_csv as export
    from cfs_spiders.store.connect import open_store

    db, out, marker = sys.argv[1:4]
    store = open_store(db)
    rows, batches = store.iter_rows, store.iter_batches

    def slow(sql, batch=5000):
        for i, row in enumerate(rows(sql, batch)):
            if i == 50:
                Path(marker).write_text("half-way")
                time.sleep(60)
            yield row

    def slow_batches(sql, rows=8192):
        # the batch path (Arrow): 50 calls a batch, stalled after the first
        for i, batch in enumerate(batches(sql, rows=50)):
            if i == 1:
                Path(marker).write_text("half-way")
                time.sleep(60)
            yield batch

    store.iter_rows, store.iter_batches = slow, slow_batches
    export.export_calls(store, Path(out))
""")


def test_kill_during_export_keeps_the_previous_file(tmp_path: Path):
    db, out, marker = tmp_path / "cfs.sqlite", tmp_path / "out", tmp_path / "marker"
    config = tmp_path / f"{FEED}.yaml"
    config.write_text(socrata_feed_config(FEED, "http://127.0.0.1:9/synthetic.json"))
    seed = textwrap.dedent("""
        import sys
        from datetime import UTC, datetime
        from cfs_spiders.config.loader import load_config
        from cfs_spiders.records.builder import RecordBuilder
        from cfs_spiders.store.connect import open_store
        cfg = load_config(sys.argv[1]); builder = RecordBuilder(cfg)
        store = open_store(sys.argv[2]); store.register_feeds([cfg])
        when = datetime(2025, 12, 13, 17, 0, tzinfo=UTC)
        store.write_records([builder.build(
            {"incident_number": f"E{i:04d}", "address": "1 MAIN ST", "type": "Fire"},
            fetched_at=when, source_url="http://127.0.0.1/synthetic", run_id="r1")
            for i in range(int(sys.argv[3]))])
    """)
    subprocess.run(
        [sys.executable, "-c", seed, str(config), str(db), "20"],
        cwd=ROOT,
        env=_env(),
        check=True,
        timeout=60,
    )
    first = subprocess.run(
        cfs_command(tmp_path, db, out, "export"),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    before = (out / "calls.csv").read_bytes()
    assert before.count(b"\n") == 21
    subprocess.run(
        [sys.executable, "-c", seed, str(config), str(db), "200"],
        cwd=ROOT,
        env=_env(),
        check=True,
        timeout=60,
    )

    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORTER, str(db), str(out), str(marker)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(marker.is_file, timeout=30), proc.stderr.read().decode()
    finally:
        kill9(proc)
    assert (out / "calls.csv").read_bytes() == before  # untouched by the dead export
    rerun = subprocess.run(
        cfs_command(tmp_path, db, out, "export"),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "calls.csv").read_bytes().count(b"\n") == 201


def test_run_report_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch):
    """The JSON run report goes through a temporary file and a rename too."""
    from cfs_spiders.exports import files
    from cfs_spiders.exports.run_report import write_run_report

    folder = tmp_path / "runs"
    write_run_report({"run_id": "zz-run-1", "status": "ok"}, folder)
    path = folder / "zz-run-1.json"
    before = path.read_bytes()

    real_fdopen = os.fdopen

    class DiesHalfWay:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()
            return False

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(
        files.os, "fdopen", lambda *a, **kw: DiesHalfWay(real_fdopen(*a, **kw))
    )
    with contextlib.suppress(KeyboardInterrupt):
        write_run_report(
            {"run_id": "zz-run-1", "status": "failed", "pad": "x" * 999}, folder
        )
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert json.loads(before)["status"] == "ok"
