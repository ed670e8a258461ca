"""What a cold `cfs crawl` of an unchanged incremental poll loads (issue 12).

Why: a poll that brings nothing new does almost no work, so its time is the
process's start-up. The timing is in ``bench/run.py`` (its incremental-poll
step); these tests hold the structure that makes it short, and fail when a
change brings the cost back:

- the poll imports none of the heavy modules it never uses (polars and the
  compiled page path, numpy and the learned fallback, pandas, ...), and Scrapy's
  remote-control server (aiohttp) and the cookie middleware (tldextract) are not
  loaded;
- the learned fallback's index is not built for a poll that asks only for what
  changed since its high-water mark (the first, whole poll still builds it);
- the spider loader reads no config until asked, and `cfs crawl FEED` reads the
  named feed's config only;
- a feed that needs cookies still gets Scrapy's cookie middleware.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list

from cfs_spiders.config.loader import get_config, load_named
from cfs_spiders.ingest import settings as project_settings
from cfs_spiders.ingest.spiderloader import FeedSpiderLoader, spider_class
from tests.test_incremental import (
    FAST,
    SF,
    FeedServer,
    cfs,
    cfs_env,
    server,  # noqa: F401 (the fixture)
    write_configs,
)

ROOT = Path(__file__).resolve().parent.parent
# Modules an unchanged poll has no use for; each costs a cold process 0.05-0.3 s.
HEAVY = (
    "polars",
    "pandas",
    "pyarrow",
    "numpy",
    "sklearn",
    "rapidfuzz",
    "matplotlib",
    "datasette",
    "aiohttp",
    "tldextract",
    "cfs_spiders.records.columnar",
    "cfs_spiders.records.compile",
    "cfs_spiders.normalize.training",
    "cfs_spiders.normalize.similar",
    "cfs_spiders.draft.detect",
)
# Runs the `cfs` command in this process and writes, at exit, which of HEAVY it
# imported.
RUN_AND_REPORT = """
import atexit, json, runpy, sys
heavy, out = json.loads(sys.argv[1]), sys.argv[2]
def report():
    with open(out, "w") as fh:
        json.dump(sorted(m for m in heavy if m in sys.modules), fh)
