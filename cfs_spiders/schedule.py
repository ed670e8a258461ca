"""Scheduling: which feeds are due, run locks, ``cfs watch`` and scrapyd.

A feed is *due* when its configured ``update_interval_minutes`` (60 when the config
gives none) has passed since its last successful run, as the store records it
(``feed_state.last_success_at``). A feed that keeps failing is backed off: after
``n`` failures in a row the next attempt waits ``interval * 2**(n-1)``, at most
``max_backoff`` (6 hours by default).

A *run lock* (``feed_state.lock_owner``/``lock_until``) stops two runs of one feed
overlapping, whoever starts them: ``cfs crawl --due`` from cron, ``cfs watch``, or a
scrapyd job sent by ``cfs schedule``. Taking it is one atomic ``UPDATE`` on either
store; it expires (``lock_until``) so that a killed process does not hold a feed
for ever, and a process that holds it renews it while it runs.

Entry points (all used by ``cli.py``):

- ``crawl_due``: one pass, for cron: crawl what is due, in this process.
- ``watch``: one long-running process polling every feed at its interval with
  jitter; SIGTERM (or SIGINT) finishes the runs in flight, commits, and exits.
- ``schedule_scrapyd``: send what is due to scrapyd nodes (``schedule.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import signal
import socket
import sys
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlencode, urljoin, urlparse
from urllib.request import Request, urlopen

from .config import PROJECT_ROOT, FeedConfig
from .normalize.time import iso_utc
from .store import Store, open_store

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_MINUTES = 60.0
# cron fires on the minute, a run finishes some seconds after it started: a feed
# this close to due is due, or a 5-minute feed would be crawled every 6 minutes.
GRACE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
LOCK_TTL = timedelta(minutes=30)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def interval(cfg: FeedConfig) -> timedelta:
    minutes = cfg.get("update_interval_minutes") or DEFAULT_INTERVAL_MINUTES
    return timedelta(minutes=float(minutes))


def backoff(
    cfg: FeedConfig, failures: int, max_backoff: timedelta = MAX_BACKOFF
) -> timedelta:
    """Wait before the next attempt after ``failures`` failed runs in a row."""
    if failures <= 0:
        return interval(cfg)
    return min(
        interval(cfg) * (2 ** min(failures - 1, 20)), max(max_backoff, interval(cfg))
    )


def due_at(
    cfg: FeedConfig, state: dict[str, Any] | None, max_backoff: timedelta = MAX_BACKOFF
) -> datetime | None:
    """When the feed is next due; None when it has never run (due now)."""
    state = state or {}
    last_ok = _time(state.get("last_success_at"))
    due = last_ok + interval(cfg) if last_ok else None
    failures = int(state.get("consecutive_failures") or 0)
    attempt = _time(state.get("last_attempt_at"))
    if failures and attempt:
        retry = attempt + backoff(cfg, failures, max_backoff)
        due = max(due, retry) if due else retry
    return due


def locked(
    state: dict[str, Any] | None, now: datetime, owner: str | None = None
) -> bool:
    state = state or {}
    until = _time(state.get("lock_until"))
    return (
        bool(state.get("lock_owner"))
        and state.get("lock_owner") != owner
        and (until is None or until >= now)
    )


def due_feeds(
    configs: Iterable[FeedConfig],
    store: Store,
    now: datetime | None = None,
    *,
    grace: timedelta = GRACE,
    max_backoff: timedelta = MAX_BACKOFF,
) -> list[FeedConfig]:
    """The feeds due at ``now`` and not locked by a run in progress."""
    now = now or now_utc()
    states = store.feed_states()
    out = []
    for cfg in configs:
        if not cfg.has_feed:
            continue
        state = states.get(cfg.feed_id)
        when = due_at(cfg, state, max_backoff)
        if (when is None or when <= now + grace) and not locked(state, now):
            out.append(cfg)
    return sorted(out, key=lambda c: c.feed_id)


def still_due(
    cfg: FeedConfig,
    store: Store,
    now: datetime | None = None,
    *,
    grace: timedelta = GRACE,
    max_backoff: timedelta = MAX_BACKOFF,
) -> bool:
    """Due by the state read *after* taking the lock: another process may have run
    the feed between the look at the store and the lock."""
    when = due_at(cfg, store.feed_state(cfg.feed_id), max_backoff)
    return when is None or when <= (now or now_utc()) + grace


def new_owner(kind: str = "cfs") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunLocks:
    """Run locks held by this process, renewed by a thread while it works."""

    def __init__(
        self,
        database_url: str | None,
        ttl: timedelta = LOCK_TTL,
        owner: str | None = None,
    ) -> None:
        self.store = open_store(database_url)
        self.ttl = ttl
        self.owner = owner or new_owner()
        self.held: set[str] = set()
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, feed_id: str) -> bool:
        now = now_utc()
        with self._mutex:
            ok = self.store.acquire_lock(
                feed_id, self.owner, iso_utc(now + self.ttl), iso_utc(now)
            )
            if ok:
                self.held.add(feed_id)
        return ok

    def release(self, feed_id: str) -> None:
        with self._mutex:
            if feed_id in self.held:
                self.store.release_lock(feed_id, self.owner)
                self.held.discard(feed_id)

    def _renew(self) -> None:
        period = max(self.ttl.total_seconds() / 3, 1.0)
        while not self._stop.wait(period):
            with self._mutex:
                until = iso_utc(now_utc() + self.ttl)
                for feed_id in sorted(self.held):
                    try:
                        if not self.store.renew_lock(feed_id, self.owner, until):
                            log.warning(
                                "%s: run lock lost (expired and taken)", feed_id
                            )
                    except Exception:  # a store hiccup must not kill the renewer
                        log.exception("%s: could not renew the run lock", feed_id)

    def __enter__(self) -> RunLocks:
        self._thread = threading.Thread(
            target=self._renew, name="cfs-lock-renew", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for feed_id in sorted(self.held):
            try:
                self.release(feed_id)
            except Exception:
                log.exception("%s: could not release the run lock", feed_id)
        self.store.close()


# --------------------------------------------------------------------- cron
def crawl_due(
    configs: list[FeedConfig],
    *,
    database_url: str | None = None,
    lock_ttl: timedelta = LOCK_TTL,
    max_backoff: timedelta = MAX_BACKOFF,
    **crawl_kwargs: Any,
) -> tuple[list[FeedConfig], Any]:
    """Crawl, in this process, the feeds that are due and not locked; one pass.

    Returns (feeds crawled, ``runner.CrawlResult`` or None when nothing was due).
    """
    from .runner import crawl

    with RunLocks(database_url, lock_ttl) as locks:
        locks.store.register_feeds(configs)
        due = due_feeds(configs, locks.store, max_backoff=max_backoff)
        chosen = []
        for cfg in due:
            if locks.acquire(cfg.feed_id):
                if still_due(cfg, locks.store, max_backoff=max_backoff):
                    chosen.append(cfg)
                else:
                    locks.release(cfg.feed_id)
        if not chosen:
            return [], None
        log.info("due: %s", ", ".join(c.feed_id for c in chosen))
        crawl_kwargs.setdefault("incremental", True)
        result = crawl(chosen, database_url=database_url, **crawl_kwargs)
    return chosen, result


# -------------------------------------------------------------------- watch
@dataclass
class WatchOptions:
    jitter: float = 0.1
    max_backoff: timedelta = MAX_BACKOFF
    lock_ttl: timedelta = LOCK_TTL
    # the longest sleep between looks at the store (locks held elsewhere expire,
    # another process may have run a feed)
    tick: float = 30.0


def _summary(report: dict[str, Any], next_in: timedelta) -> str:
    text = (
        f"{report.get('feed_id')}: {report.get('status')}"
        f"{' (not modified)' if report.get('not_modified') else ''}, "
        f"{report.get('records', 0)} records, {report.get('new_calls', 0)} new calls, "
        f"{report.get('new_observations', 0)} new observations, "
        f"{report.get('disappeared_calls', 0)} left the listing, "
        f"{report.get('duration_s', 0)} s; next poll in {int(next_in.total_seconds())} s"
    )
    errors = report.get("errors") or []
    return text + (f" [{'; '.join(errors[:2])[:200]}]" if errors else "")


def watch(
    configs: list[FeedConfig],
    *,
    database_url: str | None = None,
    options: WatchOptions | None = None,
    rng: Callable[[], float] = random.random,
    echo: Callable[[str], None] | None = None,
    **settings_kwargs: Any,
) -> int:
    """Poll every feed at its interval until SIGTERM/SIGINT; returns 0.

    All crawls run in this process's one Twisted reactor. Feeds on one host take
    turns; a feed that fails is backed off; each run is logged in one line. On
    SIGTERM no new run starts, the runs in flight finish and commit (their store
    pipelines close normally), the locks are released and the process exits. A
    second signal stops the runs in flight too (they are recorded as incomplete,
    so no call is marked gone). ``echo`` receives the one-line summaries (default:
    the log).
    """
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    from .runner import _host, build_settings
    from .spiderloader import spider_class

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    opts = options or WatchOptions()
    settings_kwargs.setdefault("incremental", True)
    settings = build_settings(database_url=database_url, **settings_kwargs)
    configure_logging(settings, install_root_handler=True)
    runner = AsyncCrawlerRunner(settings)
    feeds = {c.feed_id: c for c in configs if c.has_feed}
    host_locks: dict[str, asyncio.Lock] = {}
    running: dict[str, asyncio.Task[None]] = {}
    crawlers: dict[str, Any] = {}
    next_at: dict[str, datetime] = {}
    stopping = asyncio.Event()
    wake = asyncio.Event()  # a run finished or a signal came: look again
    signals_seen = 0

    def now() -> datetime:
        return datetime.now(UTC)

    def say(level: int, text: str) -> None:
        if echo is not None:
            echo(text)
        else:
            log.log(level, "%s", text)

    def jittered(span: timedelta) -> timedelta:
        return span * (1 + opts.jitter * (2 * rng() - 1))

    async def run_one(cfg: FeedConfig, locks: RunLocks) -> None:
        lock = host_locks.setdefault(_host(cfg), asyncio.Lock())
        report: dict[str, Any]
        try:
            async with lock:
                if stopping.is_set():
                    next_at[cfg.feed_id] = now()
                    return
                crawler = runner.create_crawler(spider_class(cfg))
                crawlers[cfg.feed_id] = crawler
                try:
                    await runner.crawl(crawler)
                    report = getattr(crawler.spider, "report", None) or {
                        "feed_id": cfg.feed_id,
                        "status": "failed",
                        "errors": ["run ended without a report"],
                    }
                except Exception as exc:  # one feed never stops the others
                    log.exception("%s: crawl crashed", cfg.feed_id)
                    report = {
                        "feed_id": cfg.feed_id,
                        "status": "failed",
                        "errors": [f"{type(exc).__name__}: {exc}"],
                    }
                finally:
                    crawlers.pop(cfg.feed_id, None)
            state = locks.store.feed_state(cfg.feed_id)
            failures = int(state.get("consecutive_failures") or 0)
            if report.get("status") == "failed" and not failures:
                failures = 1  # crashed before the pipeline could record it
            wait = jittered(backoff(cfg, failures, opts.max_backoff))
            next_at[cfg.feed_id] = now() + wait
            level = logging.INFO if report.get("status") == "ok" else logging.WARNING
            say(level, "watch: " + _summary(report, wait))
        finally:
            locks.release(cfg.feed_id)
            running.pop(cfg.feed_id, None)
            wake.set()

    async def main() -> None:
        nonlocal signals_seen
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            nonlocal signals_seen
            signals_seen += 1
            if signals_seen == 1:
                say(
                    logging.INFO,
                    f"watch: {signal.Signals(signum).name}: finishing "
                    f"{len(running)} run(s) in flight, then exiting",
                )
                stopping.set()
                wake.set()
            else:
                say(logging.WARNING, "watch: stopping the runs in flight")
                for crawler in list(crawlers.values()):
                    crawler.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        with RunLocks(database_url, opts.lock_ttl) as locks:
            locks.store.register_feeds(feeds.values())
            states = locks.store.feed_states()
            start = now()
            for feed_id, cfg in feeds.items():
                when = due_at(cfg, states.get(feed_id), opts.max_backoff)
                # spread the first polls a little, so they do not all start at once
                first = start + timedelta(
                    seconds=rng()
                    * min(interval(cfg).total_seconds() * opts.jitter, 30.0)
                )
                next_at[feed_id] = max(when, first) if when else first
            say(logging.INFO, f"watch: polling {len(feeds)} feed(s); SIGTERM to stop")
            while not stopping.is_set():
                wake.clear()
                at = now()
                for feed_id, cfg in sorted(feeds.items()):
                    if feed_id in running or next_at[feed_id] > at:
                        continue
                    if not locks.acquire(feed_id):
                        # another process is running it: look again later
                        next_at[feed_id] = at + min(
                            interval(cfg), timedelta(seconds=opts.tick)
                        )
                        continue
                    when = due_at(
                        cfg, locks.store.feed_state(feed_id), opts.max_backoff
                    )
                    slack = interval(cfg) * opts.jitter + timedelta(seconds=1)
                    if when is not None and when > at + slack:
                        # another process ran it meanwhile: its next turn is later
                        locks.release(feed_id)
                        next_at[feed_id] = when
                        continue
                    running[feed_id] = asyncio.ensure_future(run_one(cfg, locks))
                idle = [t for f, t in next_at.items() if f not in running]
                sleep = min([(t - now()).total_seconds() for t in idle] + [opts.tick])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=max(sleep, 0.05))
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        say(logging.INFO, "watch: stopped")

    d = deferred_from_coro(main())
    failure: list[Any] = []

    def fail(f: Any) -> None:
        failure.append(f)
        log.error("watch failed: %s", f.getTraceback())

    d.addErrback(fail)
    d.addBoth(lambda _: reactor.stop())
    reactor.run(installSignalHandlers=False)
    return 1 if failure else 0


# ------------------------------------------------------------------ scrapyd
class ScrapydError(RuntimeError):
    pass


def _scrapyd(
    url: str,
    endpoint: str,
    data: list[tuple[str, str]] | None = None,
    timeout: float = 30.0,
    auth: str | None = None,
) -> dict[str, Any]:
    """Call one scrapyd JSON endpoint (GET, or POST with form ``data``)."""
    target = urljoin(url.rstrip("/") + "/", endpoint)
    body = urlencode(data).encode("ascii") if data is not None else None
    req = Request(target, data=body)
    if auth:
        import base64

        req.add_header(
            "Authorization", "Basic " + base64.b64encode(auth.encode()).decode("ascii")
        )
    try:
        with urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read().decode("utf-8"))
    except (URLError, OSError, ValueError) as exc:
        raise ScrapydError(f"{target}: {exc}") from None
    if answer.get("status") != "ok":
        raise ScrapydError(f"{target}: {answer.get('message') or answer}")
    return answer


def _auth(url: str) -> tuple[str, str | None]:
    """``http://user:pass@host:6800`` -> (URL without credentials, "user:pass")."""
    parsed = urlparse(url)
    if parsed.username is None:
        return url, None
    netloc = parsed.hostname or ""
    if parsed.port:
        netloc += f":{parsed.port}"
    return parsed._replace(
        netloc=netloc
    ).geturl(), f"{parsed.username}:{parsed.password or ''}"


