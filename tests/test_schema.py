"""The record and config JSON Schemas are generated from the vocabularies."""

from __future__ import annotations

import json

from cfs_spiders.config import vocab
from cfs_spiders.config.schema import (
    CONFIG_SCHEMA_PATH,
    RECORD_SCHEMA_PATH,
    config_schema,
    record_schema,
)
from cfs_spiders.records.items import CallRecord


def test_committed_schemas_match_the_vocabularies():
    assert json.loads(RECORD_SCHEMA_PATH.read_text()) == record_schema()
    assert json.loads(CONFIG_SCHEMA_PATH.read_text()) == config_schema()


def test_item_fields_come_from_the_schema():
    assert set(CallRecord.fields) == set(record_schema()["properties"])
    assert record_schema()["properties"]["call_type_category"]["enum"] == list(
        vocab.CALL_TYPE_CATEGORIES
    )
    for area in vocab.AREA_TYPES:
        assert f"area_{area}" in CallRecord.fields
