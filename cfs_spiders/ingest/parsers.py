"""Response parsers shared by the platform spiders: CSV rows, JSON (with recovery
from invalid UTF-8), JSON Lines, GeoJSON features, untrusted XML, HTML table cells.
A body that is itself a gzip file is opened first (``body.py``).

A spider that reads another platform's format (Socrata's CSV and JSON, ArcGIS's
JSON) takes the parser from here, not from the sibling spider. ``spider`` is the
feed spider the response belongs to: its ``expect`` turns what is not the expected
format into a run error naming the response.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

import orjson
from defusedxml.ElementTree import fromstring
from scrapy.http import Response
from scrapy.selector import Selector

from ..records.mapping import get_path
from .body import response_body

JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines")

csv.field_size_limit(10_000_000)


def csv_records(
    response: Response, options: dict[str, Any], spider: Any
) -> Iterator[dict[str, Any]]:
    """Rows as dicts keyed by the header; ``null_values`` become None."""
    encoding = options.get("encoding") or "utf-8-sig"
    text = response_body(response, spider).decode(encoding, errors="replace")
    head = text.lstrip()[:1]
    spider.expect(head not in ("<", "{", "["), response, "expected CSV")
    reader = csv.DictReader(io.StringIO(text), delimiter=options.get("delimiter", ","))
    spider.expect(bool(reader.fieldnames), response, "CSV without a header row")
    nulls = set(options.get("null_values") or ())
    for row in reader:
        if None in row:  # more cells than header names: keep them, named
            row["_extra"] = row.pop(None)
        if nulls:
            row = {k: (None if v in nulls else v) for k, v in row.items()}
        yield row


def _clean(value: Any) -> Any:
    """Strings without lone surrogates (they cannot be stored or exported)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def read_by_json(spider: Any) -> None:
    """The page is (partly) read by ``json``, which reads ``NaN``, ``Infinity``
    and ``1e400`` where orjson refuses them: its raw records may hold a float
    that is not finite (``FeedSpider.raw_finite``)."""
    spider.page_raw_finite = False


def load_json(response: Response, spider: Any) -> Any:
    """The response as JSON. Invalid UTF-8 (or a lone surrogate escape) in a value
    is replaced, counted in the run report, and the rest of the listing kept."""
    body = response_body(response, spider)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    text = body.decode("utf-8", errors="replace")
    read_by_json(spider)
    try:
        data = _clean(json.loads(text, strict=False))
    except ValueError:
        spider.expect(False, response, f"expected JSON ({error})")
    if spider.builder is not None:
        spider.builder.counts["response:json_recovered"] += 1
    return data


def records_at(data: Any, paths: list[str]) -> list[Any] | None:
    for path in paths:
        node = (
            data
            if path in ("", "$")
            else get_path(data, path)
            if isinstance(data, dict)
            else None
        )
        if isinstance(node, list):
            return node
    return None


def is_json_lines(response: Response, options: dict[str, Any]) -> bool:
    """JSON Lines by the config (``format: jsonl``) or by the Content-Type."""
    if options.get("format"):
        return options["format"] == "jsonl"
    ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    return any(t in ctype for t in JSONL_TYPES)


def json_lines(response: Response, spider: Any) -> Iterator[Any]:
    """One JSON value per non-blank line. A line that does not parse (a response
    cut mid-line) is reported with its number and the run is not a complete read;
    the other lines are kept."""
    body = response_body(response, spider)
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            read_by_json(spider)
            try:
                yield _clean(json.loads(line.decode("utf-8", "replace"), strict=False))
            except ValueError as exc:
                if spider.run is not None:
                    spider.run.errors.append(
                        f"line {number} of {response.url} is not JSON ({exc}): "
                        f"{line[:60]!r}"
                    )


def geojson_feature(feature: Any) -> Any:
    """A GeoJSON Feature as a flat raw record: its ``properties``, ``feature.id``,
    and for a Point ``geometry.x``/``geometry.y`` (longitude, latitude: the names
    the ArcGIS spider gives a layer's point). Anything else is returned as is."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return feature
    rec = dict(feature.get("properties") or {})
    if feature.get("id") is not None:
        rec.setdefault("feature.id", feature["id"])
    geometry = feature.get("geometry") or {}
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if (
        geometry.get("type") == "Point"
        and isinstance(coords, list)
        and len(coords) >= 2
    ):
        rec["geometry.x"], rec["geometry.y"] = coords[0], coords[1]
    return rec


def geojson_features(data: Any) -> list[Any] | None:
    """The features of a FeatureCollection, or a list of Features; else None."""
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        return features if isinstance(features, list) else None
    if isinstance(data, list):
        return data
    return None


def parse_xml(body: bytes) -> Element:
    """Parse untrusted XML: no DTD, no entities, no external references."""
    return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)


def cell_text(cell: Selector) -> str | None:
    text = " ".join(t.strip() for t in cell.xpath(".//text()").getall() if t.strip())
    return text or None