def node_load(url: str) -> int:
    base, auth = _auth(url)
    status = _scrapyd(base, "daemonstatus.json", timeout=10, auth=auth)
    return int(status.get("pending", 0)) + int(status.get("running", 0))


def build_egg(target: Path, *, version: str | None = None) -> Path:
    """An egg of the project for scrapyd's ``addversion.json``: the package (with
    its schemas and crosswalks), the feed configs (``city_configs/``) and the
    ``scrapy`` entry point naming the settings module."""
    from . import __version__

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    package = PROJECT_ROOT / "cfs_spiders"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as egg:
        egg.writestr(
            "EGG-INFO/PKG-INFO",
            f"Metadata-Version: 2.1\nName: cfs\nVersion: {version or __version__}\n",
        )
        egg.writestr(
            "EGG-INFO/entry_points.txt", "[scrapy]\nsettings = cfs_spiders.settings\n"
        )
        egg.writestr("EGG-INFO/top_level.txt", "cfs_spiders\n")
        for path in sorted(package.rglob("*")):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and (path.suffix not in (".pyc", ".pyo"))
            ):
                egg.write(path, path.relative_to(PROJECT_ROOT).as_posix())
        for path in sorted((PROJECT_ROOT / "city_configs").glob("*.yaml")):
            egg.write(path, path.relative_to(PROJECT_ROOT).as_posix())
    return target


