#!/usr/bin/env python
"""The parse-and-write floor: what reading the same responses costs with nothing
else done.

For every feed folder of a replay set, every recorded page is read, parsed with
the fastest JSON parser at hand (orjson), its records found where the platform
puts them (a SODA array; ArcGIS ``features[].attributes``), and one CSV row written
per record (the raw fields, in the order of the first record's keys plus any
new ones). No mapping, no normalization, no store.

``python bench/floor.py REPLAY_DIR OUT.csv`` prints ``{"records": N}`` as JSON.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import orjson
import yaml


def pages(folder: Path) -> list[Path]:
    doc = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    return [folder / r["file"] for snap in doc["snapshots"] for r in snap["responses"]]


def records(data: object) -> list:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [f.get("attributes") or {} for f in data.get("features") or ()]
    return []


def main(argv: list[str]) -> int:
    replay, out = Path(argv[0]), Path(argv[1])
    n = 0
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for folder in sorted(p for p in replay.iterdir() if p.is_dir()):
            columns: list[str] = []
            known: set[str] = set()
            for page in pages(folder):
                for rec in records(orjson.loads(page.read_bytes())):
                    if len(rec) > len(known) or not known.issuperset(rec):
                        for key in rec:
                            if key not in known:
                                known.add(key)
                                columns.append(key)
                    writer.writerow([rec.get(c) for c in columns])
                    n += 1
    print(json.dumps({"records": n}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
