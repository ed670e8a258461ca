"""Config errors a new user can act on: the deepest failing key, what was expected
there, and the nearest valid form.

Every config here is synthetic (feed ``zz_synthetic_feed``, URL on 127.0.0.1): a
small valid config, broken one key at a time the way a new user breaks it.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfs_spiders.config.loader import ConfigError, load_config
from cfs_spiders.config.schema import config_schema

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC: dict[str, Any] = {
    "config_version": 1,
    "agency": "Synthetic Police Department (not a real feed)",
    "city": "Synthetic",
    "state": "ZZ",
    "title": "Synthetic active calls",
    "platform": "json",
    "urls": ["http://127.0.0.1:9/synthetic.json"],
    "time_zone": "America/Chicago",
    "location_policy": {"address": "block", "coordinates": "none"},
    "liveness": "live",
    "verified_against_capture": False,
    "capture": {"kind": "none", "origin": "synthetic test config"},
    "record": {
        "call_id": "id",
        "address": "location",
        "units": {"field": "units", "steps": ["strip", "html_text"]},
    },
}


def _error(tmp_path: Path, change) -> str:
    data = copy.deepcopy(SYNTHETIC)
    change(data)
    path = tmp_path / "zz_synthetic_feed.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: "), message  # names the file
    return message.removeprefix(f"{path}: ")


def _step_names_and_keys() -> tuple[list[str], list[str]]:
    """The step forms the schema accepts (so the test follows the schema)."""
    steps = config_schema()["$defs"]["field_spec"]["oneOf"][1]["properties"]["steps"]
    alternatives = steps["items"]["anyOf"]
    names = [n for a in alternatives for n in a.get("enum", [])]
    keys = [k for a in alternatives for k in a.get("required", [])]
    return names, keys


def test_the_synthetic_config_is_valid(tmp_path):
    path = tmp_path / "zz_synthetic_feed.yaml"
    path.write_text(yaml.safe_dump(SYNTHETIC), encoding="utf-8")
    assert load_config(path).feed_id == "zz_synthetic_feed"


def test_a_step_name_written_as_a_mapping(tmp_path):
    """The case of issue 14: ``{html_text: true}`` instead of ``html_text``."""
    message = _error(
        tmp_path,
        lambda d: d["record"]["units"].update(steps=["strip", {"html_text": True}]),
    )
    where, _, text = message.partition(": ")
    assert where == "record.units.steps[1]"
    assert "is not of type 'string'" not in message
    names, keys = _step_names_and_keys()
    assert len(names) >= 6 and len(keys) >= 10
    for form in names + keys:  # what was expected there, every form
        assert form in text, form
    assert "Did you mean `html_text`? It is a name, written alone" in text


@pytest.mark.parametrize(
    ("steps", "where", "hint"),
    [
        (["html-text"], "record.units.steps[0]", "Did you mean `html_text`?"),
        (["Strip"], "record.units.steps[0]", "Did you mean `strip`?"),
        ([{"regx": "^a"}], "record.units.steps[0]", "Did you mean `{regex: ^a}`?"),
        (["regex"], "record.units.steps[0]", "`regex` needs a value"),
        (
            [{"regex": "^a", "grp": 1}],
            "record.units.steps[0].grp",
            "did you mean `group`?",
        ),
        (
            [{"map": {"A": "b"}, "defualt": "x"}],
            "record.units.steps[0].defualt",
            "did you mean `default`?",
        ),
        (
            [{"regex": "^a", "flags": ["dotal"]}],
            "record.units.steps[0].flags[0]",
            "Did you mean `dotall`?",
        ),
        ([{"split": 5}], "record.units.steps[0].split", "expected a text, got 5"),
    ],
)
def test_bad_steps_name_the_step_and_the_nearest_form(tmp_path, steps, where, hint):
    message = _error(tmp_path, lambda d: d["record"]["units"].update(steps=steps))
    assert message.split(": ")[0] == where
    assert hint in message


def test_a_misspelt_spec_key_inside_a_oneof(tmp_path):
    """``step`` for ``steps``: the mapping alternative is the one meant (the value
    is a mapping), so its unknown key is reported, not "not of type string"."""
    message = _error(
        tmp_path,
        lambda d: d["record"].update(units={"field": "units", "step": ["strip"]}),
    )
    assert message.startswith("record.units.step: unknown key `step`")
    assert "did you mean `steps`?" in message
    assert "not of type" not in message


def test_a_value_of_no_accepted_type_lists_the_forms(tmp_path):
    message = _error(tmp_path, lambda d: d["record"].update(units=5))
    assert message.startswith("record.units: 5 is not valid here; expected one of:")
    assert "a text" in message and "a mapping of field, fields" in message


@pytest.mark.parametrize(
    ("change", "where", "hint"),
    [
        (
            lambda d: d["record"].update(call_idd="id"),
            "record.call_idd",
            "did you mean `call_id`?",
        ),
        (
            lambda d: d.update(platform="socratas"),
            "platform",
            "Did you mean `socrata`?",
        ),
        (
            lambda d: d["record"].update(area={"beatt": "beat"}),
            "record.area.beatt",
            "did you mean `beat`?",
        ),
        (
            lambda d: d.update(
                unpack=[{"field": "details", "split": ";", "int": ["a", "b"]}]
            ),
            "unpack[0].int",
            "did you mean `into`?",
        ),
        (
            lambda d: d.update(call_id_scope={"date_of": "received"}),
            "call_id_scope.date_of",
            "Did you mean `received_at`?",
        ),
        (
            lambda d: d.update(status_crosswalk={"values": {"C": "close"}}),
            "status_crosswalk.values.C",
            "Did you mean `closed`?",
        ),
    ],
)
def test_unknown_keys_and_values_suggest_the_nearest(tmp_path, change, where, hint):
    message = _error(tmp_path, change)
    assert message.split(": ")[0] == where
    assert hint in message


def test_every_error_of_a_config_is_reported(tmp_path):
    def two(d: dict) -> None:
        d["record"]["units"]["steps"] = [{"html_text": True}]
        d["platform"] = "jsn"

    lines = _error(tmp_path, two).splitlines()
    assert len(lines) == 2
    assert lines[0].split(": ")[0] == "platform"
    assert lines[1].split(": ")[1].startswith("record.units.steps[0]")


def test_cfs_check_prints_the_actionable_message(tmp_path):
    data = copy.deepcopy(SYNTHETIC)
    data["record"]["units"]["steps"] = [{"html_text": True}]
    (tmp_path / "zz_synthetic_feed.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "cfs_spiders.cli", "--configs", str(tmp_path), "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "record.units.steps[0]" in proc.stderr
    assert "Did you mean `html_text`?" in proc.stderr