def deploy(
    url: str, egg: Path, *, project: str = "cfs", version: str | None = None
) -> dict[str, Any]:
    """Upload an egg to one scrapyd node (``addversion.json``)."""

    base, auth = _auth(url)
    version = version or now_utc().strftime("%Y%m%dT%H%M%S")
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (("project", project), ("version", version)):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
            f"\r\n\r\n{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; '
        f'filename="{project}.egg"\r\nContent-Type: application/octet-stream'
        "\r\n\r\n".encode()
        + Path(egg).read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    req = Request(
        urljoin(base.rstrip("/") + "/", "addversion.json"), data=b"".join(parts)
    )
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    if auth:
        import base64

        req.add_header(
            "Authorization", "Basic " + base64.b64encode(auth.encode()).decode("ascii")
        )
    try:
        with urlopen(req, timeout=60) as resp:
            answer = json.loads(resp.read().decode("utf-8"))
    except (URLError, OSError, ValueError) as exc:
        raise ScrapydError(f"{base}: {exc}") from None
    if answer.get("status") != "ok":
        raise ScrapydError(f"{base}: {answer.get('message') or answer}")
    return answer


def deploy_targets(
    names: list[str], project: str | None = None
) -> list[tuple[str, str]]:
    """(URL, project) for each name: a URL, or a ``[deploy:NAME]`` target of
    ``scrapy.cfg`` (``[deploy]`` for ``default``; no name: the first target)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(PROJECT_ROOT / "scrapy.cfg")
    if not names:  # the first target of scrapy.cfg
        sections = [
            s for s in cfg.sections() if s == "deploy" or s.startswith("deploy:")
        ]
        if not sections:
            raise ScrapydError("no deploy target in scrapy.cfg: name a scrapyd URL")
        names = [sections[0].partition(":")[2] or "default"]
    out = []
    for name in names:
        if "://" in name:
            out.append((name, project or "cfs"))
            continue
        section = "deploy" if name == "default" else f"deploy:{name}"
        if not cfg.has_section(section):
            raise ScrapydError(f"no [{section}] target in scrapy.cfg")
        out.append(
            (
                cfg.get(section, "url"),
                project or cfg.get(section, "project", fallback="cfs"),
            )
        )
    return out


@dataclass
class Job:
    feed_id: str
    node: str
    jobid: str
    snapshot: int | None = None
    lock_owner: str | None = None


def schedule_scrapyd(
    nodes: list[str],
    configs: list[FeedConfig],
    *,
    project: str = "cfs",
    database_url: str | None = None,
    replay_dir: Path | None = None,
    settings: dict[str, str] | None = None,
    lock_ttl: timedelta = LOCK_TTL,
    max_backoff: timedelta = MAX_BACKOFF,
    incremental: bool = True,
    snapshots: str | None = None,
) -> list[Job]:
    """Send feeds to scrapyd nodes through ``schedule.json``.

    Live: the feeds that are due; each gets a run lock (owner named in the job's
    ``lock_owner`` argument, which the job's store pipeline releases when the run
    is recorded; it expires after ``lock_ttl`` if the job never runs), and goes to
    the least-loaded node that answers. Replay (``replay_dir``): every recorded
    snapshot of every named feed, one job each (``snapshot=N``), spread over the
    nodes in turn (``snapshots``: only those, e.g. ``"0-3,7"``; a negative number
    counts from the end); the nodes must run with ``CFS_REPLAY_DIR`` set. Every node
    writes to the store its environment names (``CFS_DATABASE_URL``), which must be
    the one ``database_url`` names for the due/lock bookkeeping to mean anything.
    """
    if not nodes:
        raise ScrapydError("no scrapyd node given")
    extra = [("setting", f"{k}={v}") for k, v in sorted((settings or {}).items())]
    jobs: list[Job] = []

    def send(node: str, feed_id: str, args: dict[str, str]) -> str:
        base, auth = _auth(node)
        data = [
            ("project", project),
            ("spider", feed_id),
            *extra,
            *sorted(args.items()),
        ]
        return str(_scrapyd(base, "schedule.json", data, auth=auth)["jobid"])

    if replay_dir is not None:
        from .replay import snapshot_count

        turn = 0
        for cfg in configs:
            for k in snapshot_indexes(
                snapshots, snapshot_count(replay_dir, cfg.feed_id)
            ):
                node = nodes[turn % len(nodes)]
                turn += 1
                jobs.append(
                    Job(
                        cfg.feed_id,
                        node,
                        send(node, cfg.feed_id, {"snapshot": str(k)}),
                        k,
                    )
                )
        return jobs

    store = open_store(database_url)
    try:
        store.register_feeds(configs)
        if incremental:
            extra.append(("setting", "CFS_INCREMENTAL=True"))
        due = due_feeds(configs, store, max_backoff=max_backoff)
        load: dict[str, int] = {}
        for node in nodes:
            try:
                load[node] = node_load(node)
            except ScrapydError as exc:
                log.warning("scrapyd node %s does not answer: %s", node, exc)
        if not load:
            raise ScrapydError("no scrapyd node answers: " + ", ".join(nodes))
        for cfg in due:
            owner = new_owner("scrapyd")
            now = now_utc()
            if not store.acquire_lock(
                cfg.feed_id, owner, iso_utc(now + lock_ttl), iso_utc(now)
            ):
                continue
            if not still_due(cfg, store, now, max_backoff=max_backoff):
                store.release_lock(cfg.feed_id, owner)
                continue
            for node in sorted(load, key=lambda n: (load[n], nodes.index(n))):
                try:
                    jobid = send(node, cfg.feed_id, {"lock_owner": owner})
                except ScrapydError as exc:
                    log.warning("%s: %s", cfg.feed_id, exc)
                    continue
                load[node] += 1
                jobs.append(Job(cfg.feed_id, node, jobid, None, owner))
                break
            else:
                store.release_lock(cfg.feed_id, owner)
    finally:
        store.close()
    return jobs


def snapshot_indexes(spec: str | None, count: int) -> list[int]:
    """``"0-3,7,-1"`` -> [0, 1, 2, 3, 7, count - 1] (those in range, no repeats)."""
    if not spec:
        return list(range(count))
    chosen: list[int] = []
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(?:(-?\d+)|(\d+)-(\d+))\s*", part)
        if not m:
            raise ScrapydError(f"bad snapshot list {spec!r}: use e.g. 0-3,7,-1")
        if m.group(1) is not None:
            k = int(m.group(1))
            span = [k + count if k < 0 else k]
        else:
            span = list(range(int(m.group(2)), int(m.group(3)) + 1))
        chosen.extend(k for k in span if 0 <= k < count and k not in chosen)
    return chosen


def wait_for_jobs(
    nodes: Iterable[str],
    jobids: set[str],
    *,
    project: str = "cfs",
    timeout: float = 300.0,
    poll: float = 0.5,
) -> dict[str, Any]:
    """Wait until every job has finished on its node; returns the finished entries."""
    import time

    deadline = time.monotonic() + timeout
    done: dict[str, Any] = {}
    while True:
        for node in nodes:
            base, auth = _auth(node)
            answer = _scrapyd(base, f"listjobs.json?project={project}", auth=auth)
            for job in answer.get("finished", []):
                if job["id"] in jobids:
                    done[job["id"]] = job
        if set(done) >= jobids:
            return done
        if time.monotonic() > deadline:
            raise ScrapydError(
                f"jobs not finished after {timeout} s: {sorted(jobids - set(done))}"
            )
        time.sleep(poll)


def print_jobs(jobs: list[Job]) -> None:
    for job in jobs:
        where = f" snapshot {job.snapshot}" if job.snapshot is not None else ""
        print(f"{job.feed_id}{where} -> {job.node} job {job.jobid}", file=sys.stderr)
