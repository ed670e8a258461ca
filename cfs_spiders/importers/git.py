"""Recover a live feed's past from a git scraper's history (``cfs import-git``).

A git scraper commits what a feed served every few minutes. Each commit that changed
the file is one snapshot, fetched at the commit time. The import reads each
snapshot with the parts a replayed run takes: the feed's spider (as the replay
download handler would hand it the committed bytes, dated with the commit time),
validation, the store writer and the run rules. So first/last seen,
disappearances and observations are what scheduled runs would have stored at
those times.

- ``--path`` may be repeated (a file renamed over time). Each commit gives one
  snapshot: the file at the first given path that the commit changed and that
  exists after it. A commit that only deletes the file gives none.
- ``--feed`` may be repeated as ``FEED_ID@SINCE..UNTIL`` (either end may be left
  open; SINCE inclusive, UNTIL exclusive). Each commit goes to the feed whose range
  holds its time, so a file that changed format over time goes to the right parser.
- The history followed is the first-parent history of ``--rev`` (default ``HEAD``),
  processed oldest first.
- Resumable and idempotent: every (repository, feed, commit) is recorded in the
  store's ``imports`` table, and each snapshot's run has a run id derived from the
  commit (``<feed_id>-git-<sha12>``). A commit already done is skipped. If an
  import is interrupted, the next one first marks done each commit whose run row
  was written, then resumes with the oldest commit not done. Work is done in chunks
  (``--chunk``, 200 snapshots by default). An interruption loses at most the
  snapshot in progress, and re-running that snapshot changes nothing it already
  wrote.
- Two engines give the same store (``engines.py``). ``direct`` (the default)
  reads each snapshot in this process with those parts (``snapshots.py``),
  without a Scrapy crawl per commit. ``crawl`` writes each chunk as a replay
  folder and replays it through Scrapy in a child process: the reference the
  tests compare ``direct`` with.
- A store file the import creates gets 2 KiB pages (``IMPORT_PAGE_SIZE``): a
  history of a few dozen commits is small, and SQLite gives each of the store's
  ~25 tables and indexes one page at least (a call's row, ~500 bytes with
  integer keys, still fits a 2 KiB page several times).

Limit: a git scraper commits only when the file changed. A call's ``last_seen`` is
therefore the last commit that showed it, not the last time a scheduled run would
have seen it unchanged. ``disappeared_at`` (the first commit without it) is exact.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config.loader import get_config, validate_feed_id
from ..normalize.time import parse_iso
from ..store.base import FEED_KEY, feed_key_of
from .engines import Stop, read_chunk, reader, run_chunk
from .git_repo import DEFAULT_CHUNK, Commit, ImportGitError, Repo

ENGINES = ("direct", "crawl")
# The page size of a SQLite store the import creates (a store that exists keeps
# its own). At 16 KiB, the default of a crawl's store (bulk writes are faster),
# a 52-commit import was 655 KB, 400 KB of it one page per table and index; at
# 2 KiB, with the integer feed and run keys of schema 4, it is below 2x git-history.
IMPORT_PAGE_SIZE = 2048
FINAL_STATUSES = ("ok", "degraded", "failed", "no_run", "no_file")
# A commit whose crawl wrote no run (killed, out of memory, the store away) failed
# for a passing reason: tried again by every import. A failed run is tried again
# with ``retry_failed`` (``cfs import-git --retry-failed``).
TRANSIENT_STATUSES = ("no_run",)


# ------------------------------------------------------------------ arguments
def parse_when(text: str, *, what: str = "date") -> datetime:
    """ISO 8601 date or date-time; a date means 00:00 UTC, a time without an offset
    is UTC."""
    try:
        return parse_iso(text.strip(), naive_zone="UTC")
    except ValueError:
        raise ImportGitError(
            f"{what} {text!r}: expected ISO 8601, e.g. 2023-10-26 or "
            "2023-10-26T20:36:56Z"
        ) from None


@dataclass(frozen=True)
class FeedRange:
    """A feed and the commit times it applies to: [since, until)."""

    feed_id: str
    since: datetime | None = None
    until: datetime | None = None

    def covers(self, when: datetime) -> bool:
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )

    def __str__(self) -> str:
        if self.since is None and self.until is None:
            return self.feed_id
        a = _iso(self.since) if self.since else ""
        b = _iso(self.until) if self.until else ""
        return f"{self.feed_id}@{a}..{b}"


def parse_feed_spec(text: str) -> FeedRange:
    """``FEED_ID`` or ``FEED_ID@SINCE..UNTIL`` (either end may be empty)."""
    feed_id, _, span = text.partition("@")
    validate_feed_id(feed_id)
    if not span:
        return FeedRange(feed_id)
    if ".." not in span:
        raise ImportGitError(f"--feed {text!r}: expected FEED_ID@SINCE..UNTIL")
    since, _, until = span.partition("..")
    rng = FeedRange(
        feed_id,
        parse_when(since, what="since") if since else None,
        parse_when(until, what="until") if until else None,
    )
    if rng.since and rng.until and rng.since >= rng.until:
        raise ImportGitError(f"--feed {text!r}: SINCE is not before UNTIL")
    return rng


def check_ranges(ranges: list[FeedRange]) -> None:
    """No two feeds may claim the same moment: each commit has one parser."""
    if not ranges:
        raise ImportGitError("name the feed to import into (--feed FEED_ID)")
    lo = datetime.min.replace(tzinfo=UTC)
    hi = datetime.max.replace(tzinfo=UTC)
    spans = sorted(
        ((r.since or lo, r.until or hi, r) for r in ranges), key=lambda s: s[0]
    )
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ImportGitError(
                f"--feed {a} and --feed {b} overlap: say which feed applies when "
                "(FEED_ID@SINCE..UNTIL, UNTIL exclusive)"
            )


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_id_for(feed_id: str, sha: str) -> str:
    return f"{feed_id}-git-{sha[:12]}"


# --------------------------------------------------------------------- import
@dataclass
class Planned:
    commit: Commit
    feed_id: str

    @property
    def run_id(self) -> str:
        return run_id_for(self.feed_id, self.commit.sha)


@dataclass
class ImportSummary:
    repo: str
    selected: int = 0  # commits in range with a feed
    already_done: int = 0
    done: int = 0  # commits done by this import (snapshots run or skipped)
    snapshots: int = 0  # snapshots run by this import
    failed: int = 0
    records: int = 0
    new_calls: int = 0
    closed_calls: int = 0
    calls_stored: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


def plan(
    commits: Iterable[Commit],
    ranges: list[FeedRange],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Planned]:
    out = []
    for c in commits:
        if (since and c.at < since) or (until and c.at >= until):
            continue
        feed = next((r.feed_id for r in ranges if r.covers(c.at)), None)
        if feed is not None:
            out.append(Planned(c, feed))
    return out


def chunks(items: list[Planned], size: int) -> list[list[Planned]]:
    """Consecutive snapshots of one feed, at most ``size`` each, in time order."""
    out: list[list[Planned]] = []
    for item in items:
        if out and out[-1][0].feed_id == item.feed_id and len(out[-1]) < size:
            out[-1].append(item)
        else:
            out.append([item])
    return out


class _Imports:
    """The ``imports`` table, through the store's own connection and dialect."""

    def __init__(self, store: Any, repo: str) -> None:
        self.store = store
        self.repo = repo
        self.ph = store.placeholder

    def statuses(self, feed_ids: set[str]) -> dict[tuple[str, str], str]:
        out = {}
        for feed_id in sorted(feed_ids):
            rows = self.store.query(
                "SELECT commit_sha, status FROM imports WHERE repo = ? AND "
                f"feed_key = {FEED_KEY}",
                (self.repo, feed_id),
            )
            out.update({(feed_id, r["commit_sha"]): r["status"] for r in rows})
        return out

    def run_statuses(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(run_ids), 500):
            part = run_ids[i : i + 500]
            marks = ", ".join("?" * len(part))
            for r in self.store.query(
                "SELECT run_id, status, records, new_calls, closed_calls FROM runs "
                # a run's row is made when it first writes: status NULL until
                # the run is finished (as no row at all for the import)
                f"WHERE run_id IN ({marks}) AND status IS NOT NULL",
                part,
            ):
                found[r["run_id"]] = r
        return found

    def mark(self, items: list[tuple[Planned, str, str | None]]) -> None:
        ph = self.ph
        now = _iso(datetime.now(UTC))
        sql = self.store._sql(
            "INSERT INTO imports (repo, feed_key, commit_sha, path, committed_at, "
            f"status, run_key, imported_at) VALUES ({ph}, {feed_key_of(ph)}, {ph}, "
            f"{ph}, {ph}, {ph}, (SELECT run_key FROM runs WHERE run_id = {ph}), {ph}) "
            "ON CONFLICT(repo, feed_key, commit_sha) DO UPDATE SET path = "
            "excluded.path, committed_at = excluded.committed_at, status = "
            "excluded.status, run_key = excluded.run_key, imported_at = "
            "excluded.imported_at"
        )
        rows = [
            (
                self.repo,
                p.feed_id,
                p.commit.sha,
                p.commit.path or "",
                _iso(p.commit.at),
                status,
                run_id,
                now,
            )
            for p, status, run_id in items
        ]
        with self.store.transaction() as cur:
            cur.executemany(sql, rows)


