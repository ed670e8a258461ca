#!/usr/bin/env python
"""Scale the real captures into large replay sets for the benchmark.

Two synthetic feeds, each in its platform's real response shape, built from real
rows only (ids and times varied, deterministically from ``--seed``):

* ``ca_san_francisco_bench_socrata``: SODA JSON pages of 50,000 rows (``$limit``/
  ``$offset``; a short or empty page ends the listing), rows drawn from the 300
  rows of San Francisco's dispatched-calls capture
  (``tests/fixtures/ca_san_francisco_police_dispatched_realtime``) and written as
  the SODA API writes them: ISO floating times, a GeoJSON ``intersection_point``,
  absent (not empty) null fields.
* ``tx_houston_bench_arcgis``: ArcGIS ``query`` JSON pages of 2,000 features with
  ``exceededTransferLimit`` on every page but the last, features drawn from
  Houston's two captures (``tests/fixtures/tx_houston_hec_active_incidents``).

Half the records of a size are on each platform (an odd record goes to Socrata).
Each call gets a new id (Houston publishes none: its content key includes
``CALL_TIME``, which is made unique) and its times are moved so that calls follow
one another, with the stage intervals of the row it was drawn from. Addresses and
call types keep their real values, so they repeat as they do in a real feed.

Layout (``bench/data/`` is git-ignored)::

    bench/data/<size>/replay/<feed_id>/manifest.yaml, page_00000.json, ...
    bench/data/<size>/configs/<feed_id>.yaml     copies of the real configs
    bench/data/<size>/meta.json                  counts, pages, seed, bytes

Run: ``python bench/generate.py --sizes 10000 100000 1000000``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

try:  # the generator only needs to be fast enough, not the fastest
    import orjson

    def _dump(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover

    def _dump(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode("utf-8")


ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CONFIGS = ROOT / "city_configs"
DATA = ROOT / "bench" / "data"

SOCRATA_FEED = "ca_san_francisco_bench_socrata"
ARCGIS_FEED = "tx_houston_bench_arcgis"
SOCRATA_SOURCE = "ca_san_francisco_police_dispatched_realtime"
ARCGIS_SOURCE = "tx_houston_hec_active_incidents"
SOCRATA_PAGE = 50_000
ARCGIS_PAGE = 2_000
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
# When the synthetic calls start (local wall-clock time for SF, UTC for Houston)
# and the mean gap between calls; the last call ends near CAPTURED_AT.
SF_GAP_S = 20
HOU_GAP_S = 20
CAPTURED_AT = datetime(2026, 1, 17, 17, 14, 9, tzinfo=UTC)

SF_TIME_FIELDS = (
    "received_datetime",
    "entry_datetime",
    "dispatch_datetime",
    "enroute_datetime",
    "onscene_datetime",
    "close_datetime",
    "call_last_updated_at",
)
# Portal-export columns that the SODA API does not serve under these names.
SF_DROP = ("Analysis Neighborhoods",)


# ----------------------------------------------------------------- templates
def _sf_time(text: str) -> datetime | None:
    return datetime.strptime(text, "%Y/%m/%d %I:%M:%S %p") if text else None


def _sf_point(wkt: str) -> dict[str, Any] | None:
    if not wkt.startswith("POINT ("):
        return None
    lon, lat = wkt[len("POINT (") : -1].split()
    return {"type": "Point", "coordinates": [float(lon), float(lat)]}


def sf_templates() -> list[dict[str, Any]]:
    """The captured SF rows as (offsets from received, other fields) templates."""
    folder = FIXTURES / SOCRATA_SOURCE
    path = next(folder.glob("*.csv"))
    out = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            received = _sf_time(row["received_datetime"])
            assert received is not None
            offsets = {
                f: (_sf_time(row[f]) - received) if row[f] else None
                for f in SF_TIME_FIELDS
            }
            fields = {
                k: v
                for k, v in row.items()
                if v != ""
                and k not in SF_TIME_FIELDS
                and k not in SF_DROP
                and k not in ("id", "cad_number", "data_as_of", "data_loaded_at")
            }
            if "sensitive_call" in fields:  # a SODA checkbox column: JSON boolean
                fields["sensitive_call"] = fields["sensitive_call"] == "true"
            if "intersection_point" in fields:
                point = _sf_point(fields["intersection_point"])
                if point is None:
                    del fields["intersection_point"]
                else:
                    fields["intersection_point"] = point
            out.append({"offsets": offsets, "fields": fields})
    return out


def houston_templates() -> list[dict[str, Any]]:
    folder = FIXTURES / ARCGIS_SOURCE
    features: list[dict[str, Any]] = []
    shape: dict[str, Any] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        shape = {
            k: v
            for k, v in data.items()
            if k not in ("features", "exceededTransferLimit")
        }
        features.extend(f["attributes"] for f in data["features"])
    return [{"shape": shape, "attributes": features}]


# ----------------------------------------------------------------- writers
def _iso_floating(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def sf_rows(n: int, rng: random.Random) -> Any:
    """``n`` SODA rows in ``$order`` (call_last_updated_at, cad_number)."""
    templates = sf_templates()
    # San Francisco wall-clock times; the newest call updated before the capture.
    end_local = datetime(2026, 1, 17, 9, 0, 0)
    start = end_local - timedelta(seconds=SF_GAP_S * n) - timedelta(days=1)
    received = start
    rows = []
    for i in range(n):
        received += timedelta(seconds=rng.randint(1, 2 * SF_GAP_S - 1))
        tpl = templates[rng.randrange(len(templates))]
        row: dict[str, Any] = {
            "id": str(40_000_000 + i),
            "cad_number": str(300_000_000 + i),
        }
        for name in SF_TIME_FIELDS:
            offset = tpl["offsets"][name]
            if offset is not None:
                row[name] = _iso_floating(received + offset)
        row.update(tpl["fields"])
        row["data_as_of"] = "2026-01-17T09:14:09.000"
        row["data_loaded_at"] = "2026-01-17T09:15:34.000"
        rows.append(row)
    rows.sort(key=lambda r: (r["call_last_updated_at"], r["cad_number"]))
    return rows


def houston_features(n: int, rng: random.Random) -> tuple[dict[str, Any], list]:
    tpl = houston_templates()[0]
    attrs = tpl["attributes"]
    end = CAPTURED_AT - timedelta(minutes=5)
    t = end - timedelta(seconds=HOU_GAP_S * n)
    out = []
    for i in range(n):
        t += timedelta(seconds=rng.randint(1, 2 * HOU_GAP_S - 1))
        a = dict(attrs[rng.randrange(len(attrs))])
        a["UID"] = 50_000_000 + i
        a["CALL_TIME"] = int(t.timestamp()) * 1000
        out.append({"attributes": a})
    out.reverse()  # the config orders by CALL_TIME DESC
    return tpl["shape"], out


def write_manifest(folder: Path, pages: list[str], note: str) -> None:
    doc = {
        "snapshots": [
            {
                "captured_at": CAPTURED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "note": note,
                "responses": [
                    {"file": p, "content_type": "application/json"} for p in pages
                ],
            }
        ]
    }
    (folder / "manifest.yaml").write_text(
        "# Synthetic benchmark feed written by bench/generate.py\n"
        + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )


def write_socrata(folder: Path, n: int, rng: random.Random) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = sf_rows(n, rng)
    pages = []
    size = 0
    # SODA answers pages until one is short; a listing that ends on a full page
    # needs one more request, answered with an empty array.
    for k, start in enumerate(range(0, n + 1, SOCRATA_PAGE)):
        chunk = rows[start : start + SOCRATA_PAGE]
        name = f"page_{k:05d}.json"
        body = _dump(chunk)
        (folder / name).write_bytes(body)
        size += len(body)
        pages.append(name)
        if len(chunk) < SOCRATA_PAGE:
            break
    write_manifest(folder, pages, f"{n} SODA rows scaled from {SOCRATA_SOURCE}")
    return {
        "records": n,
        "pages": len(pages),
        "bytes": size,
        "distinct_addresses": len({r.get("intersection_name") for r in rows}),
        "distinct_call_types": len({r.get("call_type_final_desc") for r in rows}),
    }


def write_arcgis(folder: Path, n: int, rng: random.Random) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    shape, features = houston_features(n, rng)
    pages = []
    size = 0
    starts = list(range(0, n, ARCGIS_PAGE)) or [0]
    for k, start in enumerate(starts):
        chunk = features[start : start + ARCGIS_PAGE]
        doc = dict(shape)
        doc["features"] = chunk
        if start + ARCGIS_PAGE < n:
            doc["exceededTransferLimit"] = True
        name = f"page_{k:05d}.json"
        body = _dump(doc)
        (folder / name).write_bytes(body)
        size += len(body)
        pages.append(name)
    write_manifest(folder, pages, f"{n} ArcGIS features scaled from {ARCGIS_SOURCE}")
    return {
        "records": n,
        "pages": len(pages),
        "bytes": size,
        "distinct_addresses": len({f["attributes"]["Address"] for f in features}),
        "distinct_call_types": len({f["attributes"]["IncidentType"] for f in features}),
    }


def write_config(
    source: str, feed_id: str, folder: Path, *, url: str, page_size: int, title: str
) -> Path:
    data = yaml.safe_load((CONFIGS / f"{source}.yaml").read_text(encoding="utf-8"))
    data["title"] = title
    data["description"] = (
        f"Synthetic benchmark feed (bench/generate.py): real rows of {source} with "
        "ids and times varied."
    )
    data["urls"] = [url]
    data.setdefault("request", {})["page_size"] = page_size
    data.pop("replay", None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{feed_id}.yaml"
    path.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return path


def write_configs(folder: Path, *, socrata_url: str | None = None) -> None:
    write_config(
        SOCRATA_SOURCE,
        SOCRATA_FEED,
        folder,
        url=socrata_url or "https://data.sfgov.org/resource/bnch-soda.json",
        page_size=SOCRATA_PAGE,
        title="Benchmark: SODA pages scaled from gnap-fj3t",
    )
    write_config(
        ARCGIS_SOURCE,
        ARCGIS_FEED,
        folder,
        url="https://mycity2.houstontx.gov/pubgis01/rest/services/HEC/"
        "HEC_Bench/MapServer/0/query",
        page_size=ARCGIS_PAGE,
        title="Benchmark: ArcGIS pages scaled from HEC",
    )


def generate(
    size: int, *, seed: int = 20260117, root: Path = DATA, force: bool = False
) -> Path:
    """Write (or keep, when already written with the same seed) one size."""
    out = root / str(size)
    meta_path = out / "meta.json"
    if not force and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("seed") == seed
            and meta.get("size") == size
            and meta.get("generator_version") == GENERATOR_VERSION
        ):
            return out
    if out.exists():
        shutil.rmtree(out)
    t0 = time.monotonic()
    n_socrata = size - size // 2
    n_arcgis = size // 2
    replay = out / "replay"
    meta = {
        "size": size,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "feeds": {
            SOCRATA_FEED: write_socrata(
                replay / SOCRATA_FEED, n_socrata, random.Random(f"{seed}:socrata")
            ),
            ARCGIS_FEED: write_arcgis(
                replay / ARCGIS_FEED, n_arcgis, random.Random(f"{seed}:arcgis")
            ),
        },
    }
    write_configs(out / "configs")
    meta["seconds"] = round(time.monotonic() - t0, 2)
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


GENERATOR_VERSION = 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    p.add_argument("--seed", type=int, default=20260117)
    p.add_argument("--force", action="store_true", help="rewrite existing sets")
    args = p.parse_args(argv)
    for size in args.sizes:
        out = generate(size, seed=args.seed, force=args.force)
        meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
        feeds = ", ".join(
            f"{k}: {v['records']} records in {v['pages']} pages "
            f"({v['bytes'] / 1e6:.1f} MB)"
            for k, v in meta["feeds"].items()
        )
        print(f"{out}: {feeds}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
