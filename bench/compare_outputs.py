#!/usr/bin/env python
"""Check that two crawls of the same recordings stored and exported the same
thing (a performance change must not change results).

``python bench/compare_outputs.py A_DB A_OUT B_DB B_OUT``: compares every table of
the two stores (JSON text columns as parsed JSON), ``calls.csv`` byte for byte,
and every per-run JSON Lines file as parsed records. Run ids (random) are mapped
between the two sides by feed and start order; run timings are ignored.
Exit 0 when equal, 1 with the first differences otherwise.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cfs_spiders.store.base import (  # noqa: E402
    CALLS_FROM,
    FEED_STATE_FROM,
    LISTINGS_FROM,
    OBSERVATIONS_FROM,
    PRESENCE_FROM,
    RUNS_FROM,
)
from cfs_spiders.store.raw import install_sql_function  # noqa: E402

RUN_TIMING = {"started_at", "finished_at", "duration_s", "report_json"}


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    install_sql_function(conn)
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def run_map(a_db: Path, b_db: Path) -> dict[str, str]:
    """run_id of A -> run_id of B, pairing each feed's runs in start order."""
    sql = (
        "SELECT run_id, feed_id FROM runs JOIN feeds USING (feed_key) "
        "ORDER BY feed_id, fetched_at, started_at, run_id"
    )
    a, b = rows(a_db, sql), rows(b_db, sql)
    if [r["feed_id"] for r in a] != [r["feed_id"] for r in b]:
        raise SystemExit("the two stores hold different runs")
    return {x["run_id"]: y["run_id"] for x, y in zip(a, b, strict=True)}


def normalize(value: Any, runs: dict[str, str]) -> Any:
    if isinstance(value, str):
        return runs.get(value, value)
    if isinstance(value, dict):
        return {k: normalize(v, runs) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, runs) for v in value]
    return value


def compare_table(
    name: str,
    key: str,
    a_db: Path,
    b_db: Path,
    runs: dict[str, str],
    json_cols: tuple[str, ...] = (),
    skip: set[str] | None = None,
    source: str | None = None,
) -> list[str]:
    sql = f"SELECT * FROM {source or name} ORDER BY {key}"
    a, b = rows(a_db, sql), rows(b_db, sql)
    problems = []
    # the feed and run keys are the store's own numbering: their ids compared
    skip = {*(skip or ()), "feed_key", "run_key"}
    if len(a) != len(b):
        return [f"{name}: {len(a)} rows vs {len(b)}"]
    for ra, rb in zip(a, b, strict=True):
        for col in ra:
            if skip and col in skip:
                continue
            va, vb = ra[col], rb.get(col)
            if col in json_cols and va is not None and vb is not None:
                va, vb = json.loads(va), json.loads(vb)
            if normalize(va, runs) != vb:
                problems.append(
                    f"{name}.{col} at {ra.get(key.split(',')[0])}: "
                    f"{str(va)[:120]!r} vs {str(vb)[:120]!r}"
                )
                if len(problems) > 10:
                    return problems
    return problems


def jsonl(out: Path, runs: dict[str, str] | None) -> dict[str, list[Any]]:
    found = {}
    for path in sorted((out / "runs").glob("*/*.jsonl")):
        run_id = path.stem
        if runs is not None:
            run_id = runs.get(run_id, run_id)
        with path.open(encoding="utf-8") as handle:
            found[run_id] = [json.loads(line) for line in handle]
    return found


def main(argv: list[str]) -> int:
    a_db, a_out, b_db, b_out = map(Path, argv)
    runs = run_map(a_db, b_db)
    problems: list[str] = []
    problems += compare_table("feeds", "feed_id", a_db, b_db, runs)
    # the store's own numbering (source, dictionary and call keys) is not
    # compared: what it stands for is (the URL, the raw record read back, the
    # call's feed and record key; the history tables are read by those)
    problems += compare_table(
        "calls",
        "feed_id, record_key",
        a_db,
        b_db,
        runs,
        skip={"source_id", "call_key"},
        source=CALLS_FROM,
    )
    problems += compare_table(
        "observations",
        "feed_id, record_key, fetched_at",
        a_db,
        b_db,
        runs,
        json_cols=("raw_json",),
        skip={"raw_dict", "raw_deflate"},
        source="(SELECT *, cfs_raw(raw_dict, raw_deflate) AS raw_json FROM "
        f"{OBSERVATIONS_FROM}) AS o",
    )
    problems += compare_table(
        "presence",
        "feed_id, record_key, first_seen",
        a_db,
        b_db,
        runs,
        source=PRESENCE_FROM,
    )
    problems += compare_table(
        "runs",
        "feed_id, fetched_at, started_at",
        a_db,
        b_db,
        runs,
        skip={"run_id", *RUN_TIMING},
        source=RUNS_FROM,
    )
    for table, key, source in (
        ("feed_state", "feed_id", FEED_STATE_FROM),
        ("listings", "feed_id, fetched_at", LISTINGS_FROM),
    ):
        problems += compare_table(
            table,
            key,
            a_db,
            b_db,
            runs,
            skip={"last_success_at", "last_attempt_at"},
            source=source,
        )
    a_csv, b_csv = (
        (a_out / "calls.csv").read_bytes(),
        (b_out / "calls.csv").read_bytes(),
    )
    if normalize(a_csv.decode("utf-8"), {}) != b_csv.decode("utf-8"):
        a_lines = a_csv.decode("utf-8").splitlines()
        b_lines = b_csv.decode("utf-8").splitlines()
        diff = [(x, y) for x, y in zip(a_lines, b_lines, strict=False) if x != y]
        # run ids appear in calls.csv (last_run_id): compare with them mapped
        mapped = [
            (x, y)
            for x, y in diff
            if x.split(",") and [runs.get(c, c) for c in x.split(",")] != y.split(",")
        ]
        if len(a_lines) != len(b_lines) or mapped:
            problems.append(f"calls.csv differs: {mapped[:2]}")
    ja, jb = jsonl(a_out, runs), jsonl(b_out, None)
    if set(ja) != set(jb):
        problems.append(
            f"JSON Lines files differ: {sorted(ja)[:3]} vs {sorted(jb)[:3]}"
        )
    else:
        for run_id, recs in ja.items():
            if normalize(recs, runs) != jb[run_id]:
                problems.append(f"JSON Lines of {run_id} differ")
            elif [list(r) for r in recs] != [list(r) for r in jb[run_id]]:
                problems.append(f"JSON Lines of {run_id}: field order differs")
    n_calls = len(rows(a_db, "SELECT record_key FROM calls"))
    n_lines = sum(len(v) for v in ja.values())
    if problems:
        print("\n".join(problems[:30]))
        return 1
    print(
        f"equal: {n_calls} calls, {len(runs)} runs, {n_lines} JSON Lines records, "
        "calls.csv, observations (values_hash identical)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
