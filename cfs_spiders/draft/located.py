"""What locating the records yields, and how a platform spider reads a body.

Kept apart from ``locate.py`` and ``markup.py`` so both can use it (the HTML
locator checks its row XPath with the spider itself)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from scrapy.http import Request
from scrapy.responsetypes import responsetypes

from ..config.loader import FeedConfig
from ..config.schema import CONFIG_SCHEMA_PATH
from .detect import Capture

PROBE_URL = "https://draft.invalid/feed"


@lru_cache(maxsize=1)
def parse_options() -> frozenset[str]:
    """The ``parse`` options this version's config schema knows: the drafter
    proposes only what the spiders can read."""
    schema = json.loads(CONFIG_SCHEMA_PATH.read_text(encoding="utf-8"))
    return frozenset(schema["properties"]["parse"]["properties"])


@dataclass
class Located:
    """How the spider finds the records, and the records it finds."""

    platform: str
    parse: dict[str, Any]
    manifest: list[dict[str, Any]]  # manifest entries, one per file
    evidence: dict[str, str] = field(default_factory=dict)  # parse key -> comment
    warnings: list[str] = field(default_factory=list)
    snapshots: list[list[dict[str, Any]]] = field(default_factory=list)
    snapshot_names: list[str] = field(default_factory=list)
    archive_times: list[datetime] = field(default_factory=list)
    headerless: bool = False  # html columns named by position (renamed by role)


def response_entry(cap: Capture) -> dict[str, Any]:
    return {"responses": [{"file": cap.name, "content_type": cap.content_type}]}


def probe_config(platform: str, parse: dict[str, Any]) -> FeedConfig:
    """A minimal config under which a platform spider can extract records."""
    data = {
        "config_version": 1,
        "platform": platform,
        "parse": parse,
        "record": {},
        "time_zone": "UTC",
        "urls": [PROBE_URL],
        "liveness": "live",
        "location_policy": {"address": "exact", "coordinates": "none"},
    }
    return FeedConfig("xx_draft_probe", Path("xx_draft_probe.yaml"), data)


def spider_extract(
    platform: str,
    parse: dict[str, Any],
    body: bytes,
    content_type: str,
    url: str = PROBE_URL,
) -> list[dict[str, Any]]:
    """The raw records the platform spider finds in one response body."""
    from ..ingest.spiders import PLATFORM_SPIDERS
    from ..ingest.spiders.base import RunState

    base = PLATFORM_SPIDERS[platform]
    config = probe_config(platform, parse)
    cls = type(
        f"Probe_{base.__name__}",
        (base,),
        {"name": "xx_draft_probe", "feed_config": config, "custom_settings": {}},
    )
    spider = cls()
    spider.parse_options = parse
    spider.run = RunState("probe", "xx_draft_probe", "replay", datetime.now(UTC))
    # what FeedSpider.setup would set without a crawler: no builder, no manifest
    # exclusions (the drafter reads every row; the user flags rows after review)
    spider.builder = None
    spider.exclusions = None
    spider.incremental = False
    headers = {"Content-Type": content_type}
    rcls = responsetypes.from_args(headers=headers, url=url, body=body[:4096])
    response = rcls(
        url=url, status=200, headers=headers, body=body, request=Request(url)
    )
    return list(spider.extract(response))
