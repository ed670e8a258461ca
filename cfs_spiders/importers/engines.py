"""The two engines of ``cfs import-git``: how one chunk of commits is read.

- ``read_chunk`` (``direct``, the default): each commit in this process,
  through ``snapshots.SnapshotReader`` (the crawl's own parts, no crawl).
- ``run_chunk`` (``crawl``, the reference): the chunk written as a replay folder
  laid out like ``tests/fixtures`` (``manifest.yaml``, one snapshot per commit,
  ``captured_at`` = commit time) and replayed by a Scrapy crawl in a child
  process (the Twisted reactor runs once per process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from ..config.loader import FeedConfig, get_config
from ..normalize.time import iso_utc
from .git_repo import ImportGitError, Repo

# A response's content type, from the committed file's suffix, else the platform.
_SUFFIX_TYPES = {
    ".json": "application/json",
    ".geojson": "application/json",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".html": "text/html",
    ".htm": "text/html",
}
_PLATFORM_TYPES = {
    "json": "application/json",
    "arcgis": "application/json",
    "socrata": "application/json",
    "csv": "text/csv",
    "xml": "application/xml",
    "html_table": "text/html",
}


def content_type(cfg: FeedConfig, path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIX_TYPES:
        return _SUFFIX_TYPES[suffix]
    return _PLATFORM_TYPES.get(cfg.source(True)["platform"], "application/octet-stream")


def write_replay_folder(
    folder: Path, cfg: FeedConfig, items: list[Any], contents: list[bytes]
) -> dict[int, str]:
    """A replay folder for one chunk: ``<folder>/<feed_id>/manifest.yaml`` and one
    file per commit. Returns the run id of each snapshot index."""
    feed_dir = folder / cfg.feed_id
    feed_dir.mkdir(parents=True, exist_ok=True)
    snapshots, run_ids = [], {}
    for k, (item, body) in enumerate(zip(items, contents, strict=True)):
        path = item.commit.path or ""
        name = f"{k:05d}_{item.commit.sha[:12]}{Path(path).suffix}"
        (feed_dir / name).write_bytes(body)
        snapshots.append(
            {
                "captured_at": iso_utc(item.commit.at),
                "note": f"commit {item.commit.sha} {path}",
                "responses": [{"file": name, "content_type": content_type(cfg, path)}],
            }
        )
        run_ids[k] = item.run_id
    manifest = {"snapshots": snapshots}
    (feed_dir / "manifest.yaml").write_text(
        yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8"
    )
    return run_ids


class Stop:
    """SIGTERM while the direct engine reads: the snapshot in progress is
    finished and the import stops there (as an interrupted one, resumed by the
    same command); the crawl engine's child processes handle it themselves."""

    def __init__(self, install: bool) -> None:
        self.asked = False
        self.previous: Any = None
        self.installed = (
            install and threading.current_thread() is threading.main_thread()
        )
        if self.installed:
            self.previous = signal.signal(signal.SIGTERM, self._ask)

    def _ask(self, signum: int, frame: Any) -> None:
        self.asked = True

    def restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGTERM, self.previous)
            self.installed = False


def reader(
    cfg: FeedConfig,
    store: Any,
    scratch: Path,
    database_url: str | None,
    output: Path | None,
) -> Any:
    """The in-process reader of a feed's snapshots, with the crawl's settings
    (a replay folder without manifests: a commit has no exclusions)."""
    from ..schedule.orchestrator import build_settings
    from .snapshots import SnapshotReader

    settings = build_settings(
        replay_dir=scratch / "replay",
        database_url=database_url,
        output=output,
        jsonl=False,
    )
    return SnapshotReader(cfg, store, settings)


def read_chunk(repo: Repo, reader: Any, part: list[Any], stop: Stop) -> None:
    """Read one chunk of commits in this process (``snapshots.SnapshotReader``);
    after a SIGTERM, stop before the next commit."""
    contents = repo.blobs([p.commit.blob or "" for p in part])
    for k, (item, body) in enumerate(zip(part, contents, strict=True)):
        if stop.asked:
            raise KeyboardInterrupt
        path = item.commit.path or ""
        reader.read(
            run_id=item.run_id,
            captured_at=item.commit.at,
            body=body,
            content_type=content_type(reader.cfg, path),
            name=f"commit {item.commit.sha} {path}",
        )
        contents[k] = b""  # let each snapshot's bytes go once read


def run_chunk(
    repo: Repo,
    cfg: FeedConfig,
    part: list[Any],
    *,
    configs_directory: Path | None,
    database_url: str | None,
    output: Path | None,
) -> None:
    """Replay one chunk of commits through the runner, in a process of its own."""
    contents = repo.blobs([p.commit.blob or "" for p in part])
    with tempfile.TemporaryDirectory(prefix="cfs-import-git-") as tmp:
        folder = Path(tmp) / "replay"
        run_ids = write_replay_folder(folder, cfg, part, contents)
        spec = {
            "feed_id": cfg.feed_id,
            "configs": str(configs_directory) if configs_directory else None,
            "replay_dir": str(folder),
            "run_ids": run_ids,
            "database_url": database_url,
            "output": str(output) if output else None,
        }
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cfs_spiders.importers.engines",
                "--worker",
                str(spec_path),
            ],
            check=False,
        )
    if done.returncode != 0:
        raise ImportGitError(
            f"{cfg.feed_id}: the replay of commits {part[0].commit.sha[:12]}.."
            f"{part[-1].commit.sha[:12]} ended with exit code {done.returncode}; "
            "what was stored stays, run the same command again to resume"
        )


def _worker(spec_path: str) -> int:
    """Run one chunk: a replay crawl of the chunk's snapshots, with their run ids."""
    from ..schedule.orchestrator import crawl

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    configs = Path(spec["configs"]) if spec["configs"] else None
    cfg = get_config(spec["feed_id"], configs)
    overrides = {} if os.environ.get("CFS_LOG_LEVEL") else {"LOG_LEVEL": "WARNING"}
    crawl(
        [cfg],
        replay_dir=Path(spec["replay_dir"]),
        run_ids={int(k): v for k, v in spec["run_ids"].items()},
        progress=False,
        database_url=spec["database_url"],
        output=Path(spec["output"]) if spec["output"] else None,
        jsonl=False,
        overrides=overrides,
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        raise SystemExit(_worker(sys.argv[2]))
    raise SystemExit("usage: cfs import-git (see `cfs import-git --help`)")
