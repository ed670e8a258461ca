"""`cfs import-git`: a git scraper's history imported is what scheduled runs stored.

Small git repositories are built here from the recorded captures, each commit dated
with the capture time (GIT_COMMITTER_DATE/GIT_AUTHOR_DATE). Importing them must give
what replaying the same captures as runs gives, and the first/last seen and
closures an independent reading of the capture files predicts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cfs_spiders.importers.git import (
    Commit,
    FeedRange,
    ImportGitError,
    check_ranges,
    chunks,
    parse_feed_spec,
    plan,
)
from cfs_spiders.store.base import (  # noqa: F401
    CALLS_FROM,
    IMPORTS_FROM,
    LISTINGS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_COLUMNS,
    PRESENCE_FROM,
    RUNS_FROM,
    by_call,
)
from cfs_spiders.store.raw import install_sql_function
from tests.conftest import FIXTURES, ROOT, run_cfs

CLEARWATER = "fl_clearwater_police_active_calls"
HOUSTON = "tx_houston_hec_active_incidents"
PORTLAND = "or_portland_boec_911_incidents"
LEGACY = "tx_houston_test_legacy_incidents"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


# ------------------------------------------------------------------- helpers
def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_repo(folder: Path, commits: list[tuple[int, dict[str, bytes | None]]]) -> Path:
    """A git repository with one commit per (time, {path: content, None = delete})."""
    folder.mkdir(parents=True)
    base = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(folder.parent)}

    def git(*args: str, when: int | None = None) -> None:
        env = dict(base)
        if when is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{when} +0000"
        subprocess.run(
            [
                "git",
                "-c",
                "user.name=scraper",
                "-c",
                "user.email=scraper@example.invalid",
                *args,
            ],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    for when, files in commits:
        for name, content in files.items():
            path = folder / name
            if content is None:
                git("rm", "-q", name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            git("add", name)
        git("commit", "-q", "-m", f"snapshot {_iso(when)}", when=when)
    return folder


def state(db: Path) -> dict:
    """Everything a run decides, without run ids and wall-clock times."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    install_sql_function(conn)
    try:
        calls = {}
        # source ids and call keys are the store's own numbering: compare the
        # URLs and the record keys
        for row in conn.execute(f"SELECT * FROM {CALLS_FROM}"):
            d = dict(row)
            for name in ("source_id", "feed_key", "run_key", "last_run_id", "call_key"):
                d.pop(name)
            d.pop("run_id")
            calls[(d["feed_id"], d["record_key"])] = d
        observations = sorted(
            tuple(r)
            for r in conn.execute(
                "SELECT feed_id, record_key, fetched_at, last_seen, values_hash, "
                f"cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM}"
            )
        )
        presence = sorted(
            tuple(r)
            for r in conn.execute(
                f"SELECT feed_id, record_key, first_seen, last_seen FROM {PRESENCE_FROM}"
            )
        )
        sightings = dict(
            conn.execute(
                "SELECT f.feed_id, COUNT(*) FROM "
                + by_call("presence", PRESENCE_COLUMNS, alias="p")
                + " JOIN listings l ON "
                "l.feed_key = p.feed_key AND l.fetched_at BETWEEN p.first_seen AND "
                "p.last_seen JOIN feeds f ON f.feed_key = p.feed_key "
                "GROUP BY f.feed_id"
            ).fetchall()
        )
        return {
            "calls": calls,
            "observations": observations,
            "presence": presence,
            "sightings": sightings,
        }
    finally:
        conn.close()


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def lifecycle(db: Path, feed_id: str) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in query(
            db,
            "SELECT call_id, first_seen, last_seen, disappeared_at, "
            f"status FROM {CALLS_FROM} WHERE feed_id = ?",
            (feed_id,),
        )
    }


# ------------------------------------------------------------------ Clearwater
def _clearwater_snapshots() -> list[dict]:
    archive = json.loads(
        (FIXTURES / CLEARWATER / "archive_2025-12-13.json").read_text(encoding="utf-8")
    )
    return archive["snapshots"]


