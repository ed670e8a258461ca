#!/usr/bin/env python
"""How often `cfs new` gets a bundled feed right, with its hand config hidden.

Why: the drafter is only useful if its guesses are mostly right on feeds it has
not been tuned on record by record. Every bundled capture (``tests/fixtures/*/``
with a manifest and a hand-written config) is drafted as a new user would: the
files its manifest lists, the live URL, the time zone, the agency and place
names; no config. The draft goes to a temporary configs folder, never beside the
hand config. When the drafter asks for ``--captured-at`` (a file that states no
capture time and has no dated record), the hand manifest's times are given, as a
user who knows when they saved the file would, and the table says so.

Each role is judged on values, record by record, not on names (an XML or HTML
config names its own fields): both configs read the same files through their
platform spiders and build common records with the project's record builder.

* records: the same number of records in every snapshot (the records path, XML
  item path or row XPath selects the same records);
* id: the same ``call_id`` on at least 99% of records, or neither has one;
* received: the same instant of the call's first published time
  (``received_at``, or ``dispatched_at`` where a config maps no received time) on
  at least 99% of the records the hand config dates: field *and* format;
* address: the same cleaned address on at least 90% of records (or neither);
* call type: the same raw call type on at least 90% of records (or neither).

``--replay`` also replays every draft and every hand config through Scrapy into
two stores and compares the calls stored. Run ``python bench/draft_accuracy.py``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cfs_spiders.config.loader import FeedConfig, get_config, load_config  # noqa: E402
from cfs_spiders.draft.detect import DraftError  # noqa: E402
from cfs_spiders.draft.located import spider_extract  # noqa: E402
from cfs_spiders.draft.new import DraftOptions, draft  # noqa: E402
from cfs_spiders.ingest.replay import load_snapshots  # noqa: E402
from cfs_spiders.records.builder import RecordBuilder  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
ROLES = ("records", "id", "received", "address", "call_type")
THRESHOLD = {"id": 0.99, "received": 0.99, "address": 0.9, "call_type": 0.9}


@dataclass
class FeedResult:
    feed_id: str
    platform: str
    roles: dict[str, tuple[bool, str]] = field(default_factory=dict)
    needed_capture_times: bool = False
    error: str | None = None
    draft_calls: int | None = None
    hand_calls: int | None = None
    excluded: set[str] = field(default_factory=set)  # ids the hand manifest skips
    warnings: list[str] = field(default_factory=list)


def bundled_feeds() -> list[str]:
    out = []
    for folder in sorted(FIXTURES.iterdir()):
        if not (folder / "manifest.yaml").is_file():
            continue
        try:
            cfg = get_config(folder.name)
        except Exception:  # noqa: BLE001 - a fixture folder without a config
            continue
        if cfg.has_feed:
            out.append(folder.name)
    return out


def manifest_files(feed_id: str) -> tuple[list[Path], list[str]]:
    """The files a fixture manifest lists, and its responses' capture times."""
    folder = FIXTURES / feed_id
    doc = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    files, times = [], []
    for entry in doc["snapshots"]:
        if "archive" in entry:
            files.append(folder / entry["archive"]["file"])
            continue
        for response in entry["responses"]:
            files.append(folder / response["file"])
            stamp = entry["captured_at"]
            times.append(
                stamp.isoformat() if isinstance(stamp, datetime) else str(stamp)
            )
    return files, times


def excluded_ids(feed_id: str) -> set[str]:
    """Call ids the hand manifest excludes (rows its capture's keeper made up):
    a new user's draft reads them until the user flags them."""
    doc = yaml.safe_load((FIXTURES / feed_id / "manifest.yaml").read_text())
    entries = list(doc.get("exclude") or [])
    for snap in doc.get("snapshots", []):
        entries += snap.get("exclude") or []
    return {str(e["record_id"]) for e in entries if "record_id" in e}


