"""Read a saved response and say what it is: the format, then the platform.

The drafter is given files a person saved from a feed, with nothing said about
them. The format is read from the bytes (JSON, JSON Lines, CSV, XML, HTML), never
from the file name alone, because saved responses are often misnamed (an
``.aspx`` that is HTML, a ``.cfm`` that is Atom). The platform is what the
project's spiders call a family of feeds; it comes from the URL where the URL
says (a Socrata ``/resource/`` id, an ArcGIS ``FeatureServer/0/query``), else
from the content (ArcGIS query JSON has ``features[].attributes``, a Socrata
response is a list of flat all-string rows).

A file that is none of the formats is refused with an error naming it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException

from ..ingest.parsers import parse_xml

FORMATS = ("json", "jsonl", "csv", "xml", "html")
CONTENT_TYPES = {
    "json": "application/json",
    "jsonl": "application/json",
    "csv": "text/csv",
    "xml": "application/xml",
    "html": "text/html",
}
_SOCRATA_URL = re.compile(r"/resource/[a-z0-9]{4}-[a-z0-9]{4}(?:\.(json|csv))?", re.I)
_ARCGIS_URL = re.compile(r"/rest/services/.+/(?:FeatureServer|MapServer)/\d+", re.I)
_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|body|table|tr|td|div)\b", re.I)
_SOCRATA_KEY = re.compile(r"^(?::@computed_region_\w+|:\w+|[a-z_][a-z0-9_]*)$")


class DraftError(ValueError):
    """A draft that cannot be made; the message names the file or the option."""


@dataclass
class Capture:
    """One saved response, read."""

    path: Path
    body: bytes
    format: str
    text: str
    data: Any = None  # JSON value, list of JSON Lines values, or XML root
    notes: list[str] = field(default_factory=list)
    unpacked: bool = False  # the file was gzip; ``body`` is what it holds

    @property
    def name(self) -> str:
        """The file's name in the fixture folder: a gzipped file is kept unpacked
        (the saved response is its body), without the ``.gz``."""
        name = self.path.name
        if self.unpacked:
            return name[:-3] if name.lower().endswith(".gz") else f"{name}.unpacked"
        return name

    @property
    def content_type(self) -> str:
        if self.format == "xml" and self.data is not None:
            tag = self.data.tag
            if tag.endswith("}feed"):
                return "application/atom+xml"
            if tag == "rss":
                return "application/rss+xml"
        return CONTENT_TYPES[self.format]


def _decode(body: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DraftError(f"{path}: cannot decode the file as text")  # pragma: no cover


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body.decode("utf-8", "replace"), strict=False)


def _json_lines(text: str) -> list[Any] | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    values = []
    for line in lines:
        try:
            values.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            return None
    return values if all(isinstance(v, dict) for v in values) else None


def _looks_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    width = len(rows[0])
    if width < 2:
        return False
    same = sum(1 for r in rows[1:] if len(r) == width)
    return same >= 0.8 * (len(rows) - 1)


MAX_UNPACKED = 512 * 1024 * 1024


def _gunzip(body: bytes) -> bytes:
    """The body of a gzip file, refusing one that unpacks past MAX_UNPACKED."""
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
        out = fh.read(MAX_UNPACKED + 1)
    if len(out) > MAX_UNPACKED:
        raise ValueError(f"unpacks to more than {MAX_UNPACKED} bytes")
    return out


def read_capture(path: str | Path) -> Capture:
    """Read one saved response and find its format; DraftError names the file.
    A gzip file is read unpacked (the saved response is its body)."""
    path = Path(path)
    cap = _read(path)
    with path.open("rb") as fh:
        cap.unpacked = fh.read(2) == b"\x1f\x8b"
    return cap


def _read(path: Path) -> Capture:
    path = Path(path)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise DraftError(f"{path}: cannot read: {exc.strerror or exc}") from None
    gzipped = body[:2] == b"\x1f\x8b"
    if gzipped:
        try:
            body = _gunzip(body)
        except (OSError, EOFError, ValueError) as exc:
            raise DraftError(f"{path}: a broken gzip file ({exc})") from None
    if not body.strip():
        raise DraftError(f"{path}: the file is empty")
    text = _decode(body, path)
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            return Capture(path, body, "json", text, _json(body))
        except ValueError:
            lines = _json_lines(text)
            if lines is not None:
                return Capture(path, body, "jsonl", text, lines)
            raise DraftError(
                f"{path}: starts like JSON but is neither JSON nor JSON Lines"
            ) from None
    if head == "<":
        is_html = bool(_HTML_HINT.search(body[:20000]))
        if not is_html or body.lstrip()[:5] == b"<?xml":
            try:
                root: Element = parse_xml(body)
            except DefusedXmlException as exc:
                raise DraftError(
                    f"{path}: XML with a DTD or entities is refused "
                    f"({type(exc).__name__})"
                ) from None
            except ParseError as exc:
                if not is_html:
                    raise DraftError(f"{path}: not well-formed XML ({exc})") from None
            else:
                if root.tag.lower() != "html" and not root.tag.endswith("}html"):
                    return Capture(path, body, "xml", text, root)
        if b"<table" in body.lower() or b"<tr" in body.lower():
            return Capture(path, body, "html", text)
        raise DraftError(f"{path}: an HTML page without a data table")
    if _looks_csv(text):
        return Capture(path, body, "csv", text)
    snippet = text.strip()[:60].replace("\n", " ")
    raise DraftError(
        f"{path}: not JSON, JSON Lines, CSV, XML or HTML (starts {snippet!r})"
    )


def platform_from_url(url: str | None) -> str | None:
    if not url:
        return None
    if _SOCRATA_URL.search(url):
        return "socrata"
    if _ARCGIS_URL.search(url):
        return "arcgis"
    return None


def is_arcgis_json(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("features"), list)
        and (
            "fields" in data
            or "geometryType" in data
            or any(isinstance(f, dict) and "attributes" in f for f in data["features"])
        )
    )


def is_geojson(data: Any) -> bool:
    features = data.get("features") if isinstance(data, dict) else data
    return (
        isinstance(features, list)
        and bool(features)
        and all(
            isinstance(f, dict) and f.get("type") == "Feature" and "properties" in f
            for f in features[:50]
        )
    )


def is_socrata_rows(data: Any) -> bool:
    """A SODA JSON response: a list of flat objects whose values are strings (or a
    nested location object), with the API's snake_case field names."""
    if not isinstance(data, list) or not data:
        return False
    rows = [r for r in data[:200] if isinstance(r, dict)]
    if len(rows) < len(data[:200]) or not rows:
        return False
    keys = {k for r in rows for k in r}
    if not all(_SOCRATA_KEY.match(k) for k in keys):
        return False
    scalars = [v for r in rows for v in r.values() if not isinstance(v, dict)]
    return bool(scalars) and all(isinstance(v, str) for v in scalars)


