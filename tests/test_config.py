"""Feed configs: every bundled config validates; bad ones fail naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cfs_spiders.config.loader import (
    ConfigError,
    config_paths,
    load_all,
    load_config,
    validate_feed_id,
)

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_FEEDS = sorted(
    p.name
    for p in (ROOT / "tests" / "fixtures").iterdir()
    if (p / "manifest.yaml").is_file()
)


def test_every_config_validates():
    configs, errors = load_all()
    assert errors == []
    assert len(configs) == len(config_paths()) >= 22
    assert "il_chicago_oemc" in configs and not configs["il_chicago_oemc"].has_feed


def test_every_capture_has_a_config_and_every_feed_a_time_zone():
    configs, _ = load_all()
    assert len(CAPTURE_FEEDS) >= 27  # grows as feeds are captured
    for feed in CAPTURE_FEEDS:
        assert feed in configs, feed
    # and the other way round: a config that says it was checked against a
    # capture has that capture bundled
    verified = {f for f, c in configs.items() if c["verified_against_capture"]}
    assert verified <= set(CAPTURE_FEEDS), sorted(verified - set(CAPTURE_FEEDS))
    for cfg in configs.values():
        assert "/" in cfg.time_zone  # an IANA zone, never a default


def test_documented_feeds_without_capture_are_marked_unverified():
    configs, _ = load_all()
    for feed in (
        "la_new_orleans_calls_for_service",
        "oh_cincinnati_police_calls",
        "md_montgomery_county_police_dispatched",
        "tn_nashville_police_active_dispatch",
        "ca_san_francisco_police_dispatched_closed",
    ):
        cfg = configs[feed]
        assert cfg["verified_against_capture"] is False
        assert cfg["capture"]["kind"] == "none"
        assert "NOT VERIFIED" in cfg["capture"]["note"]


def _write(tmp_path: Path, name: str, data: dict | str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _dallas() -> dict:
    return yaml.safe_load(
        (ROOT / "city_configs" / "tx_dallas_police_active_calls.yaml").read_text()
    )


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path):
    data = _dallas()
    data["record"]["call_idd"] = "incident_number"
    path = _write(tmp_path, "tx_dallas_police_active_calls", data)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert str(path) in message and "record" in message and "call_idd" in message


def test_missing_time_zone_is_an_error(tmp_path):
    data = _dallas()
    del data["time_zone"]
    path = _write(tmp_path, "tx_dallas_police_active_calls", data)
    with pytest.raises(ConfigError, match="time_zone"):
        load_config(path)


def test_bad_time_zone_and_bad_transform_are_errors(tmp_path):
    data = _dallas()
    data["time_zone"] = "Central"
    with pytest.raises(ConfigError, match="IANA"):
        load_config(_write(tmp_path, "tx_dallas_police_active_calls", data))
    data = _dallas()
    data["record"]["call_type"] = {"field": "x", "steps": [{"regexx": "a"}]}
    with pytest.raises(ConfigError, match=r"record\.call_type"):
        load_config(_write(tmp_path, "tx_dallas_police_active_calls", data))


def test_python_object_tags_are_refused(tmp_path):
    text = "config_version: !!python/object/apply:os.system ['echo owned']\n"
    with pytest.raises(ConfigError, match="not safe YAML"):
        load_config(_write(tmp_path, "tx_dallas_police_active_calls", text))


@pytest.mark.parametrize(
    "bad",
    [
        "../etc_passwd_x",
        "tx_dallas/../../x",
        "TX_Dallas_x",
        "dallas",
        "tx_dallas_police;rm",
    ],
)
def test_feed_ids_that_could_escape_are_refused(bad):
    with pytest.raises(ConfigError):
        validate_feed_id(bad)


def test_cfs_check_exits_non_zero_on_a_bad_config(tmp_path):
    data = _dallas()
    data["platformm"] = "socrata"
    _write(tmp_path, "tx_dallas_police_active_calls", data)
    proc = subprocess.run(
        [sys.executable, "-m", "cfs_spiders.cli", "--configs", str(tmp_path), "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "platformm" in proc.stderr


def test_scrapy_list_shows_every_feed():
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = proc.stdout.split()
    configs, _ = load_all()
    assert listed == sorted(k for k, c in configs.items() if c.has_feed)
    assert "il_chicago_oemc" not in listed
