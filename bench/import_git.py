#!/usr/bin/env python
"""`cfs import-git` against git-history on the same repository, in one run.

The repository is Clearwater's 52 real snapshots (the bundled archive in
``tests/fixtures/fl_clearwater_police_active_calls``), committed as
``data/current_calls.json`` in the shape of the scraper that recorded them, each
commit dated with its capture time (as ``tests/test_import_git.py`` builds it).
Then, each in a fresh child process and a fresh SQLite file, best of
``--repeat``:

- git-history (Simon Willison's tool for git-scraped data, the peer):
  ``git-history file DB data/current_calls.json --repo REPO --id
  Master_Incident_Number --convert 'json.loads(content)["calls"]'``;
- ``cfs import-git REPO --feed fl_clearwater_police_active_calls --path
  data/current_calls.json`` (it also normalizes every element and keeps
  presence spans and the complete listings): each commit read in the process
  (the default engine);
- the same with ``--engine crawl`` (a Scrapy replay crawl per commit, in child
  processes: the reference the direct engine is tested against).

Prints wall time and store bytes of each and their ratios, the bytes of each
table and index of the cfs store (SQLite's ``dbstat``), and writes
``bench/results/import_git.json``. Needs ``git`` and ``git-history`` (the dev
extra installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEED = "fl_clearwater_police_active_calls"
ARCHIVE = ROOT / "tests" / "fixtures" / FEED / "archive_2025-12-13.json"
PATH = "data/current_calls.json"
ENGINES = {"cfs import-git": "direct", "cfs --engine crawl": "crawl"}


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def make_repo(folder: Path) -> int:
    """The 52 snapshots as 52 commits; returns the number of commits."""
    folder.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(folder.parent)}

    def git(*args: str, when: int | None = None) -> None:
        e = dict(env)
        if when is not None:
            e["GIT_AUTHOR_DATE"] = e["GIT_COMMITTER_DATE"] = f"{when} +0000"
        subprocess.run(
            ["git", "-c", "user.name=scraper", "-c", "user.email=s@example.invalid"]
            + list(args),
            cwd=folder,
            env=e,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    snaps = json.loads(ARCHIVE.read_text(encoding="utf-8"))["snapshots"]
    target = folder / PATH
    target.parent.mkdir(parents=True)
    for snap in snaps:
        body = {
            "calls": snap["calls"],
            "timestamp": snap["timestamp"],
            "count": len(snap["calls"]),
        }
        target.write_text(json.dumps(body, indent=2), encoding="utf-8")
        git("add", PATH)
        git(
            "commit",
            "-q",
            "-m",
            f"snapshot {snap['timestamp']}",
            when=_epoch(snap["timestamp"]),
        )
    return len(snaps)


def store_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    return wall


def table_bytes(db: Path) -> dict[str, int]:
    """Bytes of each table and index (pages times page size), largest first."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    finally:
        conn.close()
    return dict(rows)


def vacuumed(db: Path) -> int:
    """The store's size after VACUUM (both tools' files, compacted alike)."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.close()
    return store_bytes(db)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "import_git.json"))
    args = p.parse_args(argv)
    gh = shutil.which("git-history")
    if gh is None:
        raise SystemExit("git-history is not installed (pip install git-history)")
    work = Path(tempfile.mkdtemp(prefix="cfs-import-git-"))
    try:
        commits = make_repo(work / "repo")
        runs: dict[str, list[dict]] = {"git-history": [], **{k: [] for k in ENGINES}}
        env = {"PYTHONPATH": str(ROOT), "CFS_LOG_LEVEL": "WARNING"}
        for i in range(args.repeat):
            db = work / f"gh{i}" / "gh.db"
            db.parent.mkdir()
            wall = timed(
                [
                    gh,
                    "file",
                    str(db),
                    PATH,
                    "--repo",
                    str(work / "repo"),
                    "--id",
                    "Master_Incident_Number",
                    "--silent",
                    "--convert",
                    'json.loads(content)["calls"]',
                ]
            )
            runs["git-history"].append(
                {
                    "wall_s": round(wall, 3),
                    "bytes": store_bytes(db),
                    "vacuumed": vacuumed(db),
                }
            )
            for name, engine in ENGINES.items():
                db = work / f"cfs{i}-{engine}" / "cfs.sqlite"
                db.parent.mkdir()
                wall = timed(
                    [
                        sys.executable,
                        "-m",
                        "cfs_spiders.cli",
                        "--db",
                        str(db),
                        "--output",
                        str(db.parent / "out"),
                        "import-git",
                        str(work / "repo"),
                        "--feed",
                        FEED,
                        "--path",
                        PATH,
                        "--engine",
                        engine,
                    ],
                    env=env,
                )
                tables = table_bytes(db)
                runs[name].append(
                    {
                        "wall_s": round(wall, 3),
                        "bytes": store_bytes(db),
                        "vacuumed": vacuumed(db),
                        "tables": tables,
                    }
                )
        best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
        g, c = best["git-history"], best["cfs import-git"]
        print(f"repository: {commits} commits of {PATH} (Clearwater's real snapshots)")
        print(f"{'tool':<20} | {'wall s':>7} | {'store B':>10} | {'vacuumed B':>10}")
        for name, r in best.items():
            print(
                f"{name:<20} | {r['wall_s']:>7.2f} | {r['bytes']:>10,} | {r['vacuumed']:>10,}"
            )
        print(
            f"cfs / git-history: time {c['wall_s'] / g['wall_s']:.2f}x, "
            f"store {c['bytes'] / g['bytes']:.2f}x (vacuumed {c['vacuumed'] / g['vacuumed']:.2f}x)"
        )
        top = list(c["tables"].items())
        print(
            f"cfs store, {len(top)} tables and indexes: "
            + ", ".join(f"{k} {v:,}" for k, v in top[:8])
            + f", the other {len(top) - 8} {sum(v for _, v in top[8:]):,}"
        )
        doc = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_before": os.getloadavg()[0],
            "commits": commits,
            "runs": runs,
            "best": best,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