def detect_platform(
    captures: list[Capture], url: str | None = None, hint: str | None = None
) -> tuple[str, str]:
    """(platform, why) for a set of saved responses of one feed."""
    formats = {c.format for c in captures}
    by_url = platform_from_url(url)
    if hint:
        return hint, "given with --platform"
    if formats == {"html"}:
        return "html_table", "HTML page with a table"
    if formats == {"xml"}:
        root = captures[0].data
        kind = (
            "Atom"
            if root.tag.endswith("}feed")
            else "RSS"
            if root.tag == "rss"
            else "XML"
        )
        return "xml", f"{kind} document"
    if formats <= {"json", "jsonl"}:
        data = [c.data for c in captures if c.format == "json"]
        if data and all(is_arcgis_json(d) for d in data):
            return "arcgis", "ArcGIS query JSON (features[].attributes)"
        if by_url == "socrata" and all(isinstance(d, list) for d in data):
            return "socrata", "Socrata URL; a JSON array of rows"
        if (
            data
            and not formats - {"json"}
            and by_url in (None, "socrata")
            and all(is_socrata_rows(d) for d in data)
        ):
            return "socrata", "a JSON array of flat all-string rows (SODA)"
        if data and all(is_geojson(d) for d in data):
            return "json", "GeoJSON features (read as JSON, fields under properties)"
        if "jsonl" in formats:
            return "json", "JSON Lines (one record per line)"
        return "json", "JSON"
    if formats <= {"csv", "json"} and by_url == "socrata":
        return "socrata", "Socrata URL; SODA CSV/JSON responses"
    if formats == {"csv"}:
        return "csv", "CSV with a header row"
    names = ", ".join(f"{c.name} ({c.format})" for c in captures)
    raise DraftError(
        f"the files are in different formats ({names}): draft them as separate "
        "feeds, or give one format"
    )
