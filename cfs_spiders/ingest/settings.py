"""Scrapy settings: a polite, identifiable crawler by default."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from scrapy.settings import default_settings as _scrapy_defaults

from .. import __version__


def private_egg_dir() -> Path:
    """The owner-only folder deployed eggs are extracted into.

    ``$CFS_EGG_DIR``, else ``cfs-eggs-<uid>`` in the temp folder: created mode
    0700, and refused unless it is a real folder (no symlink) owned by this user
    that nobody else may read or write. In a shared temp folder another local
    user could otherwise create the folder first and put code in it that every
    scrapyd job would import.
    """
    import stat
    import tempfile

    named = os.environ.get("CFS_EGG_DIR")
    base = (
        Path(named)
        if named
        else Path(tempfile.gettempdir()) / (f"cfs-eggs-{os.getuid()}")
    )
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700, parents=bool(named))
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeError(f"egg folder {base} is not a folder (a symlink?): refused")
    if info.st_uid != os.getuid():
        raise RuntimeError(
            f"egg folder {base} belongs to uid {info.st_uid}, not to this user "
            f"({os.getuid()}): refused"
        )
    if info.st_mode & 0o077:
        raise RuntimeError(
            f"egg folder {base} has mode {stat.S_IMODE(info.st_mode):o}: others may "
            "reach it; refused (chmod 700 it, or set CFS_EGG_DIR)"
        )
    return base


def _run_from_extracted_egg() -> None:
    """scrapyd runs a deployed project from its zipped egg, but the package reads
    files that sit beside its modules (schemas, crosswalks, ``city_configs/``):
    extract the egg once (a folder per egg content) and load the rest of the
    package from there. Nothing happens when the package is a folder."""
    import hashlib
    import shutil
    import sys
    import tempfile
    import zipfile
    from pathlib import Path

    top = __package__.partition(".")[0]
    package = sys.modules[top]
    egg = Path(package.__file__ or "").parent
    if egg.is_dir():
        return
    while not egg.is_file():
        if egg.parent == egg:
            return
        egg = egg.parent
    digest = hashlib.sha256(egg.read_bytes()).hexdigest()[:16]
    base = private_egg_dir()
    root = base / f"cfs-egg-{digest}"
    if not (root / "cfs_spiders").is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=root.name + ".", dir=base))
        with zipfile.ZipFile(egg) as archive:
            archive.extractall(tmp)
        try:
            os.rename(tmp, root)
        except OSError:  # a job started at the same moment extracted it first
            shutil.rmtree(tmp, ignore_errors=True)
    # the packages already imported (this one's parents) load the rest from there
    for name, module in list(sys.modules.items()):
        if (name == top or name.startswith(top + ".")) and hasattr(module, "__path__"):
            module.__path__[:] = [str(root.joinpath(*name.split(".")))]


_run_from_extracted_egg()


def _env_number(name: str, default: float, kind: type = float) -> float:
    """A numeric setting from the environment (tests shorten waits with these);
    the defaults are the polite ones."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
    if number < 0:
        raise ValueError(f"{name}={value!r} must not be negative")
    return number


BOT_NAME = "cfs"
SPIDER_LOADER_CLASS = "cfs_spiders.ingest.spiderloader.FeedSpiderLoader"
SPIDER_MODULES: list[str] = []

CONTACT_URL = os.environ.get("CFS_CONTACT", "https://github.com/cfs-civic/cfs")
USER_AGENT = f"cfs/{__version__} (calls-for-service comparison; +{CONTACT_URL})"
ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False  # only feeds that need them (ASP.NET cookie checks) turn it on
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1  # one request at a time per host

DOWNLOAD_DELAY = _env_number("CFS_DOWNLOAD_DELAY", 1.0)
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = _env_number("CFS_AUTOTHROTTLE_START_DELAY", 1.0)
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = _env_number("CFS_DOWNLOAD_TIMEOUT", 60.0)
# A response larger than this is cancelled and the run fails (say so, not OOM).
DOWNLOAD_MAXSIZE = int(_env_number("CFS_DOWNLOAD_MAXSIZE", 256 * 1024 * 1024, int))
DOWNLOAD_WARNSIZE = min(64 * 1024 * 1024, DOWNLOAD_MAXSIZE)

