#!/usr/bin/env python
"""`cfs new` tried as a new user would, on feeds the project had never seen.

Why: the bundled feeds shaped the drafter's vocabulary, so they cannot say how it
does on a city nobody has looked at. The ten second-set captures
(their files, byte for byte as captured, are the fixtures of the feeds configured
from them since, ``tests/fixtures/<feed>/``; ``tests/fixtures/draft_unseen/`` keeps
each capture's own PROVENANCE.md) are staged as a new user has them and drafted with only what a user would know from the
provenance: the files, the time zone, the live URL, and, where a file states no
capture time and has no dated record, when it was saved. Nothing else.

Each draft is replayed through Scrapy (``cfs crawl --replay``). Measured:

* calls: the calls stored against the number of distinct calls in the files,
  counted here independently of the drafter (ids by plain JSON/CSV/regex reads);
* time, type, address: the share of stored calls with the call's time
  (``received_at``, or ``dispatched_at`` where the feed publishes only a dispatch
  time), the call type and the address mapped, for the elements the feed
  publishes as fields of their own.

Rows a capture's keeper made up (St. Louis's 7 ``TEST`` rows) are left out of
both counts: a new user's draft reads them, and the table says so.
Run ``python bench/draft_unseen.py``.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cfs_spiders.draft.detect import DraftError  # noqa: E402
from cfs_spiders.draft.new import DraftOptions, draft  # noqa: E402
from cfs_spiders.draft.review import review  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
UNSEEN = FIXTURES / "draft_unseen"  # each capture's PROVENANCE.md, as captured
TARGET = 0.95


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _ids_json(pattern: str, key: Callable[[Any], list[Any]]) -> Callable[[Path], set]:
    def count(folder: Path) -> set:
        out: set = set()
        for path in sorted(folder.glob(pattern)):
            out |= {v for v in key(_json(path)) if v}
        return out

    return count


def _little_rock(folder: Path) -> set:
    path = next(folder.glob("*.csv"))
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {(r["Call type"], r["Location"], r["Dispatch time"]) for r in rows}


def _regex(pattern: str, glob: str, encoding: str = "utf-8") -> Callable[[Path], set]:
    def count(folder: Path) -> set:
        out: set = set()
        for path in sorted(folder.glob(glob)):
            out |= set(re.findall(pattern, path.read_text(encoding=encoding)))
        return out

    return count


def _st_louis_synthetic(folder: Path) -> set:
    text = next(folder.glob("*.html")).read_text(encoding="utf-8")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.S)
    return {
        m.group(1)
        for row in rows
        if "TEST BRIAN" in row
        for m in [re.search(r"<td>(P\d{10})</td>", row)]
        if m
    }


@dataclass
class Unseen:
    folder: str  # the capture's folder name in shared/captures
    fixture: str  # the feed fixture folder holding its files (tests/fixtures/)
    feed_id: str
    time_zone: str
    url: str
    files: list[str]
    calls: Callable[[Path], set]
    published: tuple[str, ...] = ("time", "type", "address")
    captured_at: list[str] = field(default_factory=list)
    synthetic: Callable[[Path], set] | None = None
    note: str = ""


FEEDS = [
    Unseen(
        "ar_little_rock_lrpd_dispatch_log",
        "ar_little_rock_police_dispatch_log",
        "ar_little_rock_draft",
        "America/Chicago",
        "https://clrweb.littlerock.state.ar.us/pub/public_menu.php",
        ["dispatch_log_day_2022-05-19_scraper_csv.csv"],
        _little_rock,
        note="no call id: distinct (type, location, dispatch time)",
    ),
    Unseen(
        "ca_chp_cad_traffic_incidents_lacc",
        "ca_los_angeles_chp_traffic_incidents",
        "ca_chp_lacc_draft",
        "America/Los_Angeles",
        "https://cad.chp.ca.gov/Traffic.aspx",
        [
            "active_incidents_LACC_2025-09-25T1035Z.json",
            "active_incidents_LACC_2025-09-25T1046Z.json",
            "active_incidents_LACC_2025-09-25T1053Z.json",
        ],
        _ids_json("*.json", lambda d: [i["id"] for i in d["incidents"]]),
        # commit times from PROVENANCE.md (the files' last_updated has no offset)
        captured_at=[
            "2025-09-25T10:35:52Z",
            "2025-09-25T10:46:36Z",
            "2025-09-25T10:53:52Z",
        ],
    ),
    Unseen(
        "ca_oakland_opd_calls_for_service_arcgis",
        "ca_oakland_police_calls_for_service",
        "ca_oakland_draft",
        "America/Los_Angeles",
        "http://gismaps.oaklandca.gov/oaklandgis/rest/services/callforservice_2015_FC/"
        "FeatureServer/0",
        ["calls_2024-05-18T1903Z.json", "calls_2024-05-19T1903Z.json"],
        _ids_json("*.json", lambda d: [x["properties"]["I_EVENTNUMBER"] for x in d]),
        note="7 placeholder features per file (every property null) are no calls",
    ),
    Unseen(
        "fl_escambia_county_so_smartwebclient_cadview",
        "fl_escambia_county_sheriff_cad",
        "fl_escambia_draft",
        "America/Chicago",
        "http://www.escambiaso.com/SmartWebClient/cadview.aspx",
        ["cadview_aspx_2016-08-16T1729CDT.html"],
        _regex(r"<td>(ECSO\d\dCAD\d+)</td>", "*.html"),
    ),
    Unseen(
        "mo_columbia_911_dispatch_pd_fire",
        "mo_columbia_fire_911_dispatch",
        "mo_columbia_draft",
        "America/Chicago",
        "https://www.como.gov/CMS/911dispatch/police.php",
        ["data_2026-08-22T0628Z.json", "data_2026-08-22T1343Z.json"],
        _ids_json("*.json", lambda d: [x["incident"] for x in d]),
    ),
    Unseen(
        "mo_st_louis_slmpd_calls_for_service",
        "mo_st_louis_police_calls",
        "mo_st_louis_draft",
        "America/Chicago",
        "https://www.slmpd.org/cfs.aspx",
        ["cfs_aspx_2021-04-06T1744CST_with_7_synthetic_rows.html"],
        _regex(r"<td>(P\d{10})</td>", "*.html"),
        synthetic=_st_louis_synthetic,
    ),
    Unseen(
        "pa_montgomery_county_livecad_active_incidents",
        "pa_montgomery_county_live_cad",
        "pa_montgomery_draft",
        "America/New_York",
        "https://webapp02.montcopa.org/eoc/cadinfo/livecad.asp",
        [
            "livecad_2019-07-05T0951EDT_var-page.html",
            "livecad_2019-07-05T1812EDT_var-mainPage.html",
        ],
        _regex(r"incidentno=([A-Z]\d+)&", "livecad_*.html", "latin-1"),
    ),
    Unseen(
        "pa_york_county_911_live_incident_status",
        "pa_york_county_911_live_incidents",
        "pa_york_draft",
        "America/New_York",
        "https://www.ycdes.org/",
        ["york_live_incident_status_2022-10-19T1717EDT.html"],
        _regex(r"Details\.aspx\?([^>\s]+)>", "*.html"),
        note="no call id: one call per Details link",
    ),
    Unseen(
        "tn_hamilton_county_hc911_active_calls",
        "tn_hamilton_county_hc911_active_calls",
        "tn_hamilton_draft",
        "America/New_York",
        "https://hc911server.com/api/calls",
        ["hc911_first_seen_records_2026-08-20_collector_jsonl.jsonl"],
        lambda folder: {
            json.loads(line)["sequencenumber"]
            for line in next(folder.glob("*.jsonl")).read_text().splitlines()
            if line.strip()
        },
    ),
    Unseen(
        "va_fairfax_county_fire_pulsepoint_incidents",
        "va_fairfax_county_fire_pulsepoint_incidents",
        "va_fairfax_draft",
        "America/New_York",
        "https://api.pulsepoint.org/v1/webapp?resource=incidents&agencyid=05900",
        ["pulsepoint_05900_incidents_2025-04-01T1932Z.json"],
        _ids_json(
            "*.json", lambda d: [x["IncidentNumber"] for x in d["active"] + d["recent"]]
        ),
        published=("type", "address"),  # every timestamp was destroyed by the client
        captured_at=["2025-04-01T19:32:48Z"],  # the browser's ISO time in the name
    ),
]


@dataclass
class UnseenResult:
    spec: Unseen
    expected: int
    stored: int | None = None
    shares: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    synthetic_stored: int = 0

    @property
    def calls_ok(self) -> bool:
        return self.stored is not None and self.stored == self.expected

    @property
    def mapped_ok(self) -> bool:
        return bool(self.shares) and all(
            self.shares.get(k, 0.0) >= TARGET for k in self.spec.published
        )


def _has(call: dict[str, Any], element: str) -> bool:
    if element == "time":
        return bool(call.get("received_at_utc") or call.get("dispatched_at_utc"))
    if element == "type":
        return bool(call.get("call_type_raw"))
    return bool(call.get("address_raw"))


def files_of(spec: Unseen) -> list[Path]:
    """Where the capture's files are: in its feed's fixture folder, byte for byte
    as captured (a file kept there gzipped, such as Oakland's, is ``<name>.gz``)."""
    out = []
    for name in spec.files:
        path = FIXTURES / spec.fixture / name
        if not path.exists() and (FIXTURES / spec.fixture / f"{name}.gz").exists():
            path = FIXTURES / spec.fixture / f"{name}.gz"
        if not path.exists():
            raise FileNotFoundError(f"{spec.folder}: {name} not in {path.parent}")
        out.append(path)
    return out


def stage(spec: Unseen, into: Path) -> Path:
    """The capture as a new user has it: its files (unzipped) and PROVENANCE.md
    in one folder."""
    folder = into / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in zip(spec.files, files_of(spec), strict=True):
        if path.suffix == ".gz":
            (folder / name).write_bytes(gzip.decompress(path.read_bytes()))
        else:
            shutil.copyfile(path, folder / name)
    shutil.copyfile(UNSEEN / spec.folder / "PROVENANCE.md", folder / "PROVENANCE.md")
    return folder


def evaluate(spec: Unseen, work: Path) -> UnseenResult:
    folder = stage(spec, work / "captures")
    synthetic = spec.synthetic(folder) if spec.synthetic else set()
    expected = len(spec.calls(folder) - synthetic)
    res = UnseenResult(spec, expected)
    opts = DraftOptions(
        feed_id=spec.feed_id,
        files=[folder / f for f in spec.files],
        time_zone=spec.time_zone,
        configs_dir=work / "configs",
        fixtures_dir=work / "fixtures",
        url=spec.url,
        captured_at=list(spec.captured_at),
    )
    try:
        result = draft(opts)
    except DraftError as exc:
        res.error = str(exc)
        return res
    res.warnings = result.warnings
    rev = review(
        spec.feed_id,
        work / "configs",
        work / "fixtures",
        result.data.get("record", {}),
        workdir=work / spec.feed_id,
    )
    if not rev.replay_ok:
        res.error = "replay failed: " + rev.replay_output.strip()[-300:]
    calls = [c for c in rev.calls if c.get("call_id") not in synthetic]
    res.synthetic_stored = len(rev.calls) - len(calls)
    res.stored = len(calls)
    for element in ("time", "type", "address"):
        res.shares[element] = (
            sum(1 for c in calls if _has(c, element)) / len(calls) if calls else 0.0
        )
    return res


def run(folders: list[str] | None = None) -> list[UnseenResult]:
    work = Path(tempfile.mkdtemp(prefix="cfs-draft-unseen-"))
    try:
        return [evaluate(s, work) for s in FEEDS if not folders or s.folder in folders]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(results: list[UnseenResult]) -> str:
    lines = [
        f"{'capture':46} {'calls stored/expected':>22}  {'time':>5} {'type':>5} "
        f"{'address':>7}  result"
    ]
    for r in results:
        if r.stored is None:
            lines.append(
                f"{r.spec.folder:46} {'-':>22}  {'':>5} {'':>5} {'':>7}  "
                f"no draft: {r.error}"
            )
            continue
        cells = []
        for k in ("time", "type", "address"):
            v = f"{r.shares[k]:.0%}"
            cells.append(v if k in r.spec.published else f"({v})")
        ok = r.calls_ok and r.mapped_ok
        extra = f" +{r.synthetic_stored} synthetic" if r.synthetic_stored else ""
        lines.append(
            f"{r.spec.folder:46} {f'{r.stored}/{r.expected}{extra}':>22}  "
            f"{cells[0]:>5} {cells[1]:>5} {cells[2]:>7}  {'ok' if ok else 'MISS'}"
        )
    good = sum(1 for r in results if r.calls_ok and r.mapped_ok)
    lines.append(f"\n{good}/{len(results)} unseen feeds: exact calls and >= 95% mapped")
    lines.append("(a share in parentheses: not published as a field of its own)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    print(table(run(argv or None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
