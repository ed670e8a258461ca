"""HTML pages -> raw rows, from a declarative spec (no Python per city).

A page may hold its calls in several places, and each is a *source* of rows:

- ``tables``: one or more tables, each found by XPath, rows by position
  (``columns``; tables without a header row need nothing more), a header row
  checked against the expected texts, several rows per record
  (``rows_per_record`` or ``record_start_xpath``), spacer and pager rows skipped,
  constant or derived raw fields per table (``add_fields``, e.g. which of three
  tables a row came from), the ``href`` of a cell's link, an empty-state message
  that means "no calls now" rather than "the layout changed";
- ``scripts``: a JavaScript array or object literal inside a ``<script>``
  (``var Locations = new Array([...])``), parsed with chompjs (a literal is data,
  never run), either records of their own or joined onto table rows by a key
  (``join``), so one call's grid row and map marker become one raw record.

Every row is a plain dict of published text, so the feed's ``record`` mapping
reads it like any other platform's record. A source that is missing, or whose
header changed, raises ``LayoutError``: a changed page fails loudly instead of
yielding blank calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import chompjs
from scrapy.selector import Selector

from ..records.mapping import compile_spec, get_path
from .parsers import cell_text  # LOWER<br>MERION reads LOWER MERION

# Rows of a table element, not of tables nested in its cells.
DEFAULT_ROW_XPATH = "./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr"
Rows = list[dict[str, Any]]
# (rows, source name, rows are records) -> the rows kept
Exclude = Callable[[Rows, str, bool], Rows]


class LayoutError(ValueError):
    """The page is not laid out as its config says (a source or header changed)."""


def table_specs(opts: dict[str, Any]) -> list[dict[str, Any]]:
    """The tables to read: ``tables``, or the single legacy spec (``row_xpath``
    over the whole page, ``columns``, ``min_cells``, ``cell_class_field``)."""
    if opts.get("tables"):
        return list(opts["tables"])
    legacy = {
        k: opts[k]
        for k in ("columns", "min_cells", "cell_class_field", "empty_text")
        if k in opts
    }
    legacy["row_xpath"] = opts.get("row_xpath", "//table//tr")
    legacy["document"] = True
    return [legacy]


def _adders(spec: dict[str, Any]) -> list[tuple[str, Callable[[dict], Any]]]:
    return [
        (name, compile_spec(s)) for name, s in (spec.get("add_fields") or {}).items()
    ]


def _add(row: dict[str, Any], adders: list[tuple[str, Callable]]) -> dict[str, Any]:
    for name, getter in adders:
        row[name] = getter(row)
    return row


def _blank(cells: list[Selector]) -> bool:
    return all(cell_text(c) is None for c in cells)


def _groups(rows: list[Selector], spec: dict[str, Any]) -> Iterator[list[Selector]]:
    """Rows of one record each: one row, a fixed number, or from each row that
    matches ``record_start_xpath`` up to the next."""
    start = spec.get("record_start_xpath")
    if start:
        group: list[Selector] = []
        for row in rows:
            if row.xpath(start) and group:
                yield group
                group = []
            if row.xpath(start) or group:
                group.append(row)
        if group:
            yield group
        return
    size = int(spec.get("rows_per_record", 1))
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def table_rows(doc: Selector, spec: dict[str, Any], index: int) -> Rows:
    """Raw rows of one table spec (every table its ``xpath`` matches)."""
    name = spec.get("name") or f"table{index}"
    if spec.get("document"):
        tables = [doc]
    else:
        tables = doc.xpath(spec["xpath"])
        if not tables:
            if spec.get("required", True):
                raise LayoutError(f"table {name!r}: no element at {spec['xpath']!r}")
            return []
    columns: list[str | None] = spec.get("columns") or []
    min_cells = int(spec.get("min_cells", len(columns) or 1))
    cell_xpath = spec.get("cell_xpath", "./td")
    links = spec.get("cell_links") or {}
    class_field = spec.get("cell_class_field")
    skip = spec.get("skip_row_xpath")
    adders = _adders(spec)
    empty = spec.get("empty_text")
    out: Rows = []
    for table in tables:
        rows = table.xpath(spec.get("row_xpath", DEFAULT_ROW_XPATH))
        text = " ".join(table.xpath(".//text()").getall())
        header_rows = int(spec.get("header_rows", 0))
        expected = spec.get("expect_header")
        if expected is not None:
            header_rows = max(header_rows, 1)
            got = (
                [cell_text(c) or "" for c in rows[0].xpath("./td|./th")] if rows else []
            )
            if got != list(expected):
                if empty and re.search(empty, text):
                    continue  # an empty board may show its message without a header
                raise LayoutError(
                    f"table {name!r}: header {got} is not the expected {list(expected)}"
                )
        body = rows[header_rows:]
        body = [r for r in body if not (skip and r.xpath(skip))]
        body = [r for r in body if not _blank(r.xpath(cell_xpath))]  # spacer rows
        found = 0
        for group in _groups(body, spec):
            cells = [c for r in group for c in r.xpath(cell_xpath)]
            if len(cells) < min_cells:
                continue
            found += 1
            row: dict[str, Any] = {}
            for col, cell in zip(columns, cells, strict=False):
                if col:
                    row[col] = cell_text(cell)
            for col, field in links.items():
                if col in columns and columns.index(col) < len(cells):
                    cell = cells[columns.index(col)]
                    row[field] = cell.xpath(".//a/@href").get()
            if class_field and cells:
                row[class_field] = cells[0].attrib.get("class")
            out.append(_add(row, adders))
        if (
            body
            and not found
            and expected is None
            and not (empty and re.search(empty, text))
        ):
            raise LayoutError(
                f"table {name!r}: no row has {min_cells} cells: layout changed"
            )
    return out


def _literal_start(text: str, pattern: re.Pattern[str]) -> int | None:
    m = pattern.search(text)
    if not m:
        return None
    return m.start(1) if pattern.groups else m.end()


def script_rows(doc: Selector, spec: dict[str, Any], index: int) -> Rows:
    """Raw rows of a JavaScript literal in the page's scripts."""
    name = spec.get("name") or f"script{index}"
    pattern = re.compile(spec["pattern"], re.S)
    for text in doc.xpath(spec.get("xpath", "//script/text()")).getall():
        start = _literal_start(text, pattern)
        if start is None:
            continue
        try:
            value = chompjs.parse_js_object(text[start:])
        except ValueError as exc:
            raise LayoutError(
                f"script {name!r}: not a JavaScript literal: {exc}"
            ) from None
        path = spec.get("path", "")
        node = value if path in ("", "$") else get_path(value, path)
        if isinstance(node, dict):
            node = [node]
        if not isinstance(node, list):
            raise LayoutError(f"script {name!r}: no list of records at path {path!r}")
        adders = _adders(spec)
        return [_add(dict(r), adders) for r in node if isinstance(r, dict)]
    if spec.get("required", True):
        raise LayoutError(f"script {name!r}: no <script> matches {spec['pattern']!r}")
    return []


