#!/usr/bin/env python
"""Per-record cost of each stage of the hot path, outside Scrapy.

Reads a generated replay set (``bench/data/<size>/replay``) and times, per feed,
in CPU microseconds a record: JSON parse and record extraction, the columnar
build of the crawl (``ColumnarBuilder.build_page``, in the spider's slices: the
feed's page size, at most 5,000 rows; the row-at-a-time reference
``RecordBuilder.build`` is shown beside it, not counted in the total), the
page's ``RecordBatch``, validation, the records' JSON texts (a batch of 5,000
at a time, with the page's finite mark as the crawl passes it; the unmarked
record-by-record walk beside it, not in the total), fill counting, the
store write (batches of 5,000 as the pipeline writes them; ``change_hash`` and
``raw_json`` are part of it and also shown alone), the JSON Lines lines; and the
normalizer caches (a repeated address or call type, first call and later calls).

``python bench/stages.py [--size 100000] [--limit 50000]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cfs_spiders.config.loader import load_config  # noqa: E402
from cfs_spiders.ingest.exporters import RecordJsonLinesExporter  # noqa: E402
from cfs_spiders.ingest.pipelines import ValidatePipeline  # noqa: E402
from cfs_spiders.records.builder import RecordBuilder  # noqa: E402
from cfs_spiders.records.columnar import ColumnarBuilder  # noqa: E402
from cfs_spiders.records.elements import FillCounter  # noqa: E402
from cfs_spiders.records.encoding import (  # noqa: E402
    change_hash,
    json_texts_exact,
    raw_json,
    record_json,
)
from cfs_spiders.records.gcpause import paused_gc  # noqa: E402
from cfs_spiders.records.items import RecordBatch  # noqa: E402
from cfs_spiders.store.sqlite import Store  # noqa: E402


def raw_records(folder: Path, limit: int) -> list[dict[str, Any]]:
    doc = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    for snap in doc["snapshots"]:
        for resp in snap["responses"]:
            data = orjson.loads((folder / resp["file"]).read_bytes())
            if isinstance(data, dict):
                for feature in data["features"]:
                    attrs = dict(feature.get("attributes") or {})
                    out.append(attrs)
            else:
                out.extend(data)
            if len(out) >= limit:
                return out[:limit]
    return out


def timed(label: str, n: int, fn: Any, results: dict[str, float]) -> Any:
    """CPU time (other processes on the machine do not count) per record."""
    with paused_gc():  # as the spider and the store pipeline run them
        t0 = time.process_time()
        value = fn()
        dt = time.process_time() - t0
    results[label] = dt / n * 1e6
    return value


def cache_figures() -> dict[str, float]:
    """Seconds per call: the first time a value is seen, and after."""
    from cfs_spiders.normalize import address, call_type

    out = {}
    address.cache_clear()
    text = "1400 BLOCK OF HARRISON ST"
    t0 = time.perf_counter()
    address.classify_address(text, ceiling="exact")
    out["address_first_us"] = (time.perf_counter() - t0) * 1e6
    n = 200_000
    t0 = time.perf_counter()
    for _ in range(n):
        address.classify_address(text, ceiling="exact")
    out["address_repeat_us"] = (time.perf_counter() - t0) / n * 1e6
    call_type._categorize.cache_clear()
    t0 = time.perf_counter()
    call_type.categorize(
        "TRAFFIC STOP", feed_id="ca_san_francisco_bench_socrata", code="916"
    )
    out["call_type_first_us"] = (time.perf_counter() - t0) * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        call_type.categorize(
            "TRAFFIC STOP", feed_id="ca_san_francisco_bench_socrata", code="916"
        )
    out["call_type_repeat_us"] = (time.perf_counter() - t0) / n * 1e6
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--limit", type=int, default=50_000)
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    data = ROOT / "bench" / "data" / str(args.size)
    if not data.is_dir():
        raise SystemExit(f"no {data}: run bench/generate.py --sizes {args.size}")
    report: dict[str, dict[str, float]] = {}
    fetched = datetime(2026, 1, 17, 17, 14, 9, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "cfs.sqlite")
        for cfg_path in sorted((data / "configs").glob("*.yaml")):
            cfg = load_config(cfg_path)
            store.register_feeds([cfg])
            res: dict[str, float] = {}
            folder = data / "replay" / cfg.feed_id
            raws = timed(
                "parse+extract",
                args.limit,
                lambda f=folder: raw_records(f, args.limit),
                res,
            )
            n = len(raws)
            builder = RecordBuilder(cfg)
            timed(
                "build by rows (reference)",
                n,
                lambda b=builder, r=raws: [
                    b.build(x, fetched_at=fetched, source_url="https://x/", run_id="r1")
                    for x in r
                ],
                res,
            )
            columnar = ColumnarBuilder(cfg)
            # the spider builds a page in batches of CFS_STORE_BATCH (5,000) rows
            page = min(int((cfg.get("request") or {}).get("page_size") or 5000), 5000)

            finite = [True]  # every slice's mark (RecordBatch.finite)

            def by_columns(
                c: ColumnarBuilder = columnar,
                r: list = raws,
                size: int = page,
                marks: list = finite,
            ) -> list[dict[str, Any]]:
                out: list[dict[str, Any]] = []
                for i in range(0, len(r), size):
                    built, ok = c.build_page_finite(
                        r[i : i + size],
                        fetched_at=fetched,
                        source_url="https://x/",
                        run_id="r1",
                    )
                    out.extend(built)
                    marks[0] = marks[0] and ok
                return out

            recs = timed("build (columnar)", n, by_columns, res)
            # the raw records were parsed by orjson: finite (FeedSpider.raw_finite)
            batch = timed(
                "RecordBatch",
                n,
                lambda r=recs, f=finite[0]: RecordBatch(r, finite=f),
                res,
            )
            validate = ValidatePipeline(False)
            timed("validate", n, lambda b=batch, v=validate: v.process_item(b), res)

            def texts(
                r: list[dict[str, Any]] = recs, f: bool = finite[0]
            ) -> tuple[list[str], list[bool]]:
                out: tuple[list[str], list[bool]] = ([], [])
                for i in range(0, len(r), 5000):  # a batch, as take_records
                    t, e = json_texts_exact(r[i : i + 5000], f)
                    out[0].extend(t)
                    out[1].extend(e)
                return out

            encoded, exact = timed("record_json", n, texts, res)
            timed(
                "record_json (walked, unmarked)",
                n,
                lambda r=recs: [record_json(x) for x in r],
                res,
            )
            fill = FillCounter()
            timed("fill", n, lambda r=recs, f=fill: [f.add(x) for x in r], res)
            timed(
                "change_hash", n, lambda r=recs: [change_hash(x["raw"]) for x in r], res
            )
            timed(
                "raw_json",
                n,
                lambda r=recs, e=encoded: [
                    raw_json(x, t) for x, t in zip(r, e, strict=True)
                ],
                res,
            )

            def write(r: list[dict[str, Any]] = recs, e: list[str] = encoded) -> None:
                for i in range(0, len(r), 5000):
                    store.write_records(r[i : i + 5000], e[i : i + 5000])

            timed("store.write_records (incl. hash)", n, write, res)
            batch.encoded, batch.exact = encoded, exact
            with open(Path(tmp) / "x.jsonl", "wb") as handle:
                exporter = RecordJsonLinesExporter(handle, encoding="utf-8")
                exporter.start_exporting()
                timed("jsonl", n, lambda b=batch, e=exporter: e.export_item(b), res)
            res["total"] = sum(
                v
                for k, v in res.items()
                if k
                not in (
                    "change_hash",
                    "raw_json",
                    "build by rows (reference)",
                    "record_json (walked, unmarked)",
                )
            )
            report[cfg.feed_id] = res
        store.close()
    report["caches"] = cache_figures()
    if not args.json:
        for feed, res in report.items():
            print(feed)
            for k, v in res.items():
                print(f"  {k:34} {v:9.2f} us")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