def _clearwater_expected() -> dict[str, tuple]:
    """First/last seen, disappearance and status of every call, read straight from
    the archive: a call leaves the active board at the first later snapshot that
    lists calls but not it."""
    snaps = [
        (
            _iso(_epoch(s["timestamp"])),
            {c["Master_Incident_Number"] for c in s["calls"]},
        )
        for s in _clearwater_snapshots()
    ]
    out = {}
    for cid in {c for _, ids in snaps for c in ids}:
        seen = [t for t, ids in snaps if cid in ids]
        first, last = seen[0], seen[-1]
        gone = next(
            (t for t, ids in snaps if t > last and ids and cid not in ids), None
        )
        out[cid] = (first, last, gone, "closed" if gone else None)
    return out


@pytest.fixture(scope="module")
def clearwater(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The 52 snapshots committed as data/current_calls.json in the scraper's
    wrapper, plus unrelated commits; the same snapshots replayed as 52 runs."""
    tmp = tmp_path_factory.mktemp("clearwater")
    commits: list[tuple[int, dict[str, bytes | None]]] = [
        (_epoch("2025-12-12T23:00:00Z"), {"README.md": b"active calls scraper\n"}),
    ]
    for i, snap in enumerate(_clearwater_snapshots()):
        body = {
            "calls": snap["calls"],
            "timestamp": snap["timestamp"],
            "count": len(snap["calls"]),
        }
        files: dict[str, bytes | None] = {
            "data/current_calls.json": json.dumps(body, indent=2).encode("utf-8")
        }
        if i == 10:
            files["data/other.json"] = b"{}"
        commits.append((_epoch(snap["timestamp"]), files))
    repo = make_repo(tmp / "repo", commits)
    replay_db = tmp / "replay.sqlite"
    run_cfs(
        "--db",
        str(replay_db),
        "--output",
        str(tmp / "out"),
        "crawl",
        CLEARWATER,
        "--replay",
        "--no-jsonl",
    )
    return {"tmp": tmp, "repo": repo, "replay_db": replay_db}


def _import(
    db: Path, repo: Path, *extra: str, out: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    return run_cfs(
        "--db",
        str(db),
        "--output",
        str(out or db.parent / "out"),
        "import-git",
        str(repo),
        *extra,
        check=check,
    )


CLEARWATER_ARGS = ("--feed", CLEARWATER, "--path", "data/current_calls.json")


def test_clearwater_import_equals_replay_and_repeats_nothing(clearwater: dict) -> None:
    db = clearwater["tmp"] / "imported.sqlite"
    first = _import(db, clearwater["repo"], *CLEARWATER_ARGS)
    assert "52 commits of data/current_calls.json in range; 0 already imported" in (
        first.stderr
    )
    assert "[52/52 commits]" in first.stderr

    # Same calls, values, first/last seen, closures and observations as 52 runs.
    imported, replayed = state(db), state(clearwater["replay_db"])
    assert imported == replayed

    # Exactly what the archive says, read independently.
    expected = _clearwater_expected()
    got = {
        cid: (f, la, gone, status if gone else None)
        for cid, (f, la, gone, status) in lifecycle(db, CLEARWATER).items()
    }
    assert got == expected
    assert len(got) == 161
    assert sum(1 for v in got.values() if v[2]) == 154  # closed by leaving the board
    # a version per first sighting and per change; every sighting as presence
    assert len(imported["observations"]) == 161 + 6
    assert imported["sightings"] == {CLEARWATER: 319}

    # One run per commit, each tied to its commit in `imports`.
    rows = query(
        db,
        "SELECT i.status, i.committed_at, r.fetched_at, i.path FROM "
        "imports i JOIN runs r ON r.run_key = i.run_key",
    )
    assert len(rows) == 52
    assert {r[0] for r in rows} == {"ok"}
    assert all(r[1] == r[2] for r in rows)
    assert {r[3] for r in rows} == {"data/current_calls.json"}

    # A second import of the same range changes nothing.
    runs_before = query(db, f"SELECT * FROM {RUNS_FROM} ORDER BY run_id")
    imports_before = query(db, f"SELECT * FROM {IMPORTS_FROM} ORDER BY commit_sha")
    again = _import(db, clearwater["repo"], *CLEARWATER_ARGS)
    assert "52 already imported, 0 to go" in again.stderr
    assert state(db) == imported
    assert query(db, f"SELECT * FROM {RUNS_FROM} ORDER BY run_id") == runs_before
    assert (
        query(db, f"SELECT * FROM {IMPORTS_FROM} ORDER BY commit_sha") == imports_before
    )


@pytest.fixture(scope="module")
def whole(clearwater: dict) -> Path:
    """An uninterrupted import, in chunks of 20 snapshots."""
    db = clearwater["tmp"] / "whole.sqlite"
    _import(db, clearwater["repo"], *CLEARWATER_ARGS, "--chunk", "20")
    return db


# Run in a child: the direct engine, sent KILL_WITH (SIGKILL: nothing finishes;
# SIGTERM: it stops before the next commit) right after the KILL_AFTER-th
# snapshot's run row is written.
KILLED_AFTER = """
import os, signal, sys
from cfs_spiders.cli.main import main
from cfs_spiders.importers import snapshots
read, done = snapshots.SnapshotReader.read, []
def read_then_die(self, **kw):
    report = read(self, **kw)
    done.append(1)
    if len(done) == int(os.environ["KILL_AFTER"]):
        os.kill(os.getpid(), getattr(signal, os.environ["KILL_WITH"]))
    return report
snapshots.SnapshotReader.read = read_then_die
sys.exit(main(sys.argv[1:]))
"""


def _killed_import(
    db: Path, repo: Path, engine: str, sig: str = "SIGKILL"
) -> subprocess.Popen:
    """An import of 20-snapshot chunks killed in the middle of its second chunk:
    the direct engine after its 26th snapshot; a crawl (child processes) once
    the store shows 26 runs."""
    args = [
        "--db",
        str(db),
        "--output",
        str(db.parent / "out"),
        "import-git",
        str(repo),
        *CLEARWATER_ARGS,
        "--chunk",
        "20",
        "--engine",
        engine,
    ]
    env = {
        **os.environ,
        "CFS_LOG_LEVEL": "WARNING",
        "KILL_AFTER": "26",
        "KILL_WITH": sig,
    }
    command = (
        [sys.executable, "-c", KILLED_AFTER]
        if engine == "direct"
        else [sys.executable, "-m", "cfs_spiders.cli"]
    )
    proc = subprocess.Popen(
        command + args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while engine == "crawl" and proc.poll() is None:
            try:
                # finished runs (a run's row is made at its first write)
                runs = query(db, "SELECT COUNT(*) FROM runs WHERE status IS NOT NULL")[
                    0
                ][0]
            except sqlite3.Error:
                runs = 0
            if runs >= 26 or time.monotonic() > deadline:  # in the second chunk
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.stderr_text = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if sig == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL, "the import ended before the kill"
    return proc


@pytest.mark.parametrize("engine", ["direct", "crawl"])
def test_clearwater_import_interrupted_then_resumed(
    clearwater: dict, whole: Path, engine: str
) -> None:
    db = clearwater["tmp"] / f"interrupted_{engine}.sqlite"
    _killed_import(db, clearwater["repo"], engine)
    # finished runs (a run's row is made at its first write, status NULL)
    done = query(db, "SELECT COUNT(*) FROM runs WHERE status IS NOT NULL")[0][0]
    assert 26 <= done < 52
    if engine == "direct":
        assert done == 26  # the snapshot in progress when killed, at most, is lost
    assert (
        query(db, f"SELECT COUNT(*) FROM {IMPORTS_FROM} WHERE status = 'pending'")[0][0]
        > 0
    )

    resumed = _import(db, clearwater["repo"], *CLEARWATER_ARGS, "--chunk", "20")
    assert f"{done} already imported, {52 - done} to go" in resumed.stderr
    assert state(db) == state(whole)
    assert query(db, f"SELECT COUNT(*) FROM {RUNS_FROM}")[0][0] == 52
    assert query(
        db, f"SELECT status, COUNT(*) FROM {IMPORTS_FROM} GROUP BY status"
    ) == [("ok", 52)]


def test_sigterm_stops_the_direct_import_after_the_commit_in_progress(
    clearwater: dict, whole: Path
) -> None:
    db = clearwater["tmp"] / "terminated.sqlite"
    proc = _killed_import(db, clearwater["repo"], "direct", "SIGTERM")
    assert proc.returncode == 130, proc.stderr_text
    assert "interrupted after" in proc.stderr_text
    assert query(db, f"SELECT COUNT(*) FROM {RUNS_FROM}")[0][0] == 26
    resumed = _import(db, clearwater["repo"], *CLEARWATER_ARGS)
    assert "26 already imported, 26 to go" in resumed.stderr
    assert state(db) == state(whole)


def runs_of(db: Path) -> list[tuple]:
    """What each run decided, without wall-clock times."""
    return query(
        db,
        "SELECT run_id, feed_id, mode, fetched_at, status, complete, records, "
        f"new_calls, new_observations, closed_calls, error FROM {RUNS_FROM} ORDER BY run_id",
    )


def imports_of(db: Path) -> list[tuple]:
    return query(
        db,
        f"SELECT feed_id, commit_sha, path, committed_at, status, run_id FROM {IMPORTS_FROM}"
        " ORDER BY committed_at, feed_id",
    )


def test_direct_engine_equals_crawl_engine(clearwater: dict, whole: Path) -> None:
    """The in-process reading (default, here in chunks of 20) stores what a Scrapy
    replay crawl per commit stores: calls, versions, presence, listings, runs,
    imports. Only the run rows' reports differ: the direct engine's keep what
    the run found, each value as the crawl's report has it."""
    db = clearwater["tmp"] / "crawl_engine.sqlite"
    _import(db, clearwater["repo"], *CLEARWATER_ARGS, "--engine", "crawl")
    assert state(whole) == state(db)
    assert runs_of(whole) == runs_of(db)
    assert len(runs_of(db)) == 52
    assert imports_of(whole) == imports_of(db)
    assert query(db, f"SELECT * FROM {LISTINGS_FROM}") == query(
        whole, f"SELECT * FROM {LISTINGS_FROM}"
    )
    full = dict(query(db, f"SELECT run_id, report_json FROM {RUNS_FROM}"))
    compact = dict(query(whole, f"SELECT run_id, report_json FROM {RUNS_FROM}"))
    for run_id, text in compact.items():
        mine, theirs = json.loads(text), json.loads(full[run_id])
        assert mine.pop("imported") is True
        assert theirs["store_writer"]["path"] == "thread"  # a crawl wrote it
        assert "store_writer" not in mine and "run_id" not in mine
        rates = mine.pop("fill_rates")
        assert rates == {k: v for k, v in theirs["fill_rates"].items() if v}
        assert mine == {k: theirs[k] for k in mine}
        assert mine["reader"] == "live"
        assert len(text) < len(full[run_id]) / 2


def _engines_agree(tmp_path: Path, repo: Path, *args: str) -> Path:
    """Import ``repo`` with each engine; both stores must agree. Returns the
    direct engine's store."""
    dbs = {}
    for engine in ("direct", "crawl"):
        dbs[engine] = tmp_path / f"{engine}.sqlite"
        _import(dbs[engine], repo, *args, "--engine", engine, check=False)
    direct, crawl = dbs["direct"], dbs["crawl"]
    assert state(direct) == state(crawl)
    assert runs_of(direct) == runs_of(crawl)
    assert imports_of(direct) == imports_of(crawl)
    return direct


def test_engines_agree_on_degraded_and_failed_commits(tmp_path: Path) -> None:
    """A commit whose calls lost their address (a synthetic edit of a real
    snapshot: the fill-rate check, reading the compact reports of the commits
    before, degrades it), an error page (failed) and a good commit after: the
    same runs, statuses, errors and calls from both engines."""
    snaps = _clearwater_snapshots()[:6]
    path = "data/current_calls.json"

    def body(calls: list[dict]) -> bytes:
        return json.dumps({"calls": calls}).encode()

    commits: list[tuple[int, dict[str, bytes | None]]] = []
    for i, snap in enumerate(snaps):
        calls = snap["calls"]
        if i == 3:  # synthetic: the real snapshot without its addresses
            calls = [{k: v for k, v in c.items() if k != "Address"} for c in calls]
        content = b"<html>502 Bad Gateway</html>" if i == 4 else body(calls)
        commits.append((_epoch(snap["timestamp"]), {path: content}))
    repo = make_repo(tmp_path / "repo", commits)
    db = _engines_agree(tmp_path, repo, "--feed", CLEARWATER, "--path", path)
    statuses = [r[4] for r in sorted(runs_of(db), key=lambda r: r[3])]
    assert statuses == ["ok", "ok", "ok", "degraded", "failed", "ok"]
    errors = [r[10] or "" for r in sorted(runs_of(db), key=lambda r: r[3])]
    assert "address fill rate fell from 100% to 0%" in errors[3]
    assert "FeedFormatError parsing" in errors[4]


def test_engines_agree_on_a_listing_past_the_committed_page(tmp_path: Path) -> None:
    """An ArcGIS answer that says the listing goes on (a synthetic
    ``exceededTransferLimit`` added to a real capture): the next page is no
    commit's, so the run is incomplete and failed, with the replay's reason,
    and nothing is concluded from it; both engines alike."""
    first, second = sorted((FIXTURES / HOUSTON).glob("*.json"))
    cut = json.loads(first.read_text(encoding="utf-8"))
    cut["exceededTransferLimit"] = True
    repo = make_repo(
        tmp_path / "repo",
        [
            (_epoch("2023-10-26T20:36:56Z"), {"data.json": second.read_bytes()}),
            (_epoch("2023-10-27T20:36:56Z"), {"data.json": json.dumps(cut).encode()}),
        ],
    )
    db = _engines_agree(tmp_path, repo, "--feed", HOUSTON, "--path", "data.json")
    runs = sorted(runs_of(db), key=lambda r: r[3])
    assert [r[4] for r in runs] == ["ok", "failed"]
    assert "ReplayError for " in runs[1][10] and "no recording answers" in runs[1][10]
    # the failed commit's calls are stored, but nobody left the listing
    assert runs[1][9] == 0
    assert query(
        db, f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE disappeared_at IS NOT NULL"
    ) == [(0,)]


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL test server (``CFS_TEST_DATABASE_URL``),
    dropped after; skipped without a server."""
    server = os.environ.get("CFS_TEST_DATABASE_URL")
    if not server:
        if os.environ.get("CFS_REQUIRE_SERVICES") == "1":
            pytest.fail("CFS_REQUIRE_SERVICES=1 but CFS_TEST_DATABASE_URL is not set")
        pytest.skip("CFS_TEST_DATABASE_URL not set (no PostgreSQL server)")
    import psycopg

    name = f"cfs_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield f"{server.rpartition('/')[0]}/{name}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


STORE_TABLES = {
    "calls": f"SELECT * FROM {CALLS_FROM} ORDER BY feed_id, record_key",
    "observations": f"SELECT * FROM {OBSERVATIONS_FROM} "
    "ORDER BY feed_id, record_key, fetched_at",
    "presence": f"SELECT * FROM {PRESENCE_FROM} ORDER BY feed_id, record_key, first_seen",
    "listings": f"SELECT * FROM {LISTINGS_FROM} ORDER BY feed_id, fetched_at",
    "runs": "SELECT run_id, fetched_at, status, complete, records, new_calls, "
    f"new_observations, closed_calls, error, report_json FROM {RUNS_FROM} ORDER BY run_id",
    "imports": "SELECT feed_id, commit_sha, path, committed_at, status, run_id "
    f"FROM {IMPORTS_FROM} ORDER BY commit_sha",
}


def _ids(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.endswith("_key")} for r in rows]


@pytest.mark.postgres
def test_direct_import_into_postgresql_equals_sqlite(
    clearwater: dict, whole: Path, pg_url: str
) -> None:
    """The direct engine writes through PostgreSQL's store writer (``COPY``) as
    through SQLite's: every table the same, the compact run reports included."""
    from cfs_spiders.store.connect import open_store

    run_cfs(
        "--db",
        pg_url,
        "--output",
        str(clearwater["tmp"] / "pg_out"),
        "import-git",
        str(clearwater["repo"]),
        *CLEARWATER_ARGS,
    )
    pg, lite = open_store(pg_url), open_store(whole)
    try:
        for name, sql in STORE_TABLES.items():
            # the integer keys are each engine's own numbering: the ids compared
            assert _ids(pg.query(sql)) == _ids(lite.query(sql)), name
        assert len(pg.query(STORE_TABLES["runs"])) == 52
    finally:
        pg.close()
        lite.close()


def test_clearwater_later_range_first_then_all(clearwater: dict, whole: Path) -> None:
    """History imported newest part first (--since), then the rest: the store
    orders what it learns by fetch time, so the end state is the same."""
    db = clearwater["tmp"] / "later_first.sqlite"
    later = _import(
        db, clearwater["repo"], *CLEARWATER_ARGS, "--since", "2025-12-13T12:00:00Z"
    )
    assert "19 commits of data/current_calls.json in range" in later.stderr
    rest = _import(db, clearwater["repo"], *CLEARWATER_ARGS)
    assert "19 already imported, 33 to go" in rest.stderr
    assert state(db) == state(whole)


def test_broken_and_deleted_commits(tmp_path: Path) -> None:
    """A commit holding an error page is a failed run (nothing concluded from it);
    a commit that deletes the file gives no snapshot. Both are recorded, so they
    are not retried, and the import exits 2 to say some snapshots failed."""
    snaps = _clearwater_snapshots()[:2]

    def body(snap: dict) -> bytes:
        return json.dumps({"calls": snap["calls"]}).encode()

    path = "data/current_calls.json"
    repo = make_repo(
        tmp_path / "repo",
        [
            (_epoch("2025-12-13T00:00:00Z"), {path: body(snaps[0])}),
            (_epoch("2025-12-13T00:05:00Z"), {path: b"<html>502 Bad Gateway</html>"}),
            (_epoch("2025-12-13T00:10:00Z"), {path: None}),
            (_epoch("2025-12-13T00:15:00Z"), {path: body(snaps[1])}),
        ],
    )
    db = tmp_path / "imported.sqlite"
    proc = _import(db, repo, "--feed", CLEARWATER, "--path", path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert query(db, f"SELECT committed_at, status FROM {IMPORTS_FROM} ORDER BY 1") == [
        ("2025-12-13T00:00:00Z", "ok"),
        ("2025-12-13T00:05:00Z", "failed"),
        ("2025-12-13T00:10:00Z", "no_file"),
        ("2025-12-13T00:15:00Z", "ok"),
    ]
    first = {c["Master_Incident_Number"] for c in snaps[0]["calls"]}
    second = {c["Master_Incident_Number"] for c in snaps[1]["calls"]}
    seen = lifecycle(db, CLEARWATER)
    assert set(seen) == first | second
    assert first - second
    for cid in first - second:  # gone at the next good listing, not the error page
        assert seen[cid][1:3] == ("2025-12-13T00:00:00Z", "2025-12-13T00:15:00Z")
    again = _import(db, repo, "--feed", CLEARWATER, "--path", path)
    assert "4 already imported, 0 to go" in again.stderr
    # --retry-failed tries the failed commit again (still an error page: failed)
    again = _import(
        db, repo, "--feed", CLEARWATER, "--path", path, "--retry-failed", check=False
    )
    assert again.returncode == 2 and "3 already imported, 1 to go" in again.stderr
    # a commit whose crawl wrote no run (a transient failure) is always retried
    con = sqlite3.connect(db)
    run_id = con.execute(
        f"SELECT run_id FROM {IMPORTS_FROM} WHERE committed_at = '2025-12-13T00:15:00Z'"
    ).fetchone()[0]
    con.execute(
        "UPDATE imports SET status = 'no_run' WHERE run_key = (SELECT run_key FROM "
        "runs WHERE run_id = ?)",
        (run_id,),
    )
    con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
    con.commit()
    con.close()
    again = _import(db, repo, "--feed", CLEARWATER, "--path", path)
    assert "3 already imported, 1 to go" in again.stderr
    assert query(
        db, f"SELECT status FROM {IMPORTS_FROM} WHERE run_id = ?", (run_id,)
    ) == [("ok",)]


# --------------------------------------------------------------------- Houston
LEGACY_CONFIG = """\
config_version: 1
agency: Houston Fire Department (test stand-in for the retired web service)
city: Houston
state: TX
title: Houston active incidents, legacy web service (test only)
platform: json
urls:
  - https://example.invalid/hfd/incidents
time_zone: America/Chicago
location_policy:
  address: block
  coordinates: none
liveness: live
board: active_calls
verified_against_capture: false
capture:
  kind: raw
  folder: none
  origin: synthetic, written by tests/test_import_git.py
parse:
  records_path: ["incidents"]
record:
  call_id: IncidentNumber
  address: Address
  call_type: Type
declared:
  id: published
  received_time: not_published
  stage_times: not_published
  address: published
  coordinates: not_published
  call_type: published
  priority: not_published
  status: not_published
  disposition: not_published
  call_source: not_published
  area: not_published
  units: not_published
"""


def _legacy(*ids: str) -> bytes:
    rows = [
        {"IncidentNumber": i, "Address": "100 BLOCK MAIN ST", "Type": "EMS EVENT"}
        for i in ids
    ]
    return json.dumps({"incidents": rows}).encode()


def test_houston_format_switch_two_feeds_two_ranges(tmp_path: Path) -> None:
    """The scraper committed incidents.json (a JSON web service, here a synthetic
    stand-in) until October 2023, then data.json (ArcGIS). Each feed reads its
    range; the ArcGIS part equals replaying the two recorded responses."""
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "city_configs", configs)
    (configs / f"{LEGACY}.yaml").write_text(LEGACY_CONFIG, encoding="utf-8")
    arc = sorted((FIXTURES / HOUSTON).glob("*.json"))
    repo = make_repo(
        tmp_path / "repo",
        [
            (_epoch("2023-10-01T12:00:00Z"), {"incidents.json": _legacy("F1", "F2")}),
            (_epoch("2023-10-20T12:00:00Z"), {"incidents.json": _legacy("F2")}),
            (
                _epoch("2023-10-26T20:36:56Z"),
                {"incidents.json": None, "data.json": arc[0].read_bytes()},
            ),
            (_epoch("2026-08-22T20:42:39Z"), {"data.json": arc[1].read_bytes()}),
        ],
    )
    db = tmp_path / "imported.sqlite"
    switch = "2023-10-26T20:00:00Z"
    run_cfs(
        "--configs",
        str(configs),
        "--db",
        str(db),
        "--output",
        str(tmp_path / "out"),
        "import-git",
        str(repo),
        "--path",
        "data.json",
        "--path",
        "incidents.json",
        "--feed",
        f"{LEGACY}@..{switch}",
        "--feed",
        f"{HOUSTON}@{switch}..",
    )
    assert query(
        db,
        f"SELECT feed_id, path, committed_at, status FROM {IMPORTS_FROM} ORDER BY committed_at",
    ) == [
        (LEGACY, "incidents.json", "2023-10-01T12:00:00Z", "ok"),
        (LEGACY, "incidents.json", "2023-10-20T12:00:00Z", "ok"),
        (HOUSTON, "data.json", "2023-10-26T20:36:56Z", "ok"),
        (HOUSTON, "data.json", "2026-08-22T20:42:39Z", "ok"),
    ]
    assert lifecycle(db, LEGACY) == {
        "F1": (
            "2023-10-01T12:00:00Z",
            "2023-10-01T12:00:00Z",
            "2023-10-20T12:00:00Z",
            "closed",
        ),
        # The legacy service stopped: its last call is never seen to leave.
        "F2": ("2023-10-01T12:00:00Z", "2023-10-20T12:00:00Z", None, "unknown"),
    }

    replay_db = tmp_path / "replay.sqlite"
    run_cfs(
        "--db",
        str(replay_db),
        "--output",
        str(tmp_path / "out2"),
        "crawl",
        HOUSTON,
        "--replay",
        "--no-jsonl",
    )
    imported = state(db)
    imported["calls"] = {k: v for k, v in imported["calls"].items() if k[0] == HOUSTON}
    imported["observations"] = [o for o in imported["observations"] if o[0] == HOUSTON]
    imported["presence"] = [p for p in imported["presence"] if p[0] == HOUSTON]
    imported["sightings"] = {HOUSTON: imported["sightings"][HOUSTON]}
    assert imported == state(replay_db)
    # No incident is on both boards, three years apart: every 2023 incident left
    # the board at the 2026 commit, every 2026 incident is still on it.
    rows = query(
        db,
        "SELECT first_seen, last_seen, disappeared_at, status, COUNT(*) "
        f"FROM {CALLS_FROM} WHERE feed_id = ? GROUP BY 1, 2, 3, 4 ORDER BY 1",
        (HOUSTON,),
    )
    assert [r[:4] for r in rows] == [
        (
            "2023-10-26T20:36:56Z",
            "2023-10-26T20:36:56Z",
            "2026-08-22T20:42:39Z",
            "closed",
        ),
        ("2026-08-22T20:42:39Z", "2026-08-22T20:42:39Z", None, rows[1][3]),
    ]
    assert rows[1][3] != "closed"
    assert rows[1][4] == 107


# -------------------------------------------------------------------- Portland
def test_portland_renamed_file(tmp_path: Path) -> None:
    """The Atom feed committed as rss_data/911incidents.cfm, then renamed to
    rss_data/911incidents_2.cfm: both paths given, both snapshots imported; the
    result equals replaying the two recorded feeds."""
    first, second = sorted((FIXTURES / PORTLAND).glob("*.xml"))
    repo = make_repo(
        tmp_path / "repo",
        [
            (
                _epoch("2017-02-28T22:58:29Z"),
                {"rss_data/911incidents.cfm": first.read_bytes()},
            ),
            (
                _epoch("2017-03-01T00:36:52Z"),
                {
                    "rss_data/911incidents.cfm": None,
                    "rss_data/911incidents_2.cfm": second.read_bytes(),
                },
            ),
        ],
    )
    db = tmp_path / "imported.sqlite"
    _import(
        db,
        repo,
        "--feed",
        PORTLAND,
        "--path",
        "rss_data/911incidents.cfm",
        "--path",
        "rss_data/911incidents_2.cfm",
    )
    assert query(
        db,
        f"SELECT path, committed_at, status FROM {IMPORTS_FROM} ORDER BY committed_at",
    ) == [
        ("rss_data/911incidents.cfm", "2017-02-28T22:58:29Z", "ok"),
        ("rss_data/911incidents_2.cfm", "2017-03-01T00:36:52Z", "ok"),
    ]
    replay_db = tmp_path / "replay.sqlite"
    run_cfs(
        "--db",
        str(replay_db),
        "--output",
        str(tmp_path / "out2"),
        "crawl",
        PORTLAND,
        "--replay",
        "--no-jsonl",
    )
    assert state(db) == state(replay_db)
    # A window of the 100 latest: rolling off is not closing.
    gone = query(
        db,
        f"SELECT COUNT(*), SUM(status = 'closed') FROM {CALLS_FROM} "
        "WHERE disappeared_at = '2017-03-01T00:36:52Z'",
    )[0]
    assert gone[0] > 0 and gone[1] == 0
    assert (
        query(db, f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE disappeared_at IS NULL")[0][
            0
        ]
        == 100
    )


# ------------------------------------------------------------------- planning
def _commit(iso: str, sha: str = "a" * 40) -> Commit:
    return Commit(
        sha=sha,
        at=datetime.fromisoformat(iso.replace("Z", "+00:00")),
        path="f.json",
        blob="b" * 40,
        order=0,
    )


def test_feed_ranges_route_commits_and_must_not_overlap() -> None:
    old = parse_feed_spec("tx_houston_old_feed@..2023-10-26")
    new = parse_feed_spec("tx_houston_hec_active_incidents@2023-10-26..")
    assert str(old) == "tx_houston_old_feed@..2023-10-26T00:00:00Z"
    check_ranges([old, new])
    commits = [
        _commit("2023-10-25T23:59:59Z", "1" * 40),
        _commit("2023-10-26T00:00:00Z", "2" * 40),
        _commit("2024-01-01T00:00:00Z", "3" * 40),
    ]
    routed = plan(commits, [old, new])
    assert [p.feed_id for p in routed] == [old.feed_id, new.feed_id, new.feed_id]
    assert [
        p.feed_id
        for p in plan(commits, [old, new], until=datetime(2024, 1, 1, tzinfo=UTC))
    ] == [old.feed_id, new.feed_id]
    assert [len(c) for c in chunks(routed, 1)] == [1, 1, 1]
    assert [len(c) for c in chunks(routed, 20)] == [1, 2]
    with pytest.raises(ImportGitError, match="overlap"):
        check_ranges([old, FeedRange("tx_houston_hec_active_incidents")])
    with pytest.raises(ImportGitError, match="SINCE is not before UNTIL"):
        parse_feed_spec("tx_houston_old_feed@2024-01-01..2023-01-01")
    with pytest.raises(ImportGitError, match="ISO 8601"):
        parse_feed_spec("tx_houston_old_feed@last week..")
