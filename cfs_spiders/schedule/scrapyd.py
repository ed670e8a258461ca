"""scrapyd: build and deploy the project's egg, and send due feeds to nodes.

``schedule_scrapyd`` sends what is due to scrapyd nodes (``schedule.json``), each
job holding its feed's run lock (``locks.py``) until its store pipeline records the
run.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlencode, urljoin, urlparse
from urllib.request import Request, urlopen

from ..config.loader import FeedConfig
from ..config.paths import PROJECT_ROOT
from ..normalize.time import iso_utc
from ..store.connect import open_store
from .due import MAX_BACKOFF, due_feeds, now_utc, still_due
from .locks import LOCK_TTL, new_owner

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ scrapyd
class ScrapydError(RuntimeError):
    pass


def basic_auth(credentials: str) -> str:
    """``"user:pass"`` -> the value of an HTTP Basic ``Authorization`` header."""
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


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
    return _call(Request(target, data=body), auth, timeout, target)


def _call(req: Request, auth: str | None, timeout: float, where: str) -> dict[str, Any]:
    """Send a request to scrapyd; its JSON answer, or ``ScrapydError`` naming
    ``where`` when it cannot be reached or does not answer ``ok``."""
    if auth:
        req.add_header("Authorization", basic_auth(auth))
    try:
        with urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read().decode("utf-8"))
    except (URLError, OSError, ValueError) as exc:
        raise ScrapydError(f"{where}: {exc}") from None
    if answer.get("status") != "ok":
        raise ScrapydError(f"{where}: {answer.get('message') or answer}")
    return answer


CREDENTIALS_ENV = "CFS_SCRAPYD_CREDENTIALS"
NETRC_ENV = "CFS_SCRAPYD_NETRC"


def _auth(url: str) -> tuple[str, str | None]:
    """A scrapyd node's URL and its ``"user:pass"`` credentials, or None.

    Credentials never travel on the command line (where ``ps`` and shell history
    show them): a URL carrying ``user:pass@`` is refused. They come from
    ``$CFS_SCRAPYD_CREDENTIALS`` (``user:pass``, every node), else from the
    netrc-style file ``$CFS_SCRAPYD_NETRC`` (default ``~/.netrc``, which
    Python's ``netrc`` refuses when others can read it), by host name.
    """
    parsed = urlparse(url)
    if parsed.username is not None or parsed.password is not None:
        raise ScrapydError(
            f"{parsed.hostname}: credentials in a scrapyd URL would be visible on "
            f"the command line; set {CREDENTIALS_ENV}=user:pass or put a "
            f"'machine {parsed.hostname} login ... password ...' line in "
            f"${NETRC_ENV} (default ~/.netrc)"
        )
    from_env = os.environ.get(CREDENTIALS_ENV)
    if from_env:
        if ":" not in from_env:
            raise ScrapydError(f"{CREDENTIALS_ENV} must read user:password")
        return url, from_env
    return url, _netrc_credentials(parsed.hostname or "")


def _netrc_credentials(host: str) -> str | None:
    """``login:password`` of ``host`` in the netrc-style file, or None."""
    import netrc

    named = os.environ.get(NETRC_ENV)
    path = Path(named).expanduser() if named else Path.home() / ".netrc"
    if not path.is_file():
        if named:
            raise ScrapydError(f"{NETRC_ENV}={named}: no such file")
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise ScrapydError(f"{path}: {exc}") from None
    if entry is None:
        return None
    login, _account, password = entry
    return f"{login}:{password or ''}"


def node_load(url: str) -> int:
    base, auth = _auth(url)
    status = _scrapyd(base, "daemonstatus.json", timeout=10, auth=auth)
    return int(status.get("pending", 0)) + int(status.get("running", 0))


def build_egg(target: Path, *, version: str | None = None) -> Path:
    """An egg of the project for scrapyd's ``addversion.json``: the package (with
    its schemas and crosswalks), the feed configs (``city_configs/``) and the
    ``scrapy`` entry point naming the settings module."""
    from .. import __version__

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    package = PROJECT_ROOT / "cfs_spiders"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as egg:
        egg.writestr(
            "EGG-INFO/PKG-INFO",
            f"Metadata-Version: 2.1\nName: cfs\nVersion: {version or __version__}\n",
        )
        egg.writestr(
            "EGG-INFO/entry_points.txt",
            "[scrapy]\nsettings = cfs_spiders.ingest.settings\n",
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
    return _call(req, auth, 60, base)


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
        from ..ingest.replay import snapshot_count

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


def print_jobs(jobs: list[Job]) -> None:
    for job in jobs:
        where = f" snapshot {job.snapshot}" if job.snapshot is not None else ""
        print(f"{job.feed_id}{where} -> {job.node} job {job.jobid}", file=sys.stderr)
