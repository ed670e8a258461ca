#!/usr/bin/env python
"""The backfill benchmark: `cfs crawl --replay` against the parse-and-write floor.

For each size (records, half SODA pages of 50,000, half ArcGIS pages of 2,000;
written by ``bench/generate.py`` when missing), in one run:

(a) floor: ``bench/floor.py`` parses the same responses with orjson and writes one
    CSV row per record, nothing else;
(b) end to end: ``cfs crawl --replay`` of both feeds into a fresh SQLite store,
    then ``cfs export`` (``calls.csv``); (b) is the sum of the two;
(c) the export alone, again, on the store (b) filled.

Every step is a fresh child process: wall time, CPU time and peak RSS
(``os.wait4``'s ``ru_maxrss``) are its own. Then, unless ``--skip-poll``, the
incremental poll: a local SODA server (``$where``/``$limit``/``$offset``) serves
the 50,000-record SODA feed; ``cfs crawl --incremental`` runs once (the whole
listing) and again, unchanged (only the overlap window is asked for), and the
second poll is timed.

Prints the table and writes ``bench/results/latest.json`` (``--out``).
``make bench`` runs ``python bench/run.py``; ``--sizes 10000`` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402

ROOT = generate.ROOT
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
FEEDS = (generate.SOCRATA_FEED, generate.ARCGIS_FEED)
POLL_SIZE = 100_000  # its SODA half is the 50,000-record feed polled


# --------------------------------------------------------------- measuring
def tree_memory_kb(pid: int) -> dict[tuple[int, bytes], tuple[int, int]]:
    """(VmRSS, VmHWM) in kB of a process and each of its descendants, now, by
    (pid, command line). The command line tells a child caught between fork and
    exec (still the parent's image: its VmHWM is the parent's shared pages) from
    the program it becomes, whose VmHWM starts again at exec."""
    found, stack = {}, [pid]
    while stack:
        p = stack.pop()
        try:
            rss = hwm = 0
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
            if not cmdline:  # exited (a zombie has none): its last readings stand
                continue
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
            found[(p, cmdline)] = (rss, hwm)
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


class TreeMemory:
    """Samples a process tree every 20 ms: the peak of its summed RSS, and each
    process's own high-water mark (VmHWM, which no sampling gap can miss). The
    peak reported is the sum of the processes' high-water marks (the cfs process
    and its store writer process): an upper bound of what they held at once.
    (``ru_maxrss`` is not used: it also counts the pages a child shared with this
    process between fork and exec; for the same reason a child's readings from
    before its exec are dropped.)"""

    def __init__(self, pid: int) -> None:
        self.pid, self.rss_peak_kb = pid, 0
        # per pid: its latest command line and the high-water mark under it (a
        # child seen before its exec is counted as what it became)
        self.hwm: dict[int, int] = {}
        self._image: dict[int, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            tree = tree_memory_kb(self.pid)
            self.rss_peak_kb = max(self.rss_peak_kb, sum(r for r, _ in tree.values()))
            for (p, image), (_, hwm) in tree.items():
                if self._image.get(p) != image:
                    self._image[p], self.hwm[p] = image, hwm
                else:
                    self.hwm[p] = max(self.hwm[p], hwm)
            if self._stop.wait(0.02):
                return

    def stop(self) -> tuple[int, int, int]:
        """(sum of high-water marks, sampled peak of the sum, largest process)."""
        self._stop.set()
        self._thread.join()
        return (
            sum(self.hwm.values()),
            self.rss_peak_kb,
            max(self.hwm.values(), default=0),
        )


def measure(
    cmd: list[str], *, log: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one child to the end: wall seconds, CPU seconds (the child and its
    children), peak memory (see ``TreeMemory``), exit code."""
    full_env = {**os.environ, "CFS_LOG_LEVEL": "WARNING", **code_env(env)}
    full_env.pop("CFS_VALIDATE_FULL", None)
    log.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=CODE or ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
        memory = TreeMemory(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        hwm_kb, sampled_kb, largest_kb = memory.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(hwm_kb / 1024, 1),
        "peak_rss_sampled_mb": round(sampled_kb / 1024, 1),
        "max_process_rss_mb": round(largest_kb / 1024, 1),
        "load_before": round(load, 2),
    }


CODE: Path | None = None  # --code: run another checkout's cfs_spiders (a "before")


