"""The store opens well in Datasette: described columns exist, foreign keys and
indexes are declared, and `datasette cfs.sqlite -m metadata.json` serves it."""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from cfs_spiders.config.loader import load_all
from cfs_spiders.exports.datasette import COMPARISON_TABLES, TABLES, build_metadata
from cfs_spiders.store.base import OBSERVATIONS_FROM  # noqa: F401
from cfs_spiders.store.raw import install_sql_function
from tests.conftest import ROOT, run_cfs

HOUSTON = "tx_houston_hec_active_incidents"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store made by a replay crawl, exported (which writes the metadata too)."""
    tmp = tmp_path_factory.mktemp("datasette")
    db, out = tmp / "cfs.sqlite", tmp / "output"
    run_cfs(
        "--db",
        str(db),
        "--output",
        str(out),
        "crawl",
        HOUSTON,
        "--replay",
        "--no-jsonl",
    )
    run_cfs("--db", str(db), "--output", str(out), "export")
    run_cfs("--db", str(db), "--output", str(out), "compare")
    return {
        "db": db,
        "out": out,
        "tmp": tmp,
        "metadata": json.loads((out / "metadata.json").read_text("utf-8")),
    }


def _pragma(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_every_described_column_exists(store: dict) -> None:
    tables = store["metadata"]["databases"]["cfs"]["tables"]
    assert (
        set(tables)
        == set(TABLES) | set(COMPARISON_TABLES)
        == {
            "feeds",
            "calls",
            "observations",
            "runs",
            "feed_state",
            "listings",
            "imports",
            "presence",
            "call_raw",
            "calls_with_ids",
            "store_meta",
            "sources",
            "raw_dicts",
        }
        | set(COMPARISON_TABLES)
    )
    for table, spec in tables.items():
        # table_xinfo: generated columns too (calls.last_run_id)
        columns = {r[1] for r in _pragma(store["db"], f"PRAGMA table_xinfo({table})")}
        assert columns, f"no table {table}"
        missing = set(spec["columns"]) - columns
        assert not missing, f"{table}: described but not in the store: {missing}"
        for option in ("sort", "sort_desc", "label_column"):
            if option in spec:
                assert spec[option] in columns
        assert set(spec.get("facets", [])) <= columns
    # The calls table is described column by column (record schema + lifecycle).
    calls = {r[1] for r in _pragma(store["db"], "PRAGMA table_xinfo(calls)")}
    assert set(tables["calls"]["columns"]) == calls
    assert all(tables["calls"]["columns"].values())
    assert "One of: pending, dispatched" in tables["calls"]["columns"]["status"]


def test_calls_with_ids_is_calls_with_the_ids_joined(store: dict) -> None:
    """The view for SQL written against ids holds every call once, with the ids
    the readers join from the keys, and each of its columns is described."""
    from cfs_spiders.store.base import CALLS_FROM, CALLS_ORDER

    conn = sqlite3.connect(store["db"])
    try:
        view = conn.execute(
            "SELECT feed_id, record_key, last_run_id, source_url, status "
            "FROM calls_with_ids ORDER BY feed_id, record_key"
        ).fetchall()
        joined = conn.execute(
            "SELECT feed_id, record_key, last_run_id, source_url, status "
            f"FROM {CALLS_FROM} ORDER BY {CALLS_ORDER}"
        ).fetchall()
        n_calls = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        columns = [r[1] for r in conn.execute("PRAGMA table_info(calls_with_ids)")]
    finally:
        conn.close()
    assert len(view) == n_calls > 0
    assert view == joined
    assert all(r[0] == HOUSTON and r[2] and r[3].startswith("http") for r in view)
    described = store["metadata"]["databases"]["cfs"]["tables"]["calls_with_ids"]
    assert set(described["columns"]) == set(columns)
    assert all(described["columns"].values())


def test_foreign_keys_and_indexes_are_declared(store: dict) -> None:
    def fks(table: str) -> set[tuple[str, str, str]]:
        return {
            (r[3], r[2], r[4])
            for r in _pragma(store["db"], f"PRAGMA foreign_key_list({table})")
        }

    feed = ("feed_key", "feeds", "feed_key")
    assert feed in fks("calls")
    assert ("run_key", "runs", "run_key") in fks("calls")
    assert ("source_id", "sources", "source_id") in fks("calls")
    assert ("raw_dict", "raw_dicts", "dict_id") in fks("observations")
    assert ("run_key", "runs", "run_key") in fks("observations")
    for table in ("raw_dicts", "runs", "feed_state", "imports", "listings"):
        assert feed in fks(table), table
    assert ("run_key", "runs", "run_key") in fks("imports")
    obs = fks("observations")
    # schema 5: the history tables name their call by its key
    assert ("call_key", "calls", "call_key") in obs
    assert obs - {
        ("raw_dict", "raw_dicts", "dict_id"),
        ("run_key", "runs", "run_key"),
    } == fks("presence")
    indexed = set()
    for (name,) in _pragma(
        store["db"],
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls'",
    ):
        first = _pragma(store["db"], f"PRAGMA index_info({name})")
        indexed.add(min(first)[2])
    assert {"feed_key", "received_at_utc", "call_type_category"} <= indexed


def test_feed_sources_and_licenses_as_documented(store: dict) -> None:
    configs, _ = load_all()
    meta = build_metadata(configs.values())
    assert meta == store["metadata"]
    feeds_html = meta["databases"]["cfs"]["tables"]["feeds"]["description_html"]
    for cfg in configs.values():
        if cfg.has_feed:
            assert f"<code>{cfg.feed_id}</code>" in feeds_html
            if cfg.get("documentation_url"):
                assert cfg["documentation_url"] in feeds_html
    licensed = [c for c in configs.values() if c.has_feed and c.get("license")]
    unlicensed = [c for c in configs.values() if c.has_feed and not c.get("license")]
    for cfg in licensed:
        assert cfg["license"] in feeds_html
    assert feeds_html.count("not stated by the publisher") == len(unlicensed)


def test_metadata_command_names_the_database(store: dict) -> None:
    target = store["tmp"] / "meta.json"
    run_cfs(
        "--db",
        str(store["tmp"] / "calls_2025.sqlite"),
        "datasette-metadata",
        "--file",
        str(target),
    )
    meta = json.loads(target.read_text("utf-8"))
    assert list(meta["databases"]) == ["calls_2025"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read()


@pytest.mark.skipif(
    importlib.util.find_spec("datasette") is None, reason="datasette is not installed"
)
def test_datasette_serves_the_store_with_the_metadata(store: dict) -> None:
    port = _free_port()
    meta_path = store["out"] / "metadata.json"
    # the cfs_raw plugin as an uninstalled cfs gives it (installed, the entry
    # point in pyproject.toml loads it)
    plugins = store["tmp"] / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "cfs_raw.py").write_text(
        "from cfs_spiders.exports.datasette_raw import prepare_connection  # noqa\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(store["db"]),
            "-m",
            str(meta_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--plugins-dir",
            str(plugins),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                served = json.loads(_get(f"{base}/-/metadata.json"))
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "datasette did not start: "
                        + (
                            proc.stderr.read().decode()
                            if proc.poll() is not None
                            else "timeout"
                        )
                    ) from None
                time.sleep(0.2)
        assert served["title"] == store["metadata"]["title"]
        assert (
            served["databases"]["cfs"]["tables"]["calls"]["columns"]
            == (store["metadata"]["databases"]["cfs"]["tables"]["calls"]["columns"])
        )
        rows = json.loads(
            _get(f"{base}/cfs/calls.json?_shape=objects&_labels=on&_size=5")
        )["rows"]
        assert len(rows) == 5
        feeds = store["metadata"]["databases"]["cfs"]["tables"]["feeds"]
        assert feeds["label_column"] == "feed_id"
        # calls hold the feed's integer key; Datasette shows its id
        assert isinstance(rows[0]["feed_key"]["value"], int)
        assert rows[0]["feed_key"]["label"] == HOUSTON
        assert rows[0]["run_key"]["label"].startswith(f"{HOUSTON}-")
        page = _get(f"{base}/cfs/calls").decode()
        assert "call_type_category" in page and "facet" in page
        assert "Houston" in _get(f"{base}/cfs/feeds").decode()
        _get(f"{base}/cfs/imports")
        # the calls show the source URL (a label of sources), and the canned
        # query reads a raw record as the text the feed published
        assert rows[0]["source_id"]["label"].startswith("http")
        key = rows[0]["record_key"]
        raw = json.loads(
            _get(
                f"{base}/cfs/raw_record.json?_shape=objects&feed_id={HOUSTON}"
                f"&record_key={urllib.parse.quote(key)}"
            )
        )["rows"]
        conn = sqlite3.connect(store["db"])
        install_sql_function(conn)
        want = conn.execute(
            f"SELECT cfs_raw(raw_dict, raw_deflate) FROM {OBSERVATIONS_FROM} WHERE "
            "feed_id = ? AND record_key = ? ORDER BY fetched_at",
            (HOUSTON, key),
        ).fetchall()
        conn.close()
        assert [r["raw_json"] for r in raw] == [w[0] for w in want]
        assert json.loads(raw[0]["raw_json"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