RETRY_ENABLED = True
RETRY_TIMES = int(_env_number("CFS_RETRY_TIMES", 3, int))
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
# seconds; doubled per retry, capped by CFS_BACKOFF_MAX. A Retry-After longer than
# CFS_BACKOFF_MAX is not waited out: the run fails and says so.
CFS_BACKOFF_BASE = _env_number("CFS_BACKOFF_BASE", 2.0)
CFS_BACKOFF_MAX = _env_number("CFS_BACKOFF_MAX", 300.0)
# Records per store transaction (the run's calls are committed batch by batch).
CFS_STORE_BATCH = int(_env_number("CFS_STORE_BATCH", 5000, int))
# A run on SQLite that has sent more than this many records to the store writes
# its batches from then on from the store's writer process
# (cfs_spiders/store/process.py), on the second core; "off" keeps every batch on
# the writer thread. The default, one less than a batch, sends a backfill there
# from its first full batch (a batch written by the thread holds the crawl's
# interpreter lock: ~200 us a record against ~60 in the process), while a poll
# smaller than a batch stays on the thread (no process to start).
CFS_STORE_PROCESS_AFTER = os.environ.get(
    "CFS_STORE_PROCESS_AFTER", str(CFS_STORE_BATCH - 1)
)
# The writer process takes each batch as one Arrow IPC stream of its columns
# (cfs_spiders/store/arrow_batch.py); "off" sends the records' JSON texts, which
# it reads back (the reference; a batch that does not convert exactly goes so).
CFS_STORE_ARROW = os.environ.get("CFS_STORE_ARROW", "on")
# Megabytes of record text a run may have sent to the store and not yet written
# (at least one batch): bounds the memory of batches built ahead of the store.
CFS_STORE_INFLIGHT_MB = _env_number("CFS_STORE_INFLIGHT_MB", 24.0)
# A page of fewer records than this is built by the row builder (the reference:
# the same records): polars' cost per page (~11 ms) is more than building a few
# hundred rows one by one (~55 us each once the normalizers have seen the values).
CFS_COLUMNAR_MIN_ROWS = int(_env_number("CFS_COLUMNAR_MIN_ROWS", 200, int))
# Store writes go to the process's writer thread of the store
# (cfs_spiders/store/thread.py), off the reactor: "thread"; "off" writes on the
# reactor's thread (the reference the tests compare against).
CFS_STORE_WRITER = os.environ.get("CFS_STORE_WRITER", "thread")
# A response's items (batches of records) go through the pipelines one at a time,
# so a page is built as it is stored instead of all at once. The store pipeline
# returns once a batch is handed to its writer, so a second item at once only
# held one more built batch in memory: about 240 MB of a 50,000-row page's
# crawl at the same speed (BENCHMARKS.md, "Memory").
CONCURRENT_ITEMS = 1
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "cfs_spiders.ingest.middlewares.BackoffRetryMiddleware": 550,
}
# Scrapy imports every component of a ``*_BASE`` dict, disabled or not, when a
# crawler starts: a cold `cfs crawl` (an unchanged poll takes well under a second
# of real work) should not pay for what it never runs. The cookie middleware
# (tldextract, about 0.1 s) joins only the spiders of feeds that need cookies
# (``spiderloader.spider_class``); robots.txt, the user agent, retries, redirects
# and compression stay as Scrapy has them.
COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
COOKIES_MIDDLEWARE_ORDER = _scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE[
    COOKIES_MIDDLEWARE
]
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v
    for k, v in _scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items()
    if k != COOKIES_MIDDLEWARE
}
# Not loaded at all: the remote-control HTTP server (Scrapy 2.19: it would run
# Python code sent to a local port, and imports aiohttp, about 0.2 s), the telnet
# console and the memory debugger (both off here anyway).
UNUSED_EXTENSIONS = (
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.memdebug.MemoryDebugger",
)
EXTENSIONS_BASE = {
    k: v
    for k, v in _scrapy_defaults.EXTENSIONS_BASE.items()
    if k not in UNUSED_EXTENSIONS
}
REMOTE_CONTROL_ENABLED = False
# the run report file and log line, once the pipelines have recorded the run;
# the call-type fallback index, built off the reactor when a spider opens
EXTENSIONS = {
    "cfs_spiders.ingest.extensions.RunReport": 500,
    "cfs_spiders.ingest.extensions.WarmFallback": 510,
}
ITEM_PIPELINES = {
    "cfs_spiders.ingest.pipelines.ValidatePipeline": 100,
    "cfs_spiders.ingest.pipelines.StorePipeline": 500,
}

TELNETCONSOLE_ENABLED = False
LOG_LEVEL = os.environ.get("CFS_LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"
# Records travel in batches (items.RecordBatch): one JSON Lines row per record.
FEED_EXPORTERS = {"jsonlines": "cfs_spiders.ingest.exporters.RecordJsonLinesExporter"}
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

# cfs settings (overridden by the `cfs` command)
CFS_REPLAY_DIR = os.environ.get("CFS_REPLAY_DIR") or None
CFS_DATABASE_URL = os.environ.get("CFS_DATABASE_URL") or None
CFS_OUTPUT_DIR = os.environ.get("CFS_OUTPUT_DIR") or None
CFS_INCREMENTAL = False
CFS_FEED_STATE: dict = {}

if CFS_REPLAY_DIR:
    DOWNLOAD_HANDLERS = {
        "http": "cfs_spiders.ingest.replay.ReplayDownloadHandler",
        "https": "cfs_spiders.ingest.replay.ReplayDownloadHandler",
    }
    DOWNLOAD_DELAY = 0
    AUTOTHROTTLE_ENABLED = False

# Validate every record against the full JSON Schema (tests set it; costs time).
CFS_VALIDATE_FULL = os.environ.get("CFS_VALIDATE_FULL", "") not in ("", "0")