def cfs(*args: str) -> list[str]:
    return [PY, "-m", "cfs_spiders.cli", *args]


def code_env(env: dict[str, str] | None) -> dict[str, str]:
    if CODE is None:
        return env or {}
    return {**(env or {}), "PYTHONPATH": str(CODE)}


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def store_bytes(db: Path) -> int:
    """The SQLite store on disk, its WAL checkpointed into the file first (a WAL
    left by the last writer would otherwise count, then vanish)."""
    if db.exists():
        import sqlite3

        conn = sqlite3.connect(db)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def run_reports(output: Path) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((output / "runs").glob("*.json"))
    ]


# ----------------------------------------------------------------- one size
def bench_size(size: int, *, jsonl: bool, keep: bool) -> dict[str, Any]:
    data = generate.generate(size)
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    replay, configs = data / "replay", data / "configs"
    work = data / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db, out = work / "cfs.sqlite", work / "output"
    common = ["--db", str(db), "--output", str(out), "--configs", str(configs)]

    # the floor is cheap: best of three (noise from other work on the machine
    # only ever makes it slower)
    floors = [
        measure(
            [
                PY,
                str(ROOT / "bench" / "floor.py"),
                str(replay),
                str(work / "floor.csv"),
            ],
            log=work / "floor.log",
        )
        for _ in range(3)
    ]
    floor = min(floors, key=lambda f: f["wall_s"])
    floor_rows = count_lines(work / "floor.csv")

    crawl_cmd = cfs(*common, "crawl", *FEEDS, "--replay", str(replay))
    if not jsonl:
        crawl_cmd.append("--no-jsonl")
    crawl = measure(crawl_cmd, log=work / "crawl.log")
    export_1 = measure(cfs(*common, "export"), log=work / "export1.log")
    calls_rows = count_lines(out / "calls.csv") - 1
    export = measure(cfs(*common, "export"), log=work / "export2.log")
    reports = run_reports(out)
    records = sum(r.get("records", 0) for r in reports)
    statuses = sorted({r.get("status") for r in reports})
    if calls_rows != size or records != size or statuses != ["ok"]:
        raise SystemExit(
            f"size {size}: {calls_rows} calls exported, {records} "
            f"records, statuses {statuses}: see {work}"
        )
    end_to_end = {
        "wall_s": round(crawl["wall_s"] + export_1["wall_s"], 3),
        "cpu_s": round(crawl["cpu_s"] + export_1["cpu_s"], 3),
        "peak_rss_mb": max(crawl["peak_rss_mb"], export_1["peak_rss_mb"]),
    }
    result = {
        "size": size,
        "records": {"floor": floor_rows, "crawled": records, "calls_csv": calls_rows},
        "input_mb": round(sum(f["bytes"] for f in meta["feeds"].values()) / 1e6, 1),
        "store_mb": round(store_bytes(db) / 1e6, 1),
        "store_bytes_per_call": round(store_bytes(db) / max(calls_rows, 1)),
        "floor": floor,
        "crawl": crawl,
        "crawl_export": export_1,
        "end_to_end": end_to_end,
        "export": export,
        "jsonl": jsonl,
        "runs": [
            {
                k: r.get(k)
                for k in ("feed_id", "pages", "records", "duration_s", "status")
            }
            for r in reports
        ],
    }
    for key in ("floor", "crawl", "end_to_end", "export"):
        result[key]["records_per_s"] = round(size / result[key]["wall_s"])
    result["ratio_to_floor"] = round(end_to_end["wall_s"] / floor["wall_s"], 2)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


# ------------------------------------------------------------ export only
def bench_export_only(db: Path, repeat: int) -> int:
    """``cfs export`` alone on an existing store: one line per run (wall, CPU,
    peak memory, the load average before it), then the best."""
    if not db.is_file():
        raise SystemExit(f"--export-only: no store at {db}")
    store_bytes(db)  # checkpoint the WAL first, as a measured store is
    out = db.parent / "export_only"
    runs = []
    for i in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        run = measure(
            cfs("--db", str(db), "--output", str(out), "export"),
            log=db.parent / "export_only.log",
        )
        rows = count_lines(out / "calls.csv") - 1
        runs.append(run)
        print(
            f"export {i + 1}/{repeat}: {rows:,} calls, {run['wall_s']:.2f} s wall, "
            f"{run['cpu_s']:.2f} s CPU, {run['peak_rss_mb']:.0f} MB peak, "
            f"load {run['load_before']:.2f}",
            flush=True,
        )
    best = min(runs, key=lambda r: r["wall_s"])
    print(f"best: {best['wall_s']:.2f} s wall, {best['cpu_s']:.2f} s CPU")
    return 0


