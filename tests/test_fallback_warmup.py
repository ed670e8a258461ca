"""The learned fallback's index is built when a spider opens, off the reactor.

Why: built lazily at the first call type no crosswalk or rule knows, the index
(about half a second of CPU) would stall the reactor, and every feed's downloads
and timers with it, in the middle of a page. It is built on a worker thread that
the crawl does not wait for: a poll that meets no unknown value never needs it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cfs_spiders.ingest import settings
from cfs_spiders.ingest.extensions import WarmFallback
from cfs_spiders.normalize import training
from tests.conftest import ROOT, run_cfs

FIXTURES = ROOT / "tests" / "fixtures"


def test_extension_is_enabled() -> None:
    assert "cfs_spiders.ingest.extensions.WarmFallback" in settings.EXTENSIONS


def test_spider_open_builds_the_index_on_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(training, "_DEFAULT", [])
    assert not training.default_index_built()
    ext = WarmFallback()
    ext.spider_opened(spider=None)  # returns at once: the build goes on
    assert ext.building is not None
    assert ext.building.result(timeout=120) > 1000
    assert training.default_index_built()
    assert ext.built_on and ext.built_on != threading.current_thread().name
    # The index it built is the one every later categorization uses.
    built = training.default_index()
    assert len(built) > 1000
    assert training.default_index() is built
    # A second spider of the same process finds it ready and builds nothing.
    again = WarmFallback()
    again.spider_opened(spider=None)
    assert (
        again.building is None
        and again.built_on is None
        and training.default_index() is built
    )


def test_concurrent_callers_share_one_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "_DEFAULT", [])
    builds: list[int] = []
    real = training.build_index

    def counting(**kw):
        builds.append(1)
        return real(**kw)

    monkeypatch.setattr(training, "build_index", counting)
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(training.default_index()))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(x) for x in got}) == 1


def test_built_once_on_a_worker_thread_during_a_crawl(tmp_path: Path) -> None:
    """A real replay crawl: the index is built once, by the worker thread (never
    the reactor's); the crawl does not wait for it (it may end first: Dallas's
    values are all in its crawl's crosswalk)."""
    env = {
        "CFS_DATABASE_URL": f"sqlite:///{tmp_path / 'cfs.sqlite'}",
        "CFS_OUTPUT_DIR": str(tmp_path),
        "CFS_LOG_LEVEL": "DEBUG",
    }
    proc = run_cfs(
        "crawl", "--replay", str(FIXTURES), "tx_dallas_police_active_calls", env=env
    )
    lines = proc.stderr.splitlines()
    ready = [i for i, line in enumerate(lines) if "learned fallback ready" in line]
    crawled = [i for i, line in enumerate(lines) if "Crawled (" in line]
    building = [i for i, line in enumerate(lines) if "fallback: building" in line]
    assert len(building) == 1 and len(ready) <= 1, proc.stderr[-3000:]
    assert crawled, proc.stderr[-3000:]
    for i in building + ready:
        assert "on cfs-fallback" in lines[i] and "MainThread" not in lines[i]
