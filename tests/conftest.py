"""Shared fixtures: the bundled captures replayed once into a temporary store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from cfs_spiders.store.raw import install_sql_function

# The property tests draw new examples on each run, so a developer's runs keep
# searching; CI (`CFS_HYPOTHESIS_PROFILE=ci`, set by .ci/run) draws the same
# examples every time, so a submission passes or fails on its code, not on the
# draw. A failure prints the example and the blob that reproduces it.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("CFS_HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def run_cfs(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: int = 600,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the `cfs` command in a subprocess (a Twisted reactor runs once per
    process, so every crawl in the tests gets its own)."""
    full_env = {**os.environ, "CFS_LOG_LEVEL": "WARNING", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "cfs_spiders.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"cfs {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every bundled capture replayed through Scrapy into a fresh SQLite store,
    with full JSON Schema validation of every record switched on."""
    tmp = tmp_path_factory.mktemp("replayed")
    db = tmp / "cfs.sqlite"
    out = tmp / "output"
    proc = run_cfs(
        "--db",
        str(db),
        "--output",
        str(out),
        "crawl",
        "--all",
        "--replay",
        env={"CFS_VALIDATE_FULL": "1"},
    )
    return {"db": db, "output": out, "proc": proc, "tmp": tmp}


@pytest.fixture(scope="session")
def store_rows(replayed: dict):
    def query(sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(replayed["db"])
        conn.row_factory = sqlite3.Row
        install_sql_function(conn)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    return query