# --------------------------------------------------------- incremental poll
class SodaServer:
    """A SODA endpoint on 127.0.0.1 for one dataset: ``$where`` (``field >
    'stamp'``, ANDed), ``$order`` (the rows are stored in it), ``$limit``,
    ``$offset``. Logs each request's query and rows served."""

    WHERE = re.compile(r"^\(?\s*(\w+)\s*>\s*'([^']*)'\s*\)?$")

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.hits: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path.endswith("/robots.txt"):
                    self._send(404, b"", "text/plain")
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, rows = server.answer(query)
                server.hits.append({"query": query, "rows": len(rows)})
                self._send(status, orjson.dumps(rows), "application/json")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, query: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
        rows = self.rows
        where = query.get("$where")
        if where:
            for clause in where.split(" AND "):
                m = self.WHERE.match(clause.strip())
                if not m:
                    return 400, []
                field, stamp = m.groups()
                rows = [r for r in rows if (r.get(field) or "") > stamp]
        offset = int(query.get("$offset", 0))
        limit = int(query.get("$limit", 1000))
        return 200, rows[offset : offset + limit]

    def __enter__(self) -> SodaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def bench_poll(*, keep: bool) -> dict[str, Any]:
    data = generate.generate(POLL_SIZE)
    folder = data / "replay" / generate.SOCRATA_FEED
    rows: list[dict[str, Any]] = []
    for page in sorted(folder.glob("page_*.json")):
        rows.extend(orjson.loads(page.read_bytes()))
    work = data / "poll"
    shutil.rmtree(work, ignore_errors=True)
    env = {
        "CFS_DOWNLOAD_DELAY": "0",
        "CFS_AUTOTHROTTLE_START_DELAY": "0",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    result: dict[str, Any] = {"feed_records": len(rows)}
    with SodaServer(rows) as server:
        configs = work / "configs"
        generate.write_configs(
            configs,
            socrata_url=f"http://127.0.0.1:{server.port}/resource/bnch-soda.json",
        )
        common = [
            "--db",
            str(work / "cfs.sqlite"),
            "--output",
            str(work / "output"),
            "--configs",
            str(configs),
            "crawl",
            "--incremental",
            generate.SOCRATA_FEED,
            "--no-jsonl",
        ]
        for name in ("first", "second", "third"):
            before = len(server.hits)
            size_before = store_bytes(work / "cfs.sqlite")
            step = measure(cfs(*common), log=work / f"{name}.log", env=env)
            step["store_bytes_added"] = store_bytes(work / "cfs.sqlite") - size_before
            hits = server.hits[before:]
            step["requests"] = len(hits)
            step["rows_served"] = sum(h["rows"] for h in hits)
            step["where"] = sorted({h["query"].get("$where", "") for h in hits})
            result[name] = step
        reports = run_reports(work / "output")
        result["runs"] = [
            {
                k: r.get(k)
                for k in (
                    "records",
                    "new_calls",
                    "new_observations",
                    "status",
                    "duration_s",
                )
            }
            for r in reports
        ]
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


# ------------------------------------------------------------------ report
def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    import sqlite3

    import scrapy

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "orjson": orjson.__version__,
        "platform": platform.platform(),
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'records':>9} | {'step':<22} | {'time s':>8} | {'records/s':>9} | "
        f"{'peak MB':>7} | {'x floor':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        for key, label in (
            ("floor", "(a) floor"),
            ("end_to_end", "(b) crawl+export"),
            ("crawl", "    crawl"),
            ("export", "(c) export alone"),
        ):
            step = r[key]
            ratio = f"{step['wall_s'] / r['floor']['wall_s']:.1f}"
            lines.append(
                f"{r['size']:>9,} | {label:<22} | {step['wall_s']:>8.2f} | "
                f"{step['records_per_s']:>9,} | {step['peak_rss_mb']:>7.0f} | "
                f"{ratio:>7}"
            )
    return "\n".join(lines)


