"""The collector pause of the page path (``records/gcpause.py``): the collector
is back on after a block and after an exception, a block's survivors are frozen
(not walked again) and given back to the collector, so a cycle is never lost.
Inputs are synthetic."""

from __future__ import annotations

import gc
import json
import weakref

import pytest

from cfs_spiders.records import gcpause
from cfs_spiders.records.gcpause import paused_gc, release_frozen
from tests.test_json_platform import config, response, spider


class _Node:
    """A synthetic object that can sit in a reference cycle."""

    other: _Node | None = None


@pytest.fixture(autouse=True)
def _unfrozen():
    release_frozen()
    yield
    release_frozen()
    assert gc.isenabled()


def test_collector_is_back_on_after_a_block_and_after_an_exception():
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError("synthetic failure inside the block")
    assert gc.isenabled()


def test_survivors_of_a_block_are_frozen_then_released():
    with paused_gc():
        kept = [{"row": i} for i in range(1000)]  # synthetic page of dicts
    assert gc.get_freeze_count() >= len(kept)
    release_frozen()
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_a_cycle_frozen_while_alive_is_collected_once_released():
    with paused_gc():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
    del a, b  # the cycle is garbage now, but frozen: the collector skips it
    gc.collect()
    assert alive() is not None
    release_frozen()
    gc.collect()
    assert alive() is None


def test_frozen_objects_go_back_after_the_interval(monkeypatch):
    monkeypatch.setattr(gcpause, "UNFREEZE_SECONDS", 0.0)
    with paused_gc():
        kept = [{"row": i} for i in range(1000)]
    assert kept and gc.get_freeze_count() == 0


def test_the_collector_is_back_on_after_a_page_and_after_a_bad_page(tmp_path):
    cfg = config(tmp_path)
    feed = spider(cfg, {"CFS_STORE_BATCH": 2})
    rows = [{"id": f"A{i}", "location": f"{i} MAIN ST"} for i in range(5)]
    out = list(feed.parse(response(json.dumps(rows).encode())))
    assert sum(len(item.records) for item in out if hasattr(item, "records")) == 5
    assert gc.isenabled()
    with pytest.raises(ValueError):  # synthetic: not JSON at all
        list(feed.parse(response(b"<html>not a feed</html>")))
    assert gc.isenabled()


def test_a_page_abandoned_between_batches_leaves_the_collector_on(tmp_path):
    cfg = config(tmp_path)
    feed = spider(cfg, {"CFS_STORE_BATCH": 2})
    rows = [{"id": f"A{i}", "location": f"{i} MAIN ST"} for i in range(5)]
    pages = feed.parse(response(json.dumps(rows).encode()))
    next(pages)
    assert gc.isenabled()  # the reactor runs other work between batches
    pages.close()
    assert gc.isenabled()


def test_a_run_end_gives_frozen_objects_back(tmp_path):
    feed = spider(config(tmp_path))
    with paused_gc():
        kept = [{"row": i} for i in range(1000)]
    assert gc.get_freeze_count() >= len(kept)
    feed.closed("finished")
    assert gc.get_freeze_count() == 0
