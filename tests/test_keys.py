"""Stable keys for calls published without an id (issue 13, item 4).

A key is built from mapped elements (the dated ``received_at``, agency, location),
never from raw fields such as Caddo's ``HHMM`` time, and never from elements that
change while a call lives unless a config allows one by name. Each run reports
its key churn: calls that left the listing while a near-identical one appeared.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from cfs_spiders.config.loader import ConfigError, get_config, load_config
from cfs_spiders.records.keys import KeySpec, key_churn, near_identical
from cfs_spiders.store.base import CALLS_FROM, RUNS_FROM  # noqa: F401
from tests.conftest import FIXTURES, ROOT, run_cfs

CADDO = "la_caddo_911_active_events"
CADDO_CSV = "caddo911_incidents_scraper_output_2026-01-12.csv"


def _count(db: Path, feed_id: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            f"SELECT COUNT(*) FROM {CALLS_FROM} WHERE feed_id = ?", (feed_id,)
        ).fetchone()[0]
    finally:
        con.close()


def _replay_dir(tmp: Path, snapshots: list[tuple[str, str]]) -> Path:
    """A replay folder for Caddo: (captured_at, file in tests/fixtures) each."""
    folder = tmp / "replay" / CADDO
    folder.mkdir(parents=True)
    entries = []
    for when, name in snapshots:
        src = FIXTURES / CADDO / name
        if src.exists():
            shutil.copy(src, folder / name)
        entries.append(
            {
                "captured_at": when,
                "board_snapshot": False,
                "responses": [{"file": name, "content_type": "text/csv"}],
            }
        )
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"snapshots": entries}))
    return folder.parent


def test_caddo_board_on_two_days_stores_twice_its_calls(tmp_path: Path) -> None:
    """The page shows HHMM only. The same capture replayed as the board of two
    days a day apart holds two days of calls: a call at 15:05 today and one at
    15:05 tomorrow are two calls (before this key: 38 calls, not 76)."""
    one = _replay_dir(tmp_path / "one", [("2026-01-12T15:43:00-06:00", CADDO_CSV)])
    two = _replay_dir(
        tmp_path / "two",
        [
            ("2026-01-12T15:43:00-06:00", CADDO_CSV),
            ("2026-01-13T15:43:00-06:00", CADDO_CSV),
        ],
    )
    db_one, db_two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    run_cfs("--db", str(db_one), "crawl", CADDO, "--replay", str(one))
    run_cfs("--db", str(db_two), "crawl", CADDO, "--replay", str(two))
    per_day = _count(db_one, CADDO)
    assert per_day >= 30
    assert _count(db_two, CADDO) == 2 * per_day
    # the same day replayed twice adds nothing
    run_cfs("--db", str(db_one), "crawl", CADDO, "--replay", str(one))
    assert _count(db_one, CADDO) == per_day


def test_caddo_a_retyped_call_stays_one_call() -> None:
    """Capture rows 36 and 37: CSO, 15:39, E 70TH, first TAKEN BY OTHER AGENCY
    then MINOR TRAFFIC ACCIDENT a minute later. The call type is not part of the
    key, so both rows are one call."""
    path = FIXTURES / CADDO / CADDO_CSV
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"] in ("36", "37")]
    assert {r["description"] for r in rows} == {
        "TAKEN BY OTHER AGENCY",
        "MINOR TRAFFIC ACCIDENT",
    }
    spec = KeySpec(get_config(CADDO)["record_key"])
    records = [
        {
            "received_at_utc": "2026-01-12T21:39:00Z",
            "agency_raw": r["agency"],
            "address_raw": r["street"],
            "call_type_raw": r["description"],
        }
        for r in rows
    ]
    assert spec.key(records[0]) == spec.key(records[1])
    assert spec.key(records[0])[1] is True


@pytest.mark.parametrize(
    "feed_id",
    [CADDO, "tx_houston_hec_active_incidents", "tn_nashville_police_active_dispatch"],
)
def test_keys_hold_no_element_that_changes(feed_id: str) -> None:
    from cfs_spiders.config import vocab

    names = KeySpec(get_config(feed_id)["record_key"]).names
    assert names
    assert "received_at" in names
    assert not set(names) & set(vocab.KEY_ELEMENTS_MUTABLE)


def _config_with_key(tmp_path: Path, key: object) -> Path:
    data = yaml.safe_load((ROOT / "city_configs" / f"{CADDO}.yaml").read_text())
    data["record_key"] = key
    path = tmp_path / f"{CADDO}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("bad", ["call_type", "status", "units", "cross_street"])
def test_mutable_key_elements_are_refused(tmp_path: Path, bad: str) -> None:
    path = _config_with_key(tmp_path, ["received_at", "agency", bad])
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{CADDO}.yaml: record_key: {bad}" in str(err.value)
    assert "split" in str(err.value)


def test_raw_field_names_are_not_key_elements(tmp_path: Path) -> None:
    path = _config_with_key(tmp_path, ["time", "agency", "street"])
    with pytest.raises(ConfigError, match="record_key: time, street is not a mapped"):
        load_config(path)


def test_a_mutable_element_allowed_by_name(tmp_path: Path) -> None:
    key = {
        "fields": ["received_at", "agency", "call_type"],
        "allow_mutable": ["call_type"],
        "reason": "synthetic: a test of the escape hatch",
    }
    cfg = load_config(_config_with_key(tmp_path, key))
    assert KeySpec(cfg["record_key"]).names == ("received_at", "agency", "call_type")
    # allowed for another element only: still refused
    key["allow_mutable"] = ["units"]
    with pytest.raises(ConfigError, match="call_type"):
        load_config(_config_with_key(tmp_path, key))


def test_near_identical_and_churn_pairs() -> None:
    base = {
        "received_at_utc": "2026-01-12T21:39:00Z",
        "agency_raw": "CSO",
        "address": "E 70TH",
        "call_type_raw": "TAKEN BY OTHER AGENCY",
    }
    retyped = {**base, "call_type_raw": "MINOR TRAFFIC ACCIDENT"}
    moved = {**base, "address": "E 71ST"}
    other = {**base, "address": "E 71ST", "call_type_raw": "THEFT"}
    later = {**base, "received_at_utc": "2026-01-12T21:40:00Z"}
    assert near_identical(base, retyped) and near_identical(base, moved)
    assert not near_identical(base, other)
    assert not near_identical(base, later)
    assert not near_identical(base, {**base, "agency_raw": "SPD"})
    gone = [{**base, "record_key": "a"}]
    new = [{**other, "record_key": "x"}, {**retyped, "record_key": "b"}]
    assert key_churn(gone, new) == [("a", "b")]
    assert key_churn(gone, [{**other, "record_key": "x"}]) == []


SYNTHETIC_HEADER = (
    "id,hash,agency,time,units,description,street,cross_streets,municipality,"
    "latitude,longitude,first_seen,last_seen,is_active\n"
)


def _synthetic_board(tmp_path: Path) -> Path:
    """Synthetic Caddo boards (not captured): two calls; five minutes later the
    first is re-typed and its cross streets change."""
    folder = tmp_path / "replay" / CADDO
    folder.mkdir(parents=True)
    first = (
        "1,h1,SPD,1505,1,THEFT,LINE,E 74TH ST & E 75TH ST,SHV,,,,,1\n"
        "2,h2,SPD,1510,2,TRAFFIC STOP,HOLLYWOOD,FALLOWMONT DR & MCDANIEL DR,SHV,,,,,1\n"
    )
    second = (
        "1,h1,SPD,1505,1,BURGLARY,LINE,E 75TH ST & E 76TH ST,SHV,,,,,1\n"
        "2,h2,SPD,1510,2,TRAFFIC STOP,HOLLYWOOD,FALLOWMONT DR & MCDANIEL DR,SHV,,,,,1\n"
    )
    (folder / "synthetic_board_1.csv").write_text(SYNTHETIC_HEADER + first)
    (folder / "synthetic_board_2.csv").write_text(SYNTHETIC_HEADER + second)
    manifest = {
        "snapshots": [
            {
                "captured_at": when,
                "note": "synthetic board for the key churn test",
                "responses": [{"file": name, "content_type": "text/csv"}],
            }
            for when, name in (
                ("2026-01-12T15:20:00-06:00", "synthetic_board_1.csv"),
                ("2026-01-12T15:25:00-06:00", "synthetic_board_2.csv"),
            )
        ]
    }
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    return folder.parent


def _churn(db: Path) -> list[int]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            f"SELECT report_json FROM {RUNS_FROM} WHERE feed_id = ? ORDER BY fetched_at",
            (CADDO,),
        ).fetchall()
    finally:
        con.close()
    return [json.loads(r[0])["key_churn"]["calls"] for r in rows]


def test_key_churn_is_reported_per_run(tmp_path: Path) -> None:
    replay = _synthetic_board(tmp_path)
    # Caddo's own key: the re-typed call stays one call, nothing churns.
    db = tmp_path / "own.sqlite"
    run_cfs("--db", str(db), "crawl", CADDO, "--replay", str(replay))
    assert _count(db, CADDO) == 2
    assert _churn(db) == [0, 0]
    # A key that allows the call type splits it: the run says so.
    configs = tmp_path / "configs"
    configs.mkdir()
    _config_with_key(
        configs,
        {
            "fields": ["received_at", "agency", "address", "call_type"],
            "allow_mutable": ["call_type"],
            "reason": "synthetic: to show key churn",
        },
    )
    db = tmp_path / "typed.sqlite"
    run_cfs(
        "--db",
        str(db),
        "crawl",
        CADDO,
        "--replay",
        str(replay),
        env={"CFS_CONFIG_DIR": str(configs)},
    )
    assert _count(db, CADDO) == 3
    assert _churn(db) == [0, 1]