def draft_bundled(feed_id: str, workdir: Path) -> tuple[Any, bool]:
    """Draft ``feed_id`` from its bundled files into ``workdir``."""
    hand = get_config(feed_id)
    files, times = manifest_files(feed_id)
    opts = DraftOptions(
        feed_id=feed_id,
        files=files,
        time_zone=hand.time_zone,
        configs_dir=workdir / "configs",
        fixtures_dir=workdir / "fixtures",
        url=hand.urls[0] if hand.urls else None,
        agency=hand["agency"],
        city=hand["city"],
        state=hand["state"],
        title=hand["title"],
    )
    try:
        return draft(opts), False
    except DraftError as exc:
        if "--captured-at" not in str(exc):
            raise
    opts.captured_at = times
    return draft(opts), True


def built_records(cfg: FeedConfig, replay_dir: Path) -> list[list[dict[str, Any]]]:
    """Common records of every snapshot, as the config reads its fixture."""
    source = cfg.source(True)
    builder = RecordBuilder(cfg, replay=True)
    out = []
    for snap in load_snapshots(str(replay_dir), cfg.feed_id):
        records = []
        for rec in snap.responses:
            for raw in spider_extract(
                source["platform"], source["parse"], rec.read(), rec.content_type
            ):
                records.append(
                    builder.build(
                        raw,
                        fetched_at=snap.captured_at,
                        source_url="https://bench.invalid/",
                        run_id="bench",
                    )
                )
        out.append(records)
    return out


def _first_time(rec: dict[str, Any]) -> str | None:
    return rec.get("received_at_utc") or rec.get("dispatched_at_utc")


def _agree(
    hand: list[dict[str, Any]], mine: list[dict[str, Any]], key: Any, role: str
) -> tuple[bool, str]:
    """Agreement of one element over the records, as multisets of values: the
    same values on the same records, whatever order each config reads them in
    (PulsePoint's two lists) and however its manifest cuts the snapshots."""
    h = Counter(key(r) for r in hand)
    d = Counter(key(r) for r in mine)
    if role == "received":
        h.pop(None, None)
        d.pop(None, None)
        if not h:
            extra = sum(d.values())
            return extra == 0, "neither dates the records" if not extra else (
                f"the draft dates {extra} records the hand config does not"
            )
    total = sum(h.values())
    if set(h) == {None} and set(d) <= {None}:
        return True, "neither has it"
    same = sum((h & d).values())
    share = same / total if total else 1.0
    return share >= THRESHOLD[role], f"{same}/{total} records agree"


def _address(rec: dict[str, Any]) -> str | None:
    value = rec.get("address")
    return " ".join(value.upper().split()) if value else None


def compare(hand: FeedConfig, mine: FeedConfig, draft_dir: Path) -> dict[str, Any]:
    h_snaps = built_records(hand, FIXTURES)
    d_snaps = built_records(mine, draft_dir)
    h_counts = [len(s) for s in h_snaps]
    d_counts = [len(s) for s in d_snaps]
    roles: dict[str, tuple[bool, str]] = {}
    cut_alike = len(h_counts) != len(d_counts) or h_counts == d_counts
    if sum(h_counts) != sum(d_counts) or not cut_alike:
        roles["records"] = (False, f"hand {h_counts[:5]} vs draft {d_counts[:5]}")
        for role in ROLES[1:]:
            roles[role] = (False, "records differ")
        return roles
    roles["records"] = (True, f"{sum(h_counts)} in {len(h_counts)} snapshots")
    hand_recs = [r for s in h_snaps for r in s]
    mine_recs = [r for s in d_snaps for r in s]
    roles["id"] = _agree(hand_recs, mine_recs, lambda r: r.get("call_id"), "id")
    roles["received"] = _agree(hand_recs, mine_recs, _first_time, "received")
    roles["address"] = _agree(hand_recs, mine_recs, _address, "address")
    roles["call_type"] = _agree(
        hand_recs, mine_recs, lambda r: r.get("call_type_raw"), "call_type"
    )
    return roles


