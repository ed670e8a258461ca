"""Retries that back off: exponential delay per attempt, Retry-After honoured.

Scrapy's own retry middleware re-queues at once; a site that answers 429 or 503
deserves a pause. The wait happens inside the downloader middleware, without blocking
the reactor (other feeds go on). A Retry-After longer than ``CFS_BACKOFF_MAX`` is
not waited out: the request is given up and the run says why.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater

log = logging.getLogger(__name__)


def retry_after_seconds(
    value: bytes | str | None, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    # delta-seconds is ASCII digits (RFC 9110): ``isdigit`` alone also takes
    # superscripts such as ``\xb2`` (a latin-1 header byte), which float() refuses
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


async def sleep(seconds: float) -> None:
    if seconds <= 0:
        return
    await deferred_to_future(deferLater(reactor, seconds, lambda: None))


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("CFS_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("CFS_BACKOFF_MAX", 300.0)

    def delay(self, request: Request, response: Response | None) -> float:
        attempt = request.meta.get("retry_times", 0)
        wait = min(self.cap, self.base * (2**attempt)) * (0.5 + random.random() / 2)
        if response is not None:
            after = retry_after_seconds(response.headers.get(b"Retry-After"))
            if after is not None:
                wait = min(self.cap, max(wait, after))
        return wait

    async def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False):
            return response
        if response.status in self.retry_http_codes:
            reason = f"HTTP {response.status}"
            after = retry_after_seconds(response.headers.get(b"Retry-After"))
            if after is not None and after > self.cap:
                # Asked to come back later than we are willing to wait: asking
                # sooner would ignore the server, so give up and say why.
                request.meta["cfs_retry_note"] = (
                    f"Retry-After {after:.0f}s exceeds CFS_BACKOFF_MAX "
                    f"{self.cap:.0f}s: not retried"
                )
                return response
            retry = get_retry_request(
                request,
                spider=self.crawler.spider,
                reason=reason,
                max_retry_times=self.max_retry_times,
            )
            if retry is None:
                request.meta["cfs_retry_note"] = (
                    f"gave up after {request.meta.get('retry_times', 0)} retries"
                )
                return response
            wait = self.delay(request, response)
            log.info("%s: %s, retrying in %.1fs", request.url, reason, wait)
            await sleep(wait)
            return retry
        return response

    async def process_exception(
        self, request: Request, exception: Exception, spider: Any = None
    ) -> Request | Response | None:
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get(
            "dont_retry", False
        ):
            retry = get_retry_request(
                request,
                spider=self.crawler.spider,
                reason=type(exception).__name__,
                max_retry_times=self.max_retry_times,
            )
            if retry is None:
                request.meta["cfs_retry_note"] = (
                    f"gave up after {request.meta.get('retry_times', 0)} retries"
                )
                return None
            await sleep(self.delay(request, None))
            return retry
        return None
