"""``cfs check --live``: does each live feed still serve what its config maps?

Portals rename columns, split date and time, move datasets; a config that no
longer matches stores calls with empty elements and nobody notices. This check
asks each feed politely for one small page (the platform spider's own first
request, with a page of ``sample`` rows, the project's User-Agent, one request per
feed) and reports, per feed: the raw fields the mapping reads that no row carries
(drift), the fields the rows carry that the mapping does not read (new ones since
the last check are named), and the times that do not parse. Nothing is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from scrapy.crawler import Crawler
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.settings import Settings

from ..config.loader import FeedConfig
from .spiderloader import spider_class
from .spiders.base import spec_paths

MAX_BYTES = 5_000_000


@dataclass
class LiveCheck:
    """One feed's answer to the check."""

    feed_id: str
    url: str = ""
    rows: int = 0
    missing: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)
    unparsed_times: dict[str, int] = field(default_factory=dict)
    parsed_times: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def drift(self) -> bool:
        """A mapped field gone, a time no longer read, or no answer at all."""
        return bool(self.error or self.missing or self.unparsed_times)

    def lines(self) -> list[str]:
        head = f"{self.feed_id}: " + ("DRIFT" if self.drift else "ok")
        out = [f"{head} ({self.rows} rows from {self.url or '-'})"]
        if self.error:
            out.append(f"  error: {self.error}")
        if self.missing:
            out.append(f"  mapped fields missing: {', '.join(self.missing)}")
        if self.unparsed_times:
            bad = ", ".join(f"{k} ({v} rows)" for k, v in self.unparsed_times.items())
            out.append(f"  times not parsed: {bad}")
        if self.new_fields:
            out.append(f"  new fields: {', '.join(self.new_fields)}")
        if self.parsed_times:
            ok = ", ".join(f"{k} {v}/{self.rows}" for k, v in self.parsed_times.items())
            out.append(f"  times parsed: {ok}")
        return out


def _spider(cfg: FeedConfig, settings: Settings, sample: int) -> Any:
    cls = spider_class(cfg)
    spider = cls.from_crawler(Crawler(cls, settings), replay=False)
    spider.request_options["page_size"] = sample
    return spider


def _mapped_tops(spider: Any) -> set[str]:
    """Top-level raw field names the live mapping reads."""
    tops = set()
    for name, spec in spider.builder.record_spec.items():
        specs = spec.values() if name == "area" and isinstance(spec, dict) else [spec]
        for one in specs:
            tops.update(p.split(".")[0] for p in spec_paths(one))
    tops.update(spider.builder.key_raw_fields() or ())
    return tops


def check_feed(
    cfg: FeedConfig,
    settings: Settings,
    *,
    sample: int = 5,
    timeout: float = 30.0,
    known: set[str] | None = None,
) -> tuple[LiveCheck, set[str]]:
    """Check one feed; returns the result and the raw fields its rows carried."""
    result = LiveCheck(cfg.feed_id)
    try:
        spider = _spider(cfg, settings, sample)
        request = next(iter(spider.first_requests()))
    except Exception as exc:  # a config the spider cannot start from
        result.error = f"{type(exc).__name__}: {exc}"
        return result, set()
    result.url = request.url
    headers = {k.decode(): v[0].decode() for k, v in request.headers.items() if v}
    headers["User-Agent"] = str(settings.get("USER_AGENT"))
    try:
        with urlopen(Request(request.url, headers=headers), timeout=timeout) as resp:
            body = resp.read(MAX_BYTES)
            status, raw_headers = resp.status, resp.headers.items()
    except HTTPError as exc:
        result.error = f"HTTP {exc.code} for {request.url}"
        return result, set()
    except (URLError, OSError) as exc:
        result.error = f"{type(exc).__name__} for {request.url}: {exc}"
        return result, set()
    scrapy_headers = Headers(dict(raw_headers))
    cls = responsetypes.from_args(headers=scrapy_headers, url=request.url, body=body)
    response = cls(
        url=request.url,
        status=status,
        headers=scrapy_headers,
        body=body,
        request=request,
    )
    spider.run.fetched_at = datetime.now(UTC)
    try:
        raws = [r for r in spider.extract(response) if isinstance(r, dict)][:sample]
    except Exception as exc:  # an error page, a changed format
        result.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        return result, set()
    result.rows = len(raws)
    seen = {k for r in raws for k in r if isinstance(k, str)}
    spider.run.seen_fields = set(seen)
    if raws:
        result.missing = spider.absent_fields()
    else:
        result.error = "no rows in the page: nothing to compare"
    tops = _mapped_tops(spider)
    result.unmapped = sorted(seen - tops)
    result.new_fields = sorted(seen - tops - known) if known is not None else []
    for raw in raws:
        try:
            rec = spider.builder.build(
                raw,
                fetched_at=spider.run.fetched_at,
                source_url=request.url,
                run_id=spider.run_id,
            )
        except Exception as exc:  # one bad row: say so, go on
            result.error = f"record not built: {type(exc).__name__}: {exc}"
            continue
        for flag in (rec.get("time_flags") or "").split(";"):
            name, _, what = flag.partition(":")
            if what == "unparsed":
                result.unparsed_times[name] = result.unparsed_times.get(name, 0) + 1
        for ts in spider.builder.time_specs:
            if rec.get(f"{ts}_at_utc"):
                result.parsed_times[ts] = result.parsed_times.get(ts, 0) + 1
    return result, seen


def check_live(
    configs: list[FeedConfig],
    settings: Settings,
    *,
    state_file: Path | None = None,
    sample: int = 5,
) -> list[LiveCheck]:
    """Check each feed in turn; the fields seen are kept in ``state_file`` (JSON,
    feed -> fields) so that the next check can name the fields that are new."""
    known: dict[str, list[str]] = {}
    if state_file is not None and state_file.is_file():
        known = json.loads(state_file.read_text(encoding="utf-8"))
    results = []
    for cfg in configs:
        if not cfg.has_feed:
            continue
        before = known.get(cfg.feed_id)
        result, seen = check_feed(
            cfg,
            settings,
            sample=sample,
            known=set(before) if before is not None else None,
        )
        if seen:
            known[cfg.feed_id] = sorted(seen)
        results.append(result)
    if state_file is not None:
        from ..exports.files import write_atomic

        text = json.dumps(known, indent=2, sort_keys=True) + "\n"
        write_atomic(state_file, text.encode("utf-8"))
    return results
