"""The README stays true: its quickstart is what CI runs, and its worked example
of adding a feed (a YAML file and a capture, no Python) works as written."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from pathlib import Path

import yaml

from cfs_spiders.store.base import CALLS_FROM  # noqa: F401
from tests.conftest import FIXTURES, ROOT, run_cfs

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    found = re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)
    return [textwrap.dedent(b) for b in found]


def test_quickstart_is_two_commands_and_ci_runs_the_test_one():
    quick = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = [
        line.split("#")[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", quick, flags=re.S)
        for line in block.splitlines()
        if line.strip()
    ]
    assert commands == ["make run", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert "cfs run" in makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]


def test_worked_example_config_replays_with_no_python(tmp_path: Path):
    configs = [b for b in _blocks("yaml") if b.startswith("config_version")]
    assert len(configs) == 1
    config = yaml.safe_load(configs[0])
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    (cfg_dir / "fl_clearwater_police_active_calls.yaml").write_text(configs[0])
    manifest = next(b for b in _blocks("yaml") if b.startswith("snapshots:"))
    fixture = yaml.safe_load(
        (FIXTURES / "fl_clearwater_police_active_calls" / "manifest.yaml").read_text()
    )
    assert yaml.safe_load(manifest) == fixture
    db = tmp_path / "cfs.sqlite"
    run_cfs(
        "--configs",
        str(cfg_dir),
        "--db",
        str(db),
        "--output",
        str(tmp_path / "out"),
        "check",
    )
    run_cfs(
        "--configs",
        str(cfg_dir),
        "--db",
        str(db),
        "--output",
        str(tmp_path / "out"),
        "crawl",
        "fl_clearwater_police_active_calls",
        "--replay",
        "--no-jsonl",
    )
    conn = sqlite3.connect(db)
    try:
        calls, closed = conn.execute(
            f"SELECT COUNT(*), SUM(status = 'closed') FROM {CALLS_FROM}"
        ).fetchone()
    finally:
        conn.close()
    assert calls == 161  # distinct incident numbers across the 52 snapshots
    assert closed == 154
    assert config["platform"] == "json"
