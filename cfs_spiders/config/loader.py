"""Feed configs: one YAML file per feed, validated before anything runs.

The file name is the feed id and the spider name. YAML is read with
``yaml.safe_load`` only (a Python object tag is an error, never executed), and every
config is checked against ``schemas/config.schema.json``; an error names the file,
the deepest failing key, what was expected there and the nearest valid form
(``errors.py``), and unknown keys are errors.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonschema import Draft202012Validator

from . import vocab
from .errors import explain
from .paths import PROJECT_ROOT
from .schema import CONFIG_SCHEMA_PATH

FEED_ID_RE = re.compile(r"^[a-z]{2}_[a-z0-9]+(?:_[a-z0-9]+)+$")


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the key."""


def configs_dir() -> Path:
    return Path(os.environ.get("CFS_CONFIG_DIR", PROJECT_ROOT / "city_configs"))


def validate_feed_id(feed_id: str) -> str:
    """Feed ids become file and folder names: only ``state_city_feed`` snake case."""
    if not isinstance(feed_id, str) or not FEED_ID_RE.fullmatch(feed_id):
        raise ConfigError(
            f"invalid feed id {feed_id!r}: expected <state>_<city>_<feed> in lower-case "
            "letters, digits and underscores"
        )
    return feed_id


def url_for_year(
    by_year: dict[Any, str], time_zone: str, when: datetime | None = None
) -> str:
    """The dataset of the year it is now in the feed's zone (``when``, default
    now); before a new year's dataset is listed in the config, the latest year
    listed before it (the city may open the new dataset late)."""
    now = (when or datetime.now(UTC)).astimezone(ZoneInfo(time_zone))
    years = sorted(int(y) for y in by_year)
    past = [y for y in years if y <= now.year]
    year = past[-1] if past else years[0]
    return by_year.get(str(year)) or by_year[year]


