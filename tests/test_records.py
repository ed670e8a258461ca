"""Exact normalized values of real records, checked by hand against the captures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

EXPECTED = yaml.safe_load(
    (Path(__file__).parent / "data" / "expected_records.yaml").read_text()
)
# Every normalized element is checked on real records of every feed that has it.
NORMALIZED = (
    "received_at_utc",
    "address_form",
    "address_granularity",
    "call_type_category",
    "category_basis",
    "status",
    "status_basis",
    "disposition_category",
    "call_source",
    "call_source_basis",
    "coord_granularity",
    "latitude",
    "longitude",
    "priority_raw",
    "units_raw",
    "unit_count",
)


def _id(e: dict) -> str:
    return f"{e['feed_id']}:{e.get('record_key') or e.get('received_at_utc')}"


def test_three_records_for_every_captured_feed():
    feeds = {e["feed_id"] for e in EXPECTED}
    assert len(feeds) == 16
    for feed in feeds:
        assert sum(1 for e in EXPECTED if e["feed_id"] == feed) >= 3


@pytest.mark.parametrize("element", NORMALIZED)
def test_every_normalized_element_is_checked(element: str):
    checked = [e for e in EXPECTED if element in e]
    if element == "received_at_utc":  # Clearwater, Seattle Fire HTML: no such time
        assert len(checked) >= len(EXPECTED) - 7
    else:
        assert len(checked) >= len(EXPECTED) - 2, element
    # a test that can fail: the expectations hold more than one value
    assert len({repr(e[element]) for e in checked}) >= 2, element


@pytest.mark.parametrize("expected", EXPECTED, ids=[_id(e) for e in EXPECTED])
def test_exact_values(store_rows, expected):
    expected = dict(expected)
    match = expected.pop("match", None) or ["record_key"]
    where = " AND ".join(f"{m} = ?" for m in match)
    rows = store_rows(
        f"SELECT * FROM calls WHERE feed_id = ? AND {where}",
        (expected["feed_id"], *(expected[m] for m in match)),
    )
    assert len(rows) == 1
    row = dict(rows[0])
    for key, value in expected.items():
        assert row[key] == value, key
    # every typed area the record has is in the expectation (no stray areas)
    areas = {k for k, v in row.items() if k.startswith("area_") and v}
    assert areas == {k for k in expected if k.startswith("area_")}
