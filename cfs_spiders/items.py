"""The one record item. Its fields come from ``schemas/record.schema.json``, the
single source of truth for validation, documentation and export descriptors."""

from __future__ import annotations

import json
from functools import lru_cache

import scrapy
from jsonschema import Draft202012Validator

from .schema import RECORD_SCHEMA_PATH


@lru_cache(maxsize=1)
def record_schema() -> dict:
    return json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def record_validator() -> Draft202012Validator:
    return Draft202012Validator(record_schema())


CallRecord = type(
    "CallRecord",
    (scrapy.Item,),
    {
        "__doc__": "One call from one feed, on the common elements (see the schema).",
        **{name: scrapy.Field() for name in record_schema()["properties"]},
    },
)
