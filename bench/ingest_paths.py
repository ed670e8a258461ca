"""How fast SQLite takes a store's calls rows by each insert path (an experiment
for the next step of the writer, see BENCHMARKS.md "What stands in the way").

    python bench/ingest_paths.py STORE

STORE is a filled cfs SQLite store, e.g. the one `python bench/run.py --sizes
100000 --keep` leaves in bench/data/100000/work/cfs.sqlite. Its calls rows are read
once into memory, then written in batches of 5,000 into fresh stores with the same
calls table and indexes, each path timed in CPU and wall microseconds a row:

- `executemany` of tuples of every column (the sqlite3 module binds each value
  from Python);
- the same with only the primary key (what the secondary indexes cost);
- ADBC's bulk ingest of an Arrow table into a temporary table (C, no per-row
  Python), alone and followed by one `INSERT ... SELECT` into calls.

The Arrow columns are typed from the values (a column of mixed types as text):
the timing, not the stored types, is what this measures.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa

BATCH = 5000


def fresh(path: Path, ddl: list[str]) -> sqlite3.Connection:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists():
            p.unlink()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in ddl:
        conn.execute(statement)
    conn.commit()
    return conn


def timed(label: str, n: int, work) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<48} {cpu / n * 1e6:6.2f} us/row CPU {wall / n * 1e6:6.2f} wall")


def main(store: str) -> int:
    src = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    ddl = [
        r[0]
        for r in src.execute(
            "SELECT sql FROM sqlite_schema WHERE tbl_name = 'calls' AND sql IS NOT NULL"
            " ORDER BY type DESC"  # the table before its indexes
        )
    ]
    # generated columns are computed, not inserted
    cols = [r[1] for r in src.execute("PRAGMA table_xinfo(calls)") if r[6] == 0]
    rows = src.execute(f"SELECT {','.join(cols)} FROM calls").fetchall()
    src.close()
    n = len(rows)
    print(f"{n} calls rows of {len(cols)} columns from {store}")
    arrays = []
    for j in range(len(cols)):
        column = [r[j] for r in rows]
        try:
            arrays.append(pa.array(column))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in column]))
    table = pa.Table.from_arrays(arrays, names=cols)
    insert = (
        f"INSERT INTO calls ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
    )
    work = Path(tempfile.mkdtemp(prefix="cfs-ingest-"))

    def by_executemany(conn: sqlite3.Connection) -> None:
        for i in range(0, n, BATCH):
            conn.execute("BEGIN")
            conn.executemany(insert, rows[i : i + BATCH])
            conn.execute("COMMIT")

    def by_ingest(path: Path, then_insert: bool) -> None:
        conn = adbc.connect(str(path))
        try:
            for i in range(0, n, BATCH):
                with conn.cursor() as cur:
                    cur.adbc_ingest(
                        "stage", table.slice(i, BATCH), mode="replace", temporary=True
                    )
                    if then_insert:
                        cur.execute(
                            f"INSERT INTO calls ({','.join(cols)}) "
                            f"SELECT {','.join(cols)} FROM temp.stage"
                        )
                conn.commit()
        finally:
            conn.close()

    conn = fresh(work / "a.sqlite", ddl)
    timed("executemany, every column, all indexes", n, lambda: by_executemany(conn))
    conn.close()
    conn = fresh(work / "b.sqlite", ddl[:1])
    timed(
        "executemany, every column, primary key only", n, lambda: by_executemany(conn)
    )
    conn.close()
    fresh(work / "c.sqlite", ddl).close()
    timed(
        "ADBC ingest into a temporary table",
        n,
        lambda: by_ingest(work / "c.sqlite", False),
    )
    fresh(work / "d.sqlite", ddl).close()
    timed(
        "ADBC ingest + INSERT ... SELECT, all indexes",
        n,
        lambda: by_ingest(work / "d.sqlite", True),
    )
    check = sqlite3.connect(work / "d.sqlite").execute("SELECT count(*) FROM calls")
    assert check.fetchone()[0] == n, "the ingest path lost rows"
    for p in work.iterdir():
        p.unlink()
    os.rmdir(work)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    raise SystemExit(main(sys.argv[1]))