def check_targets(
    results: list[dict[str, Any]], poll: dict[str, Any] | None
) -> list[tuple[str, str, bool]]:
    """The engine's targets, against this run's figures (largest size)."""
    out: list[tuple[str, str, bool]] = []
    if results:
        big = max(results, key=lambda r: r["size"])
        rate = big["end_to_end"]["records_per_s"]
        out.append(
            (
                f"end to end at {big['size']:,} >= 30,000 records/s",
                f"{rate:,}",
                rate >= 30_000,
            )
        )
        ratio = big["ratio_to_floor"]
        out.append(("end to end <= 3x the floor", f"{ratio:.1f}x", ratio <= 3))
        peak = big["end_to_end"]["peak_rss_mb"]
        out.append(("peak memory <= 1 GB", f"{peak:.0f} MB", peak <= 1024))
        per_call = big["store_bytes_per_call"]
        out.append(("store <= 1,500 bytes per call", f"{per_call:,}", per_call <= 1500))
        sizes = {r["size"]: r["end_to_end"]["peak_rss_mb"] for r in results}
        if 100_000 in sizes and 1_000_000 in sizes:
            growth = sizes[1_000_000] / max(sizes[100_000], 1)
            out.append(
                (
                    "memory flat from 100,000 to 1,000,000 (within 25%)",
                    f"{sizes[100_000]:.0f} -> {sizes[1_000_000]:.0f} MB",
                    growth <= 1.25,
                )
            )
    if poll:
        wall = poll["second"]["wall_s"]
        out.append(
            (
                f"unchanged incremental poll of {poll['feed_records']:,} records < 1 s",
                f"{wall:.2f} s",
                wall < 1,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(generate.DEFAULT_SIZES))
    p.add_argument(
        "--no-jsonl",
        action="store_true",
        help="crawl without the per-run JSON Lines export",
    )
    p.add_argument("--skip-poll", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep stores and outputs")
    p.add_argument("--label", default="", help="a note stored with the results")
    p.add_argument(
        "--export-only",
        metavar="STORE",
        help="only time `cfs export` on this existing SQLite store (a store "
        "--keep left in bench/data/SIZE/work/cfs.sqlite), --repeat times; "
        "with --code, the export of another checkout on the same store",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs of --export-only")
    p.add_argument("--out", default=str(RESULTS / "latest.json"))
    p.add_argument(
        "--code",
        help="run the cfs_spiders of this checkout instead "
        "(e.g. `git archive HEAD` unpacked: the figures before a change)",
    )
    args = p.parse_args(argv)
    global CODE
    CODE = Path(args.code).resolve() if args.code else None

    if args.export_only:
        return bench_export_only(Path(args.export_only), args.repeat)

    started = datetime.now(UTC)
    results = []
    for size in args.sizes:
        print(f"size {size:,}...", file=sys.stderr, flush=True)
        results.append(bench_size(size, jsonl=not args.no_jsonl, keep=args.keep))
        print(table(results[-1:]), file=sys.stderr, flush=True)
    poll = None if args.skip_poll else bench_poll(keep=args.keep)

    print()
    print(table(results))
    if poll:
        s = poll["second"]
        print(
            f"\nincremental poll of an unchanged {poll['feed_records']:,}-record SODA "
            f"feed: {s['wall_s']:.2f} s wall, {s['cpu_s']:.2f} s CPU, "
            f"{s['peak_rss_mb']:.0f} MB peak, {s['requests']} request(s), "
            f"{s['rows_served']} rows served (first poll {poll['first']['wall_s']:.2f}"
            f" s for {poll['first']['rows_served']} rows); the unchanged polls "
            f"added {s['store_bytes_added']:,} and "
            f"{poll['third']['store_bytes_added']:,} bytes to the store"
        )
    for r in results:
        print(
            f"store at {r['size']:,} records: {r['store_mb']} MB, "
            f"{r['store_bytes_per_call']:,} bytes per call"
        )
    targets = check_targets(results, poll)
    if targets:
        print("\ntargets (issue 12):")
        for name, value, ok in targets:
            print(f"  {'met ' if ok else 'MISS'}  {name}: {value}")
    doc = {
        "targets": [{"target": n, "measured": v, "met": ok} for n, v, ok in targets],
        "started_at": started.isoformat(timespec="seconds"),
        "label": args.label,
        "code": str(CODE or ROOT),
        "machine": machine(),
        "jsonl": not args.no_jsonl,
        "results": results,
        "poll": poll,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
