#!/usr/bin/env python
"""Record build throughput: the row builder (reference) vs the columnar page path.

Reads the benchmark generator's replay pages (``bench/generate.py``; each page as
the spider hands it over: a SODA page of up to 50,000 rows, an ArcGIS page of
2,000 features) and builds every page both ways, timing CPU seconds (other
processes on the shared machine do not count) with the garbage collector paused
as the spider pauses it. The two outputs are compared before any figure is
printed, so a fast wrong path cannot report a number.

Run: ``python bench/generate.py --sizes 100000`` then
``python bench/columnar.py --size 100000`` (``--json`` for the figures only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cfs_spiders.config.loader import load_config  # noqa: E402
from cfs_spiders.records.builder import RecordBuilder  # noqa: E402
from cfs_spiders.records.columnar import ColumnarBuilder  # noqa: E402
from cfs_spiders.records.gcpause import paused_gc  # noqa: E402


def pages(folder: Path) -> list[list[dict[str, Any]]]:
    """The raw records of each recorded page (ArcGIS features as attributes)."""
    doc = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    out = []
    for snap in doc["snapshots"]:
        for resp in snap["responses"]:
            data = orjson.loads((folder / resp["file"]).read_bytes())
            if isinstance(data, dict):
                data = [dict(f.get("attributes") or {}) for f in data["features"]]
            if data:
                out.append(data)
    return out


def cpu(fn: Any) -> tuple[Any, float]:
    with paused_gc():
        t0 = time.process_time()
        value = fn()
        return value, time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    data = ROOT / "bench" / "data" / str(args.size)
    if not data.is_dir():
        raise SystemExit(f"no {data}: run bench/generate.py --sizes {args.size}")
    fetched = datetime(2026, 1, 17, 17, 14, 9, tzinfo=UTC)
    report: dict[str, Any] = {"size": args.size, "feeds": {}}
    total = {"records": 0, "reference_s": 0.0, "columnar_s": 0.0}
    for cfg_path in sorted((data / "configs").glob("*.yaml")):
        cfg = load_config(cfg_path)
        feed_pages = pages(data / "replay" / cfg.feed_id)
        n = sum(len(page) for page in feed_pages)
        reference = RecordBuilder(cfg, replay=True)
        columnar = ColumnarBuilder(cfg, replay=True)
        if not columnar.compiled:
            raise SystemExit(f"{cfg.feed_id}: not compiled ({columnar.fallback})")
        kw = {"fetched_at": fetched, "source_url": "https://x/", "run_id": "r1"}
        ref, ref_s = cpu(
            lambda r=reference, ps=feed_pages, kw=kw: [
                [r.build(x, **kw) for x in page] for page in ps
            ]
        )
        col, col_s = cpu(
            lambda c=columnar, ps=feed_pages, kw=kw: [
                c.build_page(page, **kw) for page in ps
            ]
        )
        if ref != col:
            raise SystemExit(f"{cfg.feed_id}: columnar records differ from reference")
        if reference.counts != columnar.counts:
            raise SystemExit(f"{cfg.feed_id}: run counts differ")
        del ref, col
        report["feeds"][cfg.feed_id] = {
            "records": n,
            "pages": len(feed_pages),
            "reference_rec_s": round(n / ref_s),
            "columnar_rec_s": round(n / col_s),
            "speedup": round(ref_s / col_s, 2),
        }
        total["records"] += n
        total["reference_s"] += ref_s
        total["columnar_s"] += col_s
    report["total"] = {
        "records": total["records"],
        "reference_rec_s": round(total["records"] / total["reference_s"]),
        "columnar_rec_s": round(total["records"] / total["columnar_s"]),
        "speedup": round(total["reference_s"] / total["columnar_s"], 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"record build, {args.size:,} records (CPU time, one run)")
    print(f"{'feed':34} {'pages':>5} {'reference/s':>12} {'columnar/s':>11} {'x':>6}")
    for feed, row in [*report["feeds"].items(), ("TOTAL", report["total"])]:
        print(
            f"{feed:34} {row.get('pages', ''):>5} {row['reference_rec_s']:>12,} "
            f"{row['columnar_rec_s']:>11,} {row['speedup']:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