atexit.register(report)
sys.argv = ["cfs", *sys.argv[3:]]
runpy.run_module("cfs_spiders.cli", run_name="__main__")
"""


def cfs_reporting(
    tmp: Path, configs: Path, *args: str
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``cfs ...`` as ``tests.test_incremental.cfs`` runs it, and the heavy
    modules its process imported."""
    out = tmp / "modules.json"
    out.unlink(missing_ok=True)
    env = {**cfs_env(configs), "CFS_LOG_LEVEL": "DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_AND_REPORT,
            json.dumps(HEAVY),
            str(out),
            "--db",
            str(tmp / "cfs.sqlite"),
            "--output",
            str(tmp / "out"),
            *args,
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(out.read_text(encoding="utf-8"))


def test_unchanged_poll_loads_no_heavy_module_and_builds_no_index(
    server: FeedServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    configs = write_configs(tmp_path / "configs", server, interval=0.001)
    poll = ("crawl", "--incremental", SF, "--no-jsonl", *FAST)
    # the first poll reads the whole dataset (300 rows): it warms the fallback
    first, _ = cfs_reporting(tmp_path, configs, *poll)
    assert "learned fallback: building on cfs-fallback" in first.stderr
    served = server.served("/resource/gnap-fj3t.json")
    assert served[1] == len(server.soda)

    second, loaded = cfs_reporting(tmp_path, configs, *poll)
    # it did poll, incrementally, and found nothing new
    requests, records = server.served("/resource/gnap-fj3t.json")
    assert requests == served[0] + 1 and records == served[1]
    assert "$where" in server.last("/resource/gnap-fj3t.json")[1]
    assert "1 runs: 1 ok" in second.stderr
    assert loaded == [], f"an unchanged poll imported {loaded}"
    assert "fallback: building" not in second.stderr
    assert "learned fallback: not built (an incremental poll)" in second.stderr
    assert "RemoteControl" not in second.stderr
    assert "TelnetConsole" not in second.stderr


def test_a_poll_with_records_still_builds_them_by_columns(
    server: FeedServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The page path is set up late, not lost: a page of at least
    ``CFS_COLUMNAR_MIN_ROWS`` records is built by columns (polars loaded)."""
    configs = write_configs(tmp_path / "configs", server, interval=0.001)
    env_min = ("-s", "CFS_COLUMNAR_MIN_ROWS=100")  # pages of 120 rows
    _, loaded = cfs_reporting(
        tmp_path, configs, "crawl", SF, "--no-jsonl", *FAST, *env_min
    )
    assert "polars" in loaded and "cfs_spiders.records.columnar" in loaded
    (report,) = [
        json.loads(p.read_text()) for p in (tmp_path / "out" / "runs").glob("*.json")
    ]
    assert report["counts"]["record_pages:columnar"] == 2  # 120 + 120
    assert report["counts"]["record_pages:reference"] == 1  # the last 60
    assert report["records"] == 300


def test_scrapy_components_an_unchanged_poll_does_not_load() -> None:
    """Scrapy imports every ``*_BASE`` component, disabled ones too: the
    project's bases leave out what it never runs, and keep the politeness."""
    s = Settings()
    s.setmodule(project_settings, priority="project")
    extensions = build_component_list(s.getwithbase("EXTENSIONS"))
    middlewares = build_component_list(s.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert not any("remote_control" in e or "telnet" in e for e in extensions)
    assert "scrapy.extensions.throttle.AutoThrottle" in extensions
    assert "cfs_spiders.ingest.extensions.WarmFallback" in extensions
    assert project_settings.COOKIES_MIDDLEWARE not in middlewares
    for kept in ("robotstxt.RobotsTxtMiddleware", "useragent.UserAgentMiddleware"):
        assert f"scrapy.downloadermiddlewares.{kept}" in middlewares
    assert "cfs_spiders.ingest.middlewares.BackoffRetryMiddleware" in middlewares
    assert s.getbool("ROBOTSTXT_OBEY") and s.get("USER_AGENT").startswith("cfs/")
    assert s.getfloat("DOWNLOAD_DELAY") > 0 or os.environ.get("CFS_DOWNLOAD_DELAY")


@pytest.mark.parametrize(
    ("feed_id", "cookies"),
    [("la_caddo_911_active_events", True), ("tx_dallas_police_active_calls", False)],
)
def test_a_feed_that_needs_cookies_gets_the_cookie_middleware(
    feed_id: str, cookies: bool
) -> None:
    cfg = get_config(feed_id)
    assert bool((cfg.get("request") or {}).get("cookies")) is cookies
    s = Settings()
    s.setmodule(project_settings, priority="project")
    s.setdict(spider_class(cfg).custom_settings, priority="spider")
    middlewares = build_component_list(s.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert (project_settings.COOKIES_MIDDLEWARE in middlewares) is cookies
    assert s.getbool("COOKIES_ENABLED") is cookies
    # the project's own middlewares and Scrapy's politeness stay either way
    assert "cfs_spiders.ingest.middlewares.BackoffRetryMiddleware" in middlewares
    assert "scrapy.downloadermiddlewares.retry.RetryMiddleware" not in middlewares
    assert "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware" in middlewares


def _folder_with_a_broken_config(tmp_path: Path) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    good = get_config("tx_dallas_police_active_calls")
    (folder / f"{good.feed_id}.yaml").write_text(
        good.path.read_text(encoding="utf-8"), encoding="utf-8"
    )
    # synthetic: a config that does not validate (an unknown key)
    broken = yaml.safe_load(good.path.read_text(encoding="utf-8"))
    broken["not_a_key"] = 1
    (folder / "zz_synthetic_broken_feed.yaml").write_text(
        yaml.safe_dump(broken), encoding="utf-8"
    )
    return folder


def test_spider_loader_reads_configs_only_when_asked(tmp_path: Path) -> None:
    folder = _folder_with_a_broken_config(tmp_path)
    loader = FeedSpiderLoader(Settings({"CFS_CONFIG_DIR": str(folder)}))
    assert loader._configs is None  # nothing read when Scrapy builds it
    cls = loader.load("tx_dallas_police_active_calls")
    assert cls.name == "tx_dallas_police_active_calls"
    assert loader._configs is None  # load() read that one config only
    with pytest.raises(KeyError, match="zz_synthetic_broken_feed"):
        loader.load("zz_synthetic_broken_feed")
    assert loader.list() == ["tx_dallas_police_active_calls"]
    (error,) = loader.errors
    assert "zz_synthetic_broken_feed.yaml" in error and "not_a_key" in error


def test_named_feeds_read_only_their_configs(tmp_path: Path) -> None:
    folder = _folder_with_a_broken_config(tmp_path)
    configs, errors = load_named(["tx_dallas_police_active_calls"], folder)
    assert list(configs) == ["tx_dallas_police_active_calls"] and errors == []
    configs, errors = load_named(
        ["zz_synthetic_broken_feed", "xx_no_such_feed", "Not A Feed"], folder
    )
    assert configs == {} and len(errors) == 1 and "not_a_key" in errors[0]


def test_crawl_of_a_named_feed_does_not_report_other_configs(
    server: FeedServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    configs = write_configs(tmp_path / "configs", server, interval=0.001)
    (configs / "zz_synthetic_broken_feed.yaml").write_text(
        "not: [a, config\n", encoding="utf-8"
    )
    proc = cfs(tmp_path, configs, "--configs", str(configs), "list")
    assert "zz_synthetic_broken_feed" in proc.stderr  # `list` reads them all
    proc = cfs(
        tmp_path, configs, "--configs", str(configs), "crawl", SF, "--no-jsonl", *FAST
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "zz_synthetic_broken_feed" not in proc.stderr
    proc = cfs(
        tmp_path,
        configs,
        "--configs",
        str(configs),
        "crawl",
        "zz_synthetic_broken_feed",
        "--no-jsonl",
    )
    assert proc.returncode != 0
    assert "config error" in proc.stderr and "zz_synthetic_broken_feed" in proc.stderr
    assert "no crawlable feed 'zz_synthetic_broken_feed'" in proc.stderr
