"""XML feeds: Atom, RSS and plain XML, parsed without DTDs or entity expansion.

``defusedxml`` refuses a document type declaration, entity declarations and
external references outright, so an entity bomb or an XXE is an error, never
expanded. HTML escaped inside an element (Portland's ``<content type="html">``)
arrives as text and is read by the ``html_dl`` mapping step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from scrapy.http import Response

from ..parsers import parse_xml
from .base import FeedSpider


def _value(node: Element, path: str, ns: dict[str, str]) -> str | None:
    if path == ".":
        return "".join(node.itertext()).strip() or None
    if path.startswith("@"):
        return node.get(_qualify(path[1:], ns))
    if "/@" in path:
        elem_path, attr = path.rsplit("/@", 1)
        found = node.find(elem_path, ns)
        return None if found is None else found.get(_qualify(attr, ns))
    found = node.find(path, ns)
    if found is None:
        return None
    return "".join(found.itertext()).strip() or None


def _qualify(name: str, ns: dict[str, str]) -> str:
    if ":" in name:
        prefix, local = name.split(":", 1)
        if prefix in ns:
            return f"{{{ns[prefix]}}}{local}"
    return name


class XmlSpider(FeedSpider):
    platform = "xml"
    raw_finite = True  # see FeedSpider.raw_finite

    def extract(self, response: Response) -> Iterator[dict[str, Any]]:
        try:
            root = parse_xml(response.body)
        except DefusedXmlException as exc:
            self.expect(False, response, f"refused unsafe XML ({type(exc).__name__})")
        except ParseError as exc:
            self.expect(False, response, f"expected XML ({exc})")
        ns = self.parse_options.get("namespaces") or {}
        path = self.parse_options.get("record_path")
        self.expect(bool(path), response, "parse.record_path missing")
        fields = self.parse_options.get("fields") or {}
        for node in root.iterfind(path, ns):
            yield {name: _value(node, p, ns) for name, p in fields.items()}