def import_git(
    repo_path: str | Path,
    *,
    feeds: list[str | FeedRange],
    paths: list[str],
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    configs_directory: Path | None = None,
    database_url: str | None = None,
    output: Path | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    rev: str = "HEAD",
    time: str = "committer",
    progress: Callable[[str], None] | None = None,
    retry_failed: bool = False,
    engine: str = "direct",
) -> ImportSummary:
    """Import every committed version of ``paths`` into the store (see module doc)."""
    from ..store.connect import open_store

    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    ranges = [f if isinstance(f, FeedRange) else parse_feed_spec(f) for f in feeds]
    check_ranges(ranges)
    if not paths:
        raise ImportGitError("name the file to import (--path FILE_IN_REPO)")
    if time not in ("committer", "author"):
        raise ImportGitError(f"time {time!r}: committer or author")
    if chunk_size < 1:
        raise ImportGitError("--chunk must be at least 1")
    if engine not in ENGINES:
        raise ImportGitError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
    lo = parse_when(since, what="since") if isinstance(since, str) else since
    hi = parse_when(until, what="until") if isinstance(until, str) else until
    configs = {r.feed_id: get_config(r.feed_id, configs_directory) for r in ranges}
    for cfg in configs.values():
        if not cfg.has_feed:
            raise ImportGitError(f"{cfg.feed_id}: the config describes no feed")

    repo = Repo(repo_path)
    summary = ImportSummary(repo=str(repo.root))
    planned = plan(repo.commits(paths, rev=rev, time=time), ranges, since=lo, until=hi)
    summary.selected = len(planned)

    store = open_store(database_url, page_size=IMPORT_PAGE_SIZE)
    scratch = tempfile.TemporaryDirectory(prefix="cfs-import-git-")
    readers: dict[str, Any] = {}
    stop = Stop(engine == "direct")
    try:
        store.register_feeds(configs.values())
        table = _Imports(store, str(repo.root))
        todo = _reconcile(table, planned, summary, retry_failed=retry_failed)
        say(
            f"import-git: {summary.selected} commits of {', '.join(paths)} in range; "
            f"{summary.already_done} already imported, {len(todo)} to go"
        )
        no_file = [p for p in todo if p.commit.path is None]
        if no_file:
            table.mark([(p, "no_file", None) for p in no_file])
            summary.done += len(no_file)
        todo = [p for p in todo if p.commit.path is not None]
        total_done = summary.already_done + summary.done
        for part in chunks(todo, chunk_size):
            cfg = configs[part[0].feed_id]
            table.mark([(p, "pending", None) for p in part])
            if engine == "direct":
                if cfg.feed_id not in readers:
                    readers[cfg.feed_id] = reader(
                        cfg, store, Path(scratch.name), database_url, output
                    )
                read_chunk(repo, readers[cfg.feed_id], part, stop)
            else:
                run_chunk(
                    repo,
                    cfg,
                    part,
                    configs_directory=configs_directory,
                    database_url=database_url,
                    output=output,
                )
            runs = table.run_statuses([p.run_id for p in part])
            marks = []
            for p in part:
                run = runs.get(p.run_id)
                marks.append(
                    (p, run["status"], p.run_id) if run else (p, "no_run", None)
                )
                summary.snapshots += 1
                if not run or run["status"] == "failed":
                    summary.failed += 1
                if run:
                    summary.records += int(run["records"] or 0)
                    summary.new_calls += int(run["new_calls"] or 0)
                    summary.closed_calls += int(run["closed_calls"] or 0)
            table.mark(marks)
            summary.done += len(part)
            total_done += len(part)
            stored = store.counts().get(cfg.feed_id, 0)
            summary.calls_stored[cfg.feed_id] = stored
            say(
                f"import-git: [{total_done}/{summary.selected} commits] {cfg.feed_id} "
                f"up to {_iso(part[-1].commit.at)}: {summary.snapshots} snapshots "
                f"parsed ({summary.failed} failed), {summary.records} records, "
                f"{summary.new_calls} new calls, {summary.closed_calls} left the "
                f"listing; {stored} calls stored"
            )
        for feed_id in configs:
            summary.calls_stored[feed_id] = store.counts().get(feed_id, 0)
    except KeyboardInterrupt:
        summary.interrupted = True
        say(
            f"import-git: interrupted after {summary.done} commits; run the same "
            "command again to resume"
        )
        raise
    finally:
        stop.restore()
        store.close()
        scratch.cleanup()
    return summary


def _reconcile(
    table: _Imports,
    planned: list[Planned],
    summary: ImportSummary,
    *,
    retry_failed: bool = False,
) -> list[Planned]:
    """Commits still to do. A commit whose run was written (an interrupted import)
    is marked done here, with the run's status; a transient failure (no run) is
    always tried again, a failed run when ``retry_failed``."""
    again = set(TRANSIENT_STATUSES) | ({"failed"} if retry_failed else set())
    final = set(FINAL_STATUSES) - again
    written = {"ok", "degraded", "failed"} - again
    known = table.statuses({p.feed_id for p in planned})
    todo, recovered = [], []
    undecided = [
        p for p in planned if known.get((p.feed_id, p.commit.sha)) not in final
    ]
    runs = table.run_statuses([p.run_id for p in undecided])
    for p in planned:
        if known.get((p.feed_id, p.commit.sha)) in final:
            summary.already_done += 1
        elif p.run_id in runs and runs[p.run_id]["status"] in written:
            recovered.append((p, runs[p.run_id]["status"], p.run_id))
            summary.already_done += 1
        else:
            todo.append(p)
    if recovered:
        table.mark(recovered)
    return todo
