"""Dates published without a time of day are dates, not local midnights."""

from __future__ import annotations

import pytest

from cfs_spiders.config import vocab
from cfs_spiders.normalize.time import parse_time

LA = "America/Los_Angeles"


@pytest.mark.parametrize(
    ("raw", "formats"),
    [
        ("2019-10-18", None),  # SF Fire's Databricks export: `Call Date`
        ("10/18/2019", ["%m/%d/%Y"]),  # a portal export's date column
        ("2019/10/18", ["%Y/%m/%d"]),
    ],
)
def test_a_date_claims_no_instant(raw: str, formats: list[str] | None) -> None:
    value = parse_time(raw, tz=LA, formats=formats)
    assert value.flag == "date"
    assert value.flag in vocab.TIME_FLAGS
    assert value.utc is None and value.local is None
    assert value.day == "2019-10-18"
    assert value.raw == raw


@pytest.mark.parametrize(
    "raw", ["2019-10-18T00:00:00", "2019-10-18 00:00", "2019-10-18T00:00:00Z"]
)
def test_a_midnight_with_a_clock_is_an_instant(raw: str) -> None:
    value = parse_time(raw, tz=LA)
    assert value.flag is None
    assert value.utc is not None and value.day is None


def test_a_date_column_is_stored_as_a_date(tmp_path) -> None:
    """A real San Francisco Fire row (Databricks export) with its ``Call Date``
    mapped as the received time (synthetic mapping): the record keeps the day
    and the ``date`` flag, and claims no UTC instant."""
    import csv
    from datetime import UTC, datetime

    import yaml

    from cfs_spiders.config.loader import PROJECT_ROOT, load_config
    from cfs_spiders.records.builder import RecordBuilder

    feed = "ca_san_francisco_fire_calls"
    data = yaml.safe_load((PROJECT_ROOT / "city_configs" / f"{feed}.yaml").read_text())
    data["replay"]["record"]["received_at"] = {"field": "Call Date"}
    path = tmp_path / f"{feed}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    builder = RecordBuilder(load_config(path), replay=True)
    name = "Fire_Department_Calls_for_Service_databricks_sample.first300.csv"
    with (PROJECT_ROOT / "tests" / "fixtures" / feed / name).open(
        newline="", encoding="utf-8"
    ) as fh:
        row = next(csv.DictReader(fh))
    assert row["Call Date"] == "2019-10-18"
    rec = builder.build(
        row,
        fetched_at=datetime(2024, 2, 1, tzinfo=UTC),
        source_url="file:" + name,
        run_id="r1",
    )
    assert rec["received_at_raw"] == "2019-10-18"
    assert rec["received_at_utc"] is None
    assert rec["received_at_local"] == "2019-10-18"
    assert "received_at:date" in rec["time_flags"]
    # the other times of the row keep their clock
    assert rec["dispatched_at_utc"] == "2019-10-18T07:07:05Z"