def _join(
    rows: Rows, extra: Rows, spec: dict[str, Any], name: str, counts: dict[str, int]
) -> None:
    """Attach each script row to the table rows with the same key, under
    ``join.as``; script rows that match no table row are counted."""
    join = spec["join"]
    key, on, into = join["key"], join["table_key"], join.get("as", name)
    by_key: dict[str, dict[str, Any]] = {}
    for row in extra:
        value = row.get(key)
        if value in (None, ""):
            counts[f"{name}:no_key"] = counts.get(f"{name}:no_key", 0) + 1
        elif str(value) in by_key:
            counts[f"{name}:duplicate_key"] = counts.get(f"{name}:duplicate_key", 0) + 1
        else:
            by_key[str(value)] = row
    matched: set[str] = set()
    for row in rows:
        value = row.get(on)
        hit = by_key.get(str(value)) if value not in (None, "") else None
        if hit is not None:
            row[into] = hit
            matched.add(str(value))
    unmatched = len(by_key) - len(matched)
    if unmatched:
        counts[f"{name}:unjoined"] = counts.get(f"{name}:unjoined", 0) + unmatched


def page_rows(
    doc: Selector,
    opts: dict[str, Any],
    *,
    exclude: Exclude | None = None,
    counts: dict[str, int] | None = None,
) -> Rows:
    """Every record of a page: table rows (in page order) with joined script
    rows, then script rows that are records of their own. ``exclude`` drops
    flagged rows of each source before any join (replay of edited captures)."""
    counts = {} if counts is None else counts
    keep = exclude or (lambda rows, source, records: rows)
    rows: Rows = []
    if opts.get("tables") or not opts.get("scripts"):
        for i, spec in enumerate(table_specs(opts)):
            name = spec.get("name") or f"table{i}"
            rows.extend(keep(table_rows(doc, spec, i), name, True))
    standalone: Rows = []
    for i, spec in enumerate(opts.get("scripts") or ()):
        name = spec.get("name") or f"script{i}"
        found = keep(script_rows(doc, spec, i), name, "join" not in spec)
        if "join" in spec:
            _join(rows, found, spec, name, counts)
        else:
            standalone.extend(found)
    return rows + standalone
