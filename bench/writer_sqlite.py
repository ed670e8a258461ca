"""What SQLite costs the writer process per call at a backfill's size, by
setting (an experiment for the writer, see BENCHMARKS.md).

    python bench/writer_sqlite.py STORE [--limit N] CONFIG...

STORE is a filled cfs SQLite store (``python bench/run.py --sizes 1000000
--keep`` leaves one in bench/data/1000000/work/cfs.sqlite). Its calls, versions
and presence rows are replayed, in call key order and in batches of one feed
(5,000 calls, as the crawl sends them), into a fresh store with the same
schema, with the writer's own statements (the calls INSERT binding only the
columns the feed fills, then the versions and the presence spans), one
transaction per batch (or per ``tx=N`` batches). Printed: CPU and wall
microseconds a call of each statement and of the COMMIT, and the WAL's bytes.

A CONFIG is comma-separated ``key=value`` settings: ``page=4096``,
``cache=64`` (MiB), ``tx=2`` (batches per transaction), ``drop=NAME+NAME``
(secondary indexes left out while writing, built at the end: timed apart),
``ckpt=N`` (``wal_autocheckpoint``), ``sync=NORMAL``, ``fk=0`` (foreign keys not checked); ``base`` is the store's
own settings.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

BATCH = 5000


def settings(text: str) -> dict[str, str]:
    out = {
        "page": "16384",
        "cache": "64",
        "tx": "1",
        "drop": "",
        "ckpt": "1000",
        "fk": "1",
    }
    out["sync"] = "NORMAL"
    if text != "base":
        for part in text.split(","):
            k, _, v = part.partition("=")
            out[k] = v
    return out


class Clock:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def run(self, label: str, fn, *args):
        c, w = time.process_time(), time.perf_counter()
        out = fn(*args)
        self.cpu[label] = self.cpu.get(label, 0) + time.process_time() - c
        self.wall[label] = self.wall.get(label, 0) + time.perf_counter() - w
        return out


def batches(src: sqlite3.Connection, cols: list[str], limit: int):
    """(feed_key, calls rows, versions rows, presence rows) per batch."""
    by_feed: dict[int, list[tuple]] = {}
    fk = cols.index("feed_key")
    cur = src.execute(f"SELECT {','.join(cols)} FROM calls ORDER BY call_key")
    seen = 0
    while rows := cur.fetchmany(BATCH):
        for r in rows:
            by_feed.setdefault(r[fk], []).append(r)
        for feed in list(by_feed):
            if len(by_feed[feed]) >= BATCH:
                yield feed, by_feed.pop(feed)
        seen += len(rows)
        if seen >= limit:
            break
    for feed, rows in by_feed.items():
        yield feed, rows


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("configs", nargs="+")
    p.add_argument("--limit", type=int, default=10**9)
    a = p.parse_args()
    src = sqlite3.connect(f"file:{a.store}?mode=ro", uri=True)
    ddl = [
        r[0]
        for r in src.execute(
            "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE "
            "'sqlite_%' ORDER BY type DESC"  # the tables before their indexes
        )
    ]
    cols = [r[1] for r in src.execute("PRAGMA table_xinfo(calls)") if r[6] == 0]
    # the columns each feed fills (the writer binds those only)
    filled: dict[int, list[str]] = {}
    for (feed,) in src.execute("SELECT feed_key FROM feeds").fetchall():
        counts = src.execute(
            f"SELECT {','.join(f'count({c})' for c in cols)} FROM (SELECT * FROM "
            "calls WHERE feed_key = ? LIMIT 20000)",
            (feed,),
        ).fetchone()
        filled[feed] = [c for c, n in zip(cols, counts, strict=True) if n]
    other = sqlite3.connect(f"file:{a.store}?mode=ro", uri=True)
    for text in a.configs:
        cfg = settings(text)
        work = Path(tempfile.mkdtemp(prefix="cfs-wsql-", dir="/tmp"))
        db = work / "s.sqlite"
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute(f"PRAGMA page_size={cfg['page']}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={cfg['sync']}")
        conn.execute(f"PRAGMA cache_size=-{int(float(cfg['cache']) * 1024)}")
        conn.execute(f"PRAGMA wal_autocheckpoint={cfg['ckpt']}")
        conn.execute(f"PRAGMA foreign_keys={cfg['fk']}")
        dropped = [d for d in cfg["drop"].split("+") if d]
        later = []
        for stmt in ddl:
            if any(f" {d} " in stmt for d in dropped):
                later.append(stmt)
                continue
            conn.execute(stmt)
        # the feeds, runs, dicts and sources the rows name
        for table in ("feeds", "runs", "sources", "raw_dicts"):
            rows = other.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ",".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        clock = Clock()
        n = nb = 0
        tx = int(cfg["tx"])
        open_tx = 0
        for feed, rows in batches(src, cols, a.limit):
            names = filled[feed] + ["first_seen", "last_seen", "values_hash"]
            names = ["call_key", *[c for c in names if c != "call_key"]]
            idx = [cols.index(c) for c in names]
            crow = [tuple(r[i] for i in idx) for r in rows]
            lo, hi = crow[0][0], crow[-1][0]
            obs = other.execute(
                "SELECT * FROM observations WHERE call_key BETWEEN ? AND ?", (lo, hi)
            ).fetchall()
            keys = {r[0] for r in crow}
            obs = [o for o in obs if o[0] in keys]
            pres = other.execute(
                "SELECT * FROM presence WHERE call_key BETWEEN ? AND ?", (lo, hi)
            ).fetchall()
            pres = [o for o in pres if o[0] in keys]
            if not open_tx:
                clock.run("begin", conn.execute, "BEGIN IMMEDIATE")
            ins = (
                f"INSERT INTO calls ({','.join(names)}) VALUES "
                f"({','.join('?' * len(names))})"
            )
            clock.run("calls", conn.executemany, ins, crow)
            clock.run(
                "versions",
                conn.executemany,
                "INSERT INTO observations VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(call_key, fetched_at) DO NOTHING",
                obs,
            )
            clock.run(
                "presence",
                conn.executemany,
                "INSERT INTO presence VALUES (?,?,?) "
                "ON CONFLICT(call_key, first_seen) DO NOTHING",
                pres,
            )
            open_tx += 1
            if open_tx >= tx:
                clock.run("commit", conn.execute, "COMMIT")
                open_tx = 0
            n += len(rows)
            nb += 1
        if open_tx:
            clock.run("commit", conn.execute, "COMMIT")
        wal = os.path.getsize(f"{db}-wal") if os.path.exists(f"{db}-wal") else 0
        for stmt in later:
            clock.run("index build", conn.execute, stmt)
        total = sum(clock.cpu.values())
        parts = "  ".join(
            f"{k} {clock.cpu[k] / n * 1e6:.2f}/{clock.wall[k] / n * 1e6:.2f}"
            for k in clock.cpu
        )
        print(
            f"{text:<40} {n} calls {nb} batches: total {total / n * 1e6:.2f} us/call "
            f"CPU ({total:.1f} s) | {parts} | wal {wal / 1e6:.0f} MB | "
            f"db {os.path.getsize(db) / n:.0f} B/call",
            flush=True,
        )
        conn.close()
        for f in work.iterdir():
            f.unlink()
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
