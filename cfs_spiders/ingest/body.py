"""A response's bytes as the feed meant them: gzip files opened.

A server that compresses its answers says so in ``Content-Encoding`` and Scrapy's
``HttpCompressionMiddleware`` undoes it before a spider sees the body. A feed
published as a ``.gz`` file (``application/gzip``, or a plain download whose bytes
start with the gzip magic number) arrives still compressed: those bytes are opened
here, for every platform, with the same size cap as a download
(``DOWNLOAD_MAXSIZE``), so a small file cannot expand without bound.
"""

from __future__ import annotations

import zlib
from typing import Any

from scrapy.http import Response

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


class BodyTooLarge(ValueError):
    """A compressed body that expands past the size cap."""


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data``, decompressed; at most ``limit`` bytes."""
    out = bytearray()
    while data[:2] == GZIP_MAGIC:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = inflater.decompress(data, _CHUNK)
        while chunk:
            out += chunk
            if limit and len(out) > limit:
                raise BodyTooLarge(f"gzip body expands past {limit} bytes")
            chunk = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
        if not inflater.eof:
            raise zlib.error("gzip body cut short")
        data = inflater.unused_data
    return bytes(out)


def response_body(response: Response, spider: Any = None) -> bytes:
    """The body, opened when it is a gzip file (not when the transport was
    compressed: the middleware already undid that)."""
    body = response.body
    if body[:2] != GZIP_MAGIC:
        return body
    limit = 0
    settings = getattr(spider, "settings", None)
    if settings is not None:
        limit = settings.getint("DOWNLOAD_MAXSIZE", 0)
    try:
        return gunzip(body, limit)
    except (zlib.error, BodyTooLarge) as exc:
        if spider is not None and hasattr(spider, "expect"):
            spider.expect(False, response, f"unreadable gzip body ({exc})")
        raise
