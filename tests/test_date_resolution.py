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
