"""Replay: answer a feed's requests from recorded responses, inside Scrapy.

Replay is a download handler for ``http``/``https``: every other part of Scrapy
(middlewares, robots.txt, retries, the spider, the pipelines) runs exactly as it
does live; only the bytes come from disk. Recordings live per feed in
``<replay dir>/<feed_id>/manifest.yaml``:

```yaml
snapshots:                     # replayed in order, one run each
  - captured_at: 2018-01-09T15:26:00Z
    responses:
      - file: are8-xahz.csv
        content_type: text/csv
  - archive:                   # one file holding many snapshots (a git scraper's)
      file: archive_2025-12-13.json
      list: snapshots          # path to the list of snapshots
      captured_at: timestamp   # key of each snapshot's capture time
      body: calls              # key of the response body inside each snapshot
```

A snapshot marked ``board_snapshot: false`` (rows a scraper accumulated, not one
view of the listing) is sent with ``X-Cfs-Listing: partial``, and the run does not
read a call's absence from it as the call leaving the listing.

Other options:

- ``content_encoding: gzip`` on a response: the file is stored gzip-compressed and
  served with ``Content-Encoding: gzip``, as a compressing server sends it, so the
  bytes go through Scrapy's decompression as they would live.
- ``read_as: live`` on a snapshot: this recording is in the live format; it is read
  with the config's live platform and mapping, not its ``replay`` block (a feed
  whose captures are partly re-exports).
- ``archive`` with ``lines: true``: a JSON Lines file of a collector that wrote one
  line per record with its poll time; consecutive lines with the same
  ``captured_at`` value are one snapshot, served as those lines unchanged.

Within a snapshot, requests are answered in order (page 1, page 2, ...); a response
may instead name query parameters it answers (``match: {resultOffset: "2000"}``).
Each response carries the snapshot's capture time in ``X-Cfs-Captured-At``, which the
spider uses as the fetch time, so first/last seen mean in replay what they mean live.
``robots.txt`` is answered 404 unless recorded.

A snapshot (or the whole manifest) may ``exclude`` rows its capture's author
flagged as not feed data (synthetic or edited rows); the replay skips exactly
those and counts them (``exclusions.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml
from scrapy.http import Request, Response
from scrapy.responsetypes import responsetypes

from ..config.loader import validate_feed_id
from ..config.paths import PROJECT_ROOT
from ..normalize.time import NaiveTimestampError, parse_iso
from .exclusions import Exclusion, ExclusionError, parse_exclusions

DEFAULT_REPLAY_DIR = PROJECT_ROOT / "tests" / "fixtures"
_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".html": "text/html",
    ".htm": "text/html",
    ".rss": "application/rss+xml",
}


class ReplayError(LookupError):
    """No recording answers a request (or the manifest is wrong)."""


@dataclass(frozen=True)
class RecordedResponse:
    """One recorded response; a file's bytes are read when it is served, so a
    backfill of many large pages never sits in memory at once."""

    body: bytes | None
    content_type: str
    status: int
    match: dict[str, str] | None
    name: str
    path: Path | None = None
    content_encoding: str | None = None

    def read(self) -> bytes:
        if self.body is not None:
            return self.body
        assert self.path is not None
        return self.path.read_bytes()


@dataclass(frozen=True)
class Snapshot:
    captured_at: datetime
    responses: tuple[RecordedResponse, ...]
    robots: RecordedResponse | None = None
    # False for rows re-exported by a scraper: not what the listing showed at one
    # moment, so absence from it says nothing about a call.
    board_snapshot: bool = True
    # Rows the capture's author flagged (synthetic, edited): skipped in replay.
    exclude: tuple[Exclusion, ...] = ()
    # "live": read with the live platform and mapping (not the replay block)
    read_as: str | None = None


def _when(value: Any) -> datetime:
    try:
        return parse_iso(value)
    except NaiveTimestampError:
        raise ReplayError(
            f"captured_at {value!r} has no offset: say which zone"
        ) from None


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ReplayError(f"{name!r} escapes the replay folder {folder}")
    return path


def _recorded(folder: Path, spec: dict[str, Any]) -> RecordedResponse:
    path = _inside(folder, spec["file"])
    ctype = spec.get("content_type") or _TYPES.get(path.suffix.lower(), "text/plain")
    if not path.is_file():
        raise ReplayError(f"{folder / 'manifest.yaml'}: no file {spec['file']!r}")
    encoding = spec.get("content_encoding")
    if encoding not in (None, "gzip"):
        raise ReplayError(f"{folder / 'manifest.yaml'}: content_encoding {encoding!r}")
    return RecordedResponse(
        body=None,
        content_type=ctype,
        status=int(spec.get("status", 200)),
        match={k: str(v) for k, v in (spec.get("match") or {}).items()} or None,
        name=spec["file"],
        path=path,
        content_encoding=encoding,
    )


def _line_archive(folder: Path, spec: dict[str, Any]) -> list[Snapshot]:
    """A JSON Lines file, one snapshot per run of lines with one capture time."""
    from ..records.mapping import get_path

    path = _inside(folder, spec["file"])
    groups: list[tuple[datetime, list[bytes]]] = []
    last: Any = object()
    for number, line in enumerate(path.read_bytes().splitlines(True), start=1):
        if not line.strip():
            continue
        try:
            stamp = get_path(json.loads(line), spec["captured_at"])
        except ValueError as exc:
            raise ReplayError(f"{path} line {number}: not JSON ({exc})") from None
        if stamp != last:
            groups.append((_when(stamp), []))
            last = stamp
        groups[-1][1].append(line)
    board = bool(spec.get("board_snapshot", True))
    return [
        Snapshot(
            captured_at=when,
            responses=(
                RecordedResponse(
                    body=b"".join(lines),
                    content_type=spec.get("content_type", "application/x-ndjson"),
                    status=200,
                    match=None,
                    name=f"{spec['file']}#{i}",
                ),
            ),
            board_snapshot=board,
        )
        for i, (when, lines) in enumerate(groups)
    ]


def _archive(folder: Path, spec: dict[str, Any]) -> list[Snapshot]:
    from ..records.mapping import get_path

    if spec.get("lines"):
        return _line_archive(folder, spec)
    path = _inside(folder, spec["file"])
    data = json.loads(path.read_text(encoding="utf-8"))
    items = get_path(data, spec["list"]) if spec.get("list") else data
    snapshots = []
    for i, item in enumerate(items or []):
        body = get_path(item, spec["body"]) if spec.get("body") else item
        snapshots.append(
            Snapshot(
                captured_at=_when(get_path(item, spec["captured_at"])),
                responses=(
                    RecordedResponse(
                        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                        content_type=spec.get("content_type", "application/json"),
                        status=200,
                        match=None,
                        name=f"{spec['file']}#{spec.get('list', '')}[{i}]",
                    ),
                ),
                board_snapshot=bool(spec.get("board_snapshot", True)),
            )
        )
    return snapshots


@lru_cache(maxsize=256)
def load_snapshots(replay_dir: str, feed_id: str) -> tuple[Snapshot, ...]:
    """All recorded snapshots of a feed, in capture order."""
    validate_feed_id(feed_id)
    folder = Path(replay_dir) / feed_id
    manifest = folder / "manifest.yaml"
    if not manifest.is_file():
        return ()
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    snapshots: list[Snapshot] = []
    try:
        everywhere = parse_exclusions(doc.get("exclude"), str(manifest))
        for n, entry in enumerate(doc.get("snapshots", [])):
            if "archive" in entry:
                snapshots.extend(
                    replace(s, exclude=everywhere)
                    for s in _archive(folder, entry["archive"])
                )
                continue
            robots = entry.get("robots")
            if entry.get("read_as") not in (None, "live"):
                raise ReplayError(
                    f"{manifest}: read_as {entry['read_as']!r} (only 'live')"
                )
            own = parse_exclusions(entry.get("exclude"), f"{manifest}: snapshots[{n}]")
            snapshots.append(
                Snapshot(
                    captured_at=_when(entry["captured_at"]),
                    responses=tuple(_recorded(folder, r) for r in entry["responses"]),
                    robots=_recorded(folder, robots) if robots else None,
                    board_snapshot=bool(entry.get("board_snapshot", True)),
                    exclude=everywhere + own,
                    read_as=entry.get("read_as"),
                )
            )
    except ExclusionError as exc:
        raise ReplayError(str(exc)) from None
    snapshots.sort(key=lambda s: s.captured_at)
    return tuple(snapshots)


def snapshot_count(replay_dir: str | Path, feed_id: str) -> int:
    return len(load_snapshots(str(replay_dir), feed_id))


class ReplayDownloadHandler:
    """Download handler that serves recordings instead of the network."""

    lazy = False

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.replay_dir = str(
            crawler.settings.get("CFS_REPLAY_DIR") or DEFAULT_REPLAY_DIR
        )
        self.served: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> ReplayDownloadHandler:
        return cls(crawler)

    async def download_request(self, request: Request) -> Response:
        spider = self.crawler.spider
        snapshots = load_snapshots(self.replay_dir, spider.name)
        index = getattr(spider, "snapshot", 0)
        if not snapshots:
            raise ReplayError(f"{spider.name}: no recordings in {self.replay_dir}")
        if not 0 <= index < len(snapshots):
            raise ReplayError(f"{spider.name}: no snapshot {index} ({len(snapshots)})")
        snap = snapshots[index]
        parsed = urlparse(request.url)
        if parsed.path.endswith("/robots.txt"):
            rec = snap.robots or RecordedResponse(
                b"", "text/plain", 404, None, "robots"
            )
        else:
            rec = self._pick(snap, request, parsed.query)
        headers = {
            "Content-Type": rec.content_type,
            "X-Cfs-Captured-At": snap.captured_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "X-Cfs-Replayed-From": rec.name,
        }
        if not snap.board_snapshot:
            headers["X-Cfs-Listing"] = "partial"
        if rec.content_encoding:
            headers["Content-Encoding"] = rec.content_encoding
        body = rec.read()
        cls = responsetypes.from_args(
            headers=headers, url=request.url, body=body[:4096]
        )
        return cls(
            url=request.url,
            status=rec.status,
            headers=headers,
            body=body,
            request=request,
        )

    def _pick(self, snap: Snapshot, request: Request, query: str) -> RecordedResponse:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        for rec in snap.responses:
            if rec.match and all(params.get(k) == v for k, v in rec.match.items()):
                return rec
        unmatched = [r for r in snap.responses if not r.match]
        key = id(snap)
        served = self.served.get(key, 0)
        self.served[key] = served + 1
        if served < len(unmatched):
            return unmatched[served]
        raise ReplayError(f"no recording answers {request.url}")

    async def close(self) -> None:
        return None
