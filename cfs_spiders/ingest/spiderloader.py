"""Spider loader: one spider per feed config, built from the platform spiders.

``scrapy list`` lists every configured feed; ``scrapy crawl <feed_id>`` loads the
platform spider named by its config (or, in replay, by how its capture is read).

Scrapy builds a spider loader for every crawler runner, also when the caller hands
it spider classes (``schedule/orchestrator.py`` does): the config folder is read
only when a name is asked for (``list``, ``load``), and ``load`` reads that one
feed's config, so crawling one feed never validates every other config.
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
        self._configs: dict[str, FeedConfig] | None = None
        self._errors: list[str] = []

    @property
    def configs(self) -> dict[str, FeedConfig]:
        """Every config of the folder with a feed (read at the first use)."""
        if self._configs is None:
            configs, self._errors = load_all(self.directory)
            self._configs = {k: v for k, v in configs.items() if v.has_feed}
        return self._configs

    @property
    def errors(self) -> list[str]:
        """The message of each config of the folder that does not validate."""
        self.configs  # noqa: B018 (reads the folder once)
        return self._errors

    @classmethod
    def from_settings(cls, settings: Any) -> FeedSpiderLoader:
        return cls(settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FeedSpiderLoader:
        return cls(crawler.settings)

    def list(self) -> list[str]:
        return sorted(self.configs)

    def load(self, spider_name: str) -> type:
        config = (self._configs or {}).get(spider_name)
        if config is None:
            try:
                config = get_config(spider_name, self.directory)
            except ConfigError as exc:
                raise KeyError(f"Spider not found: {spider_name} ({exc})") from None
            if not config.has_feed:
                raise KeyError(f"Spider not found: {spider_name} (no feed platform)")
        return spider_class(config, replay=self.replay)

    def find_by_request(self, request: Any) -> list[str]:
        return []


def spider_class(config: FeedConfig, *, replay: bool = False) -> type:
    from . import settings
    from .spiders import PLATFORM_SPIDERS

    platform = config.source(replay)["platform"]
    base = PLATFORM_SPIDERS[platform]
    custom: dict[str, Any] = {}
    if (config.get("request") or {}).get("cookies"):
        custom["COOKIES_ENABLED"] = True
        # the project's base leaves the cookie middleware out (settings.py): it
        # joins at Scrapy's place for it, beside the project's own middlewares
        custom["DOWNLOADER_MIDDLEWARES"] = {
            **settings.DOWNLOADER_MIDDLEWARES,
            settings.COOKIES_MIDDLEWARE: settings.COOKIES_MIDDLEWARE_ORDER,
        }
    return type(
        f"{base.__name__}_{config.feed_id}",
        (base,),
        {"name": config.feed_id, "feed_config": config, "custom_settings": custom},
    )
