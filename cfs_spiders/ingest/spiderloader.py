"""Spider loader: one spider per feed config, built from the platform spiders.

``scrapy list`` lists every configured feed; ``scrapy crawl <feed_id>`` loads the
platform spider named by its config (or, in replay, by how its capture is read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config.loader import ConfigError, FeedConfig, configs_dir, get_config, load_all


class FeedSpiderLoader:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        directory = settings.get("CFS_CONFIG_DIR")
        self.directory = Path(directory) if directory else configs_dir()
        self.replay = bool(settings.get("CFS_REPLAY_DIR"))
        configs, self.errors = load_all(self.directory)
        self.configs = {k: v for k, v in configs.items() if v.has_feed}

    @classmethod
    def from_settings(cls, settings: Any) -> FeedSpiderLoader:
        return cls(settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FeedSpiderLoader:
        return cls(crawler.settings)

    def list(self) -> list[str]:
        return sorted(self.configs)

    def load(self, spider_name: str) -> type:
        config = self.configs.get(spider_name)
        if config is None:
            try:
                config = get_config(spider_name, self.directory)
            except ConfigError as exc:
                raise KeyError(f"Spider not found: {spider_name} ({exc})") from None
        return spider_class(config, replay=self.replay)

    def find_by_request(self, request: Any) -> list[str]:
        return []


def spider_class(config: FeedConfig, *, replay: bool = False) -> type:
    from .spiders import PLATFORM_SPIDERS

    platform = config.source(replay)["platform"]
    base = PLATFORM_SPIDERS[platform]
    custom: dict[str, Any] = {}
    if (config.get("request") or {}).get("cookies"):
        custom["COOKIES_ENABLED"] = True
    return type(
        f"{base.__name__}_{config.feed_id}",
        (base,),
        {"name": config.feed_id, "feed_config": config, "custom_settings": custom},
    )
