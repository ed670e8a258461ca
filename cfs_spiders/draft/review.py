"""After the draft: ``cfs check``, a replay, and the table a person reviews.

The replay runs the real ``cfs crawl FEED --replay`` in a child process (Scrapy's
reactor starts once per process) into a throwaway SQLite store, so a draft never
writes into the user's store. The table shows, per element, the raw field it is
read from, how many stored calls have it, and three real values: what the draft
got right is visible at once, and so is an element at 0%.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.loader import load_all
from ..ingest.spiders.base import spec_paths

# element -> column of the stored call
COLUMNS = (
    ("call_id", "call_id"),
    ("received_at", "received_at_raw"),
    ("dispatched_at", "dispatched_at_raw"),
    ("enroute_at", "enroute_at_raw"),
    ("onscene_at", "onscene_at_raw"),
    ("closed_at", "closed_at_raw"),
    ("updated_at", "updated_at_raw"),
    ("address", "address_raw"),
    ("cross_street", "cross_street_raw"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("call_type", "call_type_raw"),
    ("call_type_code", "call_type_code_raw"),
    ("call_type_initial", "call_type_initial_raw"),
    ("priority", "priority_raw"),
    ("status", "status_raw"),
    ("disposition", "disposition_raw"),
    ("source", "source_raw"),
    ("agency", "agency_raw"),
    ("units", "units_raw"),
    ("unit_count", "unit_count"),
)
UTC_OF = {f"{e}": f"{e}_utc" for e, _ in COLUMNS if e.endswith("_at")}


@dataclass
class Review:
    check_ok: bool
    check_line: str
    replay_ok: bool
    replay_output: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    table: list[tuple[str, str, str, str]] = field(default_factory=list)
    db: Path | None = None

    def render(self) -> str:
        lines = [f"cfs check: {self.check_line}"]
        lines.append(
            f"replay: {'ok' if self.replay_ok else 'FAILED'}, {len(self.calls)} calls "
            "stored"
        )
        if not self.replay_ok:
            lines.append(self.replay_output.strip()[-1500:])
        if self.table:
            w0 = max(len(r[0]) for r in self.table)
            w1 = min(max(len(r[1]) for r in self.table), 34)
            lines.append(
                f"{'element':{w0}}  {'source field':{w1}}  {'fill':>5}  examples"
            )
            for element, source, fill, examples in self.table:
                lines.append(
                    f"{element:{w0}}  {source[:w1]:{w1}}  {fill:>5}  {examples}"
                )
        return "\n".join(lines)


def _sources(record: dict[str, Any]) -> dict[str, str]:
    out = {}
    for element, spec in record.items():
        if element == "area" and isinstance(spec, dict):
            for kind, s in spec.items():
                out[f"area_{kind}"] = ", ".join(spec_paths(s)) or "(constant)"
        else:
            out[element] = ", ".join(spec_paths(spec)) or "(constant)"
    return out


def element_table(
    calls: list[dict[str, Any]], record: dict[str, Any]
) -> list[tuple[str, str, str, str]]:
    sources = _sources(record)
    areas = [k for k in sources if k.startswith("area_")]
    rows = []
    for element, column in [*COLUMNS, *((a, a) for a in areas)]:
        if element not in sources:
            continue
        values = [c.get(column) for c in calls]
        filled = [v for v in values if v not in (None, "")]
        examples: list[str] = []
        for v in filled:
            text = str(v)
            if text not in examples:
                examples.append(text)
            if len(examples) == 3:
                break
        fill = f"{len(filled) / len(calls):.0%}" if calls else "-"
        if element in UTC_OF and filled:
            parsed = sum(1 for c in calls if c.get(UTC_OF[element]))
            fill = f"{parsed / len(calls):.0%}"
            if parsed < len(filled):
                examples.append(f"({len(filled) - parsed} unparsed)")
        rows.append((element, sources[element], fill, " | ".join(examples)))
    return rows


def stored_calls(db: Path, feed_id: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            # the calls with their feed and run ids (the store keeps their keys:
            # store.base.CALLS_FROM, which this folder does not import)
            "SELECT * FROM calls JOIN (SELECT feed_key, feed_id FROM feeds) AS f "
            "USING (feed_key) LEFT JOIN (SELECT run_key, run_id FROM runs) AS r "
            "USING (run_key) WHERE feed_id = ? ORDER BY first_seen, record_key",
            (feed_id,),
        ).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


def replay(
    feed_id: str, configs_dir: Path, fixtures_dir: Path, workdir: Path
) -> tuple[bool, str, Path]:
    """``cfs crawl FEED --replay`` in a child process; (ok, output, store)."""
    db = workdir / "draft.sqlite"
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "CFS_LOG_LEVEL": "ERROR",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    env.pop("CFS_DATABASE_URL", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfs_spiders.cli",
            "--configs",
            str(configs_dir),
            "--db",
            str(db),
            "--output",
            str(workdir / "output"),
            "crawl",
            feed_id,
            "--replay",
            str(fixtures_dir),
            "--no-jsonl",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr, db


def review(
    feed_id: str,
    configs_dir: Path,
    fixtures_dir: Path,
    record: dict[str, Any],
    workdir: Path | None = None,
) -> Review:
    """Check every config in the folder, replay the draft, tabulate its calls."""
    configs, errors = load_all(configs_dir)
    mine = [e for e in errors if f"{feed_id}.yaml" in e]
    line = f"{len(configs)} configs valid, {len(errors)} invalid in {configs_dir}"
    if mine:
        line += "\n" + "\n".join(mine)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="cfs-new-"))
    ok, output, db = replay(feed_id, configs_dir, fixtures_dir, workdir)
    calls = stored_calls(db, feed_id) if db.is_file() else []
    return Review(
        check_ok=not mine,
        check_line=line,
        replay_ok=ok,
        replay_output=output,
        calls=calls,
        table=element_table(calls, record),
        db=db,
    )