def _replay_all(configs: Path, fixtures: Path, db: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cfs_spiders.cli",
            "--configs",
            str(configs),
            "--db",
            str(db),
            "--output",
            str(db.parent / f"{db.stem}-output"),
            "crawl",
            "--all",
            "--replay",
            str(fixtures),
            "--no-jsonl",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**__import__("os").environ, "CFS_LOG_LEVEL": "ERROR"},
    )


def _call_counts(db: Path) -> dict[str, int]:
    import sqlite3

    if not db.is_file():
        return {}
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT feed_id, count(*) FROM calls JOIN feeds USING (feed_key) GROUP BY feed_id"
        )
        return dict(rows.fetchall())
    finally:
        conn.close()


def run_benchmark(
    feeds: list[str] | None = None, replay: bool = False
) -> list[FeedResult]:
    work = Path(tempfile.mkdtemp(prefix="cfs-draft-bench-"))
    results = []
    try:
        for feed_id in feeds or bundled_feeds():
            hand = get_config(feed_id)
            res = FeedResult(feed_id, "")
            try:
                result, needed = draft_bundled(feed_id, work)
            except DraftError as exc:
                res.error = str(exc)
                res.roles = {r: (False, "no draft") for r in ROLES}
                results.append(res)
                continue
            res.needed_capture_times = needed
            res.excluded = excluded_ids(feed_id)
            res.platform = result.data["platform"]
            res.warnings = result.warnings
            mine = load_config(result.config_path)
            res.roles = compare(hand, mine, work / "fixtures")
            results.append(res)
        if replay:
            hand_dir = work / "hand_configs"
            hand_dir.mkdir()
            for res in results:
                shutil.copyfile(
                    get_config(res.feed_id).path, hand_dir / f"{res.feed_id}.yaml"
                )
            _replay_all(work / "configs", work / "fixtures", work / "draft.sqlite")
            _replay_all(hand_dir, FIXTURES, work / "hand.sqlite")
            drafted = _call_counts(work / "draft.sqlite")
            handed = _call_counts(work / "hand.sqlite")
            for res in results:
                res.draft_calls = drafted.get(res.feed_id)
                res.hand_calls = handed.get(res.feed_id)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def accuracy(results: list[FeedResult]) -> tuple[int, int]:
    pairs = [ok for r in results for ok, _ in r.roles.values()]
    return sum(pairs), len(pairs)


def table(results: list[FeedResult]) -> str:
    head = f"{'feed':46} {'platform':10} " + " ".join(f"{r:9}" for r in ROLES)
    lines = [head]
    replayed = any(r.hand_calls is not None for r in results)
    if replayed:
        lines[0] += "  calls draft/hand"
    for r in results:
        marks = " ".join(f"{'yes' if r.roles[x][0] else 'NO':9}" for x in ROLES)
        line = f"{r.feed_id:46} {r.platform:10} {marks}"
        if replayed:
            line += f"  {r.draft_calls}/{r.hand_calls}"
            if r.excluded:
                line += f" (the hand manifest excludes {len(r.excluded)} rows)"
        if r.needed_capture_times:
            line += "  (given --captured-at)"
        lines.append(line)
    ok, n = accuracy(results)
    lines.append(f"\n{ok}/{n} (feed, role) pairs right: {ok / n:.1%}")
    per_role = []
    for role in ROLES:
        good = sum(1 for r in results if r.roles[role][0])
        per_role.append(f"{role} {good}/{len(results)}")
    lines.append("per role: " + ", ".join(per_role))
    misses = [
        f"  {r.feed_id} {role}: {why}"
        for r in results
        for role, (ok_, why) in r.roles.items()
        if not ok_
    ]
    if misses:
        lines.append("misses:")
        lines += misses
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("feeds", nargs="*")
    p.add_argument("--replay", action="store_true", help="also replay and count calls")
    args = p.parse_args(argv)
    started = datetime.now(UTC)
    results = run_benchmark(args.feeds or None, replay=args.replay)
    print(table(results))
    print(f"({(datetime.now(UTC) - started).total_seconds():.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
