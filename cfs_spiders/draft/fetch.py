"""``cfs new --url`` without files: save one small page of the live feed.

Politely: robots.txt is read first and obeyed for the project's user agent (the
one every crawl sends, from ``settings.USER_AGENT``), then exactly one request is
made for the page. Socrata and ArcGIS URLs ask for a small page (200 records);
any other URL is fetched as given. The body is saved unchanged as the fixture,
and the response's ``Date`` header (or the clock) is its capture time.
"""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse
from urllib.robotparser import RobotFileParser

from w3lib.url import add_or_replace_parameters

from .detect import DraftError, platform_from_url

SMALL_PAGE = 200
MAX_BYTES = 50 * 1024 * 1024
_EXT = {
    "json": "json",
    "csv": "csv",
    "xml": "xml",
    "rss": "xml",
    "atom": "xml",
    "html": "html",
}


@dataclass
class Fetched:
    path: Path
    captured_at: datetime
    url: str
    requests: int


def user_agent() -> str:
    from ..ingest import settings

    return settings.USER_AGENT


def small_page_url(url: str) -> str:
    """The URL of one small page of the feed (its platform's paging)."""
    platform = platform_from_url(url)
    if platform == "socrata":
        return add_or_replace_parameters(url, {"$limit": str(SMALL_PAGE)})
    if platform == "arcgis":
        base = (
            url
            if urlparse(url).path.rstrip("/").endswith("/query")
            else (url.split("?")[0].rstrip("/") + "/query")
        )
        return add_or_replace_parameters(
            base,
            {
                "f": "json",
                "where": "1=1",
                "outFields": "*",
                "resultRecordCount": str(SMALL_PAGE),
            },
        )
    return url


def _get(url: str, agent: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": agent})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_BYTES + 1)
            return response.status, dict(response.headers.items()), body
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise DraftError(
            f"{url}: cannot fetch: {getattr(exc, 'reason', exc)}"
        ) from None


def allowed(url: str, agent: str, timeout: float = 30.0) -> tuple[bool, int]:
    """(robots.txt allows the URL for ``agent``, requests made)."""
    parts = urlparse(url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    status, _, body = _get(robots_url, agent, timeout)
    parser = RobotFileParser(robots_url)
    if status in (401, 403):
        return False, 1
    if status >= 400:  # no robots.txt: everything is allowed
        return True, 1
    parser.parse(body.decode("utf-8", "replace").splitlines())
    return parser.can_fetch(agent, url), 1


def fetch_page(url: str, folder: Path, *, timeout: float = 30.0) -> Fetched:
    """Save one small page of ``url`` into ``folder``; refuse when robots.txt
    disallows it or the server does not answer 200."""
    if urlparse(url).scheme not in ("http", "https"):
        raise DraftError(f"--url {url!r}: expected an http(s) URL")
    agent = user_agent()
    page = small_page_url(url)
    ok, requests = allowed(page, agent, timeout)
    if not ok:
        raise DraftError(
            f"robots.txt of {urlparse(page).netloc} disallows {page} for {agent!r}: "
            "not fetched"
        )
    status, headers, body = _get(page, agent, timeout)
    requests += 1
    if status != 200:
        raise DraftError(f"{page}: HTTP {status}, not a page of the feed")
    if len(body) > MAX_BYTES:
        raise DraftError(f"{page}: larger than {MAX_BYTES} bytes: save a page by hand")
    captured = datetime.now(UTC)
    if headers.get("Date"):
        with contextlib.suppress(TypeError, ValueError):
            captured = parsedate_to_datetime(headers["Date"]).astimezone(UTC)
    ctype = (headers.get("Content-Type") or "").lower()
    ext = next((v for k, v in _EXT.items() if k in ctype), "txt")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"response_{captured:%Y-%m-%dT%H%M%SZ}.{ext}"
    path.write_bytes(body)
    return Fetched(path, captured, page, requests)