@dataclass(frozen=True)
class FeedConfig:
    """A validated feed config. ``data`` is the YAML document as loaded."""

    feed_id: str
    path: Path
    data: dict[str, Any] = field(repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def version(self) -> int:
        return int(self.data["config_version"])

    @property
    def time_zone(self) -> str:
        return self.data["time_zone"]

    @property
    def platform(self) -> str:
        return self.data["platform"]

    @property
    def has_feed(self) -> bool:
        return self.platform != "none"

    @property
    def board(self) -> str:
        default = "history" if self.data["liveness"] == "history" else "append_only"
        return self.data.get("board", default)

    @property
    def urls(self) -> list[str]:
        """The URLs to fetch; a feed published as one dataset per year
        (``urls_by_year``) fetches the current year's (see ``url_for_year``)."""
        by_year = self.data.get("urls_by_year")
        if by_year:
            return [url_for_year(by_year, self.time_zone)]
        return list(self.data.get("urls", []))

    def source(self, replay: bool) -> dict[str, Any]:
        """Platform, parse options and mapping for live use or for the capture.

        A re-exported capture is not in the live format; ``replay`` says how to read
        it and overrides the live platform, parse options and (per element) mapping.
        """
        live = {
            "platform": self.platform,
            "parse": self.data.get("parse", {}),
            "record": self.data.get("record", {}),
            "record_key": self.data.get("record_key"),
        }
        override = self.data.get("replay") if replay else None
        if not override:
            return live
        record = {**live["record"], **override.get("record", {})}
        return {
            "platform": override["platform"],
            "parse": override.get("parse", {}),
            "record": record,
            "record_key": override.get("record_key", live["record_key"]),
        }


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(CONFIG_SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def load_config(path: str | Path) -> FeedConfig:
    """Load and validate one config file; raise ConfigError naming file and key."""
    path = Path(path)
    feed_id = path.stem
    try:
        validate_feed_id(feed_id)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not safe YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for where in ("record_key", "replay.record_key"):
        spec = (
            data.get("record_key")
            if where == "record_key"
            else (
                (data.get("replay") or {}).get("record_key")
                if isinstance(data.get("replay"), dict)
                else None
            )
        )
        _check_key(path, where, spec)
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        # the deepest failing key, what was expected there, the nearest valid form
        lines = ["{}: {}: {}".format(path, *explain(e)) for e in errors[:10]]
        raise ConfigError("\n".join(lines))
    try:
        ZoneInfo(data["time_zone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{path}: time_zone: {data['time_zone']!r} is not an IANA time zone"
        ) from None
    if data["platform"] != "none" and not (
        data.get("urls") or data.get("urls_by_year")
    ):
        raise ConfigError(f"{path}: urls: a feed with a platform needs its live URL(s)")
    if data.get("urls") and data.get("urls_by_year"):
        raise ConfigError(f"{path}: urls_by_year: give urls or urls_by_year, not both")
    if (
        data["platform"] != "none"
        and not data.get("record", {}).get("call_id")
        and not (data.get("record_key"))
    ):
        raise ConfigError(
            f"{path}: record.call_id: map the call id, or give record_key fields"
        )
    for name in ("record", "replay", "unpack"):
        _check_regexes(path, name, data.get(name) or {})
    return FeedConfig(feed_id, path, data)


def _check_key(path: Path, where: str, spec: Any) -> None:
    """A key element that changes while a call lives splits the call in two when
    it changes: refused unless the object form allows it by name (with a reason).
    Checked before the schema so the error says why, not which enum it missed."""
    if isinstance(spec, dict):
        names = spec.get("fields") or []
        allowed = set(spec.get("allow_mutable") or [])
    elif isinstance(spec, list):
        names, allowed = spec, set()
    else:
        return
    refused = [n for n in names if n in vocab.KEY_ELEMENTS_MUTABLE and n not in allowed]
    if refused:
        raise ConfigError(
            f"{path}: {where}: {', '.join(map(str, refused))} change(s) while a call "
            "lives and would split it in two; leave it out, or use the form "
            "{fields: [...], allow_mutable: [...], reason: ...}"
        )
    unknown = [
        n
        for n in names
        if n not in vocab.KEY_ELEMENTS and n not in vocab.KEY_ELEMENTS_MUTABLE
    ]
    if unknown:
        raise ConfigError(
            f"{path}: {where}: {', '.join(map(str, unknown))} is not a mapped "
            "element a key can use (raw field names are not: name the element it "
            f"is mapped to, one of {', '.join(vocab.KEY_ELEMENTS[:8])}, area_<type>)"
        )


def _check_regexes(path: Path, where: str, node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "regex" and isinstance(value, str):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ConfigError(
                        f"{path}: {where}: bad regex {value!r}: {exc}"
                    ) from None
            else:
                _check_regexes(path, f"{where}.{key}", value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_regexes(path, f"{where}[{i}]", value)


def config_paths(directory: Path | None = None) -> list[Path]:
    return sorted((directory or configs_dir()).glob("*.yaml"))


def load_all(directory: Path | None = None) -> tuple[dict[str, FeedConfig], list[str]]:
    """All configs that validate, and an error message for each that does not."""
    configs: dict[str, FeedConfig] = {}
    errors: list[str] = []
    for path in config_paths(directory):
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        configs[cfg.feed_id] = cfg
    return configs, errors


def load_named(
    names: list[str], directory: Path | None = None
) -> tuple[dict[str, FeedConfig], list[str]]:
    """The configs of the feeds named (as ``load_all`` gives them), and an error
    message for each named one that does not validate; the folder's other
    configs are not read (crawling one feed does not validate 30 others). A name
    that is no feed id, or has no file, is left for the caller to report."""
    base = directory or configs_dir()
    configs: dict[str, FeedConfig] = {}
    errors: list[str] = []
    for name in dict.fromkeys(names):
        if not isinstance(name, str) or not FEED_ID_RE.fullmatch(name):
            continue
        path = base / f"{name}.yaml"
        if not path.is_file():
            continue
        try:
            configs[name] = load_config(path)
        except ConfigError as exc:
            errors.append(str(exc))
    return configs, errors


def get_config(feed_id: str, directory: Path | None = None) -> FeedConfig:
    validate_feed_id(feed_id)
    path = (directory or configs_dir()) / f"{feed_id}.yaml"
    if not path.is_file():
        raise ConfigError(f"no config for feed {feed_id!r} (looked for {path})")
    return load_config(path)
