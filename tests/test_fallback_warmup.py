"""The learned fallback's index is built when a spider opens, off the reactor.

Why: built lazily at the first call type no crosswalk or rule knows, the index
(about a second of CPU) would stall the reactor, and every feed's downloads and
timers with it, in the middle of a page.
"""

from __future__ import annotations

import asyncio
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
    asyncio.run(ext.spider_opened(spider=None))
    assert training.default_index_built()
    assert ext.built_on and ext.built_on != threading.current_thread().name
    # The index it built is the one every later categorization uses.
    built = training.default_index()
    assert len(built) > 1000
    assert training.default_index() is built
    # A second spider of the same process finds it ready and builds nothing.
    again = WarmFallback()
    asyncio.run(again.spider_opened(spider=None))
    assert again.built_on is None and training.default_index() is built


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


def test_ready_before_the_first_response(tmp_path: Path) -> None:
    """A real replay crawl: the ready line is logged before the first response
    is downloaded, so no page waits for the build."""
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
    assert len(ready) == 1, proc.stderr[-3000:]
    assert crawled and ready[0] < crawled[0], proc.stderr[-3000:]
    assert "MainThread" not in lines[ready[0]]
