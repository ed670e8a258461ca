"""Exact normalized values of real records, checked by hand against the captures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

EXPECTED = yaml.safe_load(
    (Path(__file__).parent / "data" / "expected_records.yaml").read_text()
)


def test_three_records_for_every_captured_feed():
    feeds = {e["feed_id"] for e in EXPECTED}
    assert len(feeds) == 16
    for feed in feeds:
        assert sum(1 for e in EXPECTED if e["feed_id"] == feed) >= 3


@pytest.mark.parametrize(
    "expected", EXPECTED, ids=[f"{e['feed_id']}:{e['record_key']}" for e in EXPECTED]
)
def test_exact_values(store_rows, expected):
    rows = store_rows(
        "SELECT * FROM calls WHERE feed_id = ? AND record_key = ?",
        (expected["feed_id"], expected["record_key"]),
    )
    assert len(rows) == 1
    row = dict(rows[0])
    for key, value in expected.items():
        assert row[key] == value, key
    # every typed area the record has is in the expectation (no stray areas)
    areas = {k for k, v in row.items() if k.startswith("area_") and v}
    assert areas == {k for k in expected if k.startswith("area_")}
