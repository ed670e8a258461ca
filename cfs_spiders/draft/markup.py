"""Records in markup: the repeated XML element, the HTML table of similar rows.

XML: the record element is the element path that repeats most often among
elements with at least two kinds of child (RSS ``channel/item``, Atom ``entry``,
Orlando's ``CALL``); its fields are its children's text, its attributes and its
children's attributes (Atom ``category/@term``).

HTML: every ``<table>``'s own rows are read (not a nested table's). Data rows
are the rows with the table's most common number of ``<td>`` cells; a first row
of ``<th>`` cells, or of bold ``<td>`` cells, is the header that names the
columns. Tables with the same header are one list (a page of several tables of
one kind); the largest such list is the records. The row XPath is chosen from
the most specific handle the page offers (a shared row-id prefix, the table's
id, its class, its position) and is checked to select exactly those rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from parsel import Selector

from ..ingest.parsers import cell_text
from .detect import Capture, DraftError
from .located import Located, parse_options, response_entry, spider_extract

KNOWN_NS = {
    "http://www.w3.org/2005/Atom": "atom",
    "http://www.georss.org/georss": "georss",
    "http://www.w3.org/2003/01/geo/wgs84_pos#": "geo",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://search.yahoo.com/mrss/": "media",
}


def slug(text: str | None) -> str:
    """A raw field name from a header or tag: lower snake case."""
    value = re.sub(r"[^0-9a-zA-Z]+", "_", (text or "").strip()).strip("_").lower()
    return value


def _unique(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


# -------------------------------------------------------------------- XML
def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        uri, local = tag[1:].split("}", 1)
        return uri, local
    return None, tag


def _namespaces(root: Element) -> dict[str, str]:
    """prefix -> URI for every namespace used (well-known ones by their name)."""
    uris = []
    for elem in root.iter():
        uri, _ = _split(elem.tag)
        if uri and uri not in uris:
            uris.append(uri)
        for attr in elem.attrib:
            uri, _ = _split(attr)
            if uri and uri not in uris:
                uris.append(uri)
    out: dict[str, str] = {}
    for i, uri in enumerate(uris):
        prefix = KNOWN_NS.get(uri) or f"ns{i}"
        out[prefix] = uri
    return out


def _qname(tag: str, prefixes: dict[str, str]) -> str:
    uri, local = _split(tag)
    return f"{prefixes[uri]}:{local}" if uri else local


def _record_path(root: Element, namespaces: dict[str, str]) -> tuple[str, int]:
    prefixes = {v: k for k, v in namespaces.items()}
    counts: Counter[tuple[str, ...]] = Counter()
    kinds: dict[tuple[str, ...], set[str]] = {}

    def walk(elem: Element, path: tuple[str, ...]) -> None:
        for child in elem:
            if not isinstance(child.tag, str):
                continue
            cpath = (*path, _qname(child.tag, prefixes))
            counts[cpath] += 1
            kinds.setdefault(cpath, set()).update(
                c.tag for c in child if isinstance(c.tag, str)
            )
            kinds[cpath].update(f"@{a}" for a in child.attrib)
            walk(child, cpath)

    walk(root, ())
    candidates = [
        (n, -len(p), p) for p, n in counts.items() if n >= 1 and len(kinds[p]) >= 2
    ]
    if not candidates:
        raise DraftError("no repeated element with fields")
    n, _, path = max(candidates)
    return "/".join(path), n


def _xml_fields(root: Element, path: str, prefixes: dict[str, str]) -> dict[str, str]:
    by_uri = {v: k for k, v in prefixes.items()}
    fields: dict[str, str] = {}
    names: list[tuple[str, str]] = []
    seen: set[str] = set()
    for node in root.iterfind(path, prefixes):
        for attr in node.attrib:
            spec = f"@{_qname(attr, by_uri)}"
            if spec not in seen:
                seen.add(spec)
                names.append((slug(_split(attr)[1]), spec))
        for child in node:
            if not isinstance(child.tag, str):
                continue
            q = _qname(child.tag, by_uri)
            local = slug(_split(child.tag)[1])
            if (child.text or "").strip() and q not in seen:
                seen.add(q)
                names.append((local, q))
            for attr in child.attrib:
                spec = f"{q}/@{_qname(attr, by_uri)}"
                if spec not in seen and attr not in ("type", "rel"):
                    seen.add(spec)
                    names.append((f"{local}_{slug(_split(attr)[1])}", spec))
            for grand in child:
                if isinstance(grand.tag, str) and (grand.text or "").strip():
                    spec = f"{q}/{_qname(grand.tag, by_uri)}"
                    if spec not in seen:
                        seen.add(spec)
                        names.append((f"{local}_{slug(_split(grand.tag)[1])}", spec))
    for name, spec in zip(
        _unique([n for n, _ in names]), [s for _, s in names], strict=False
    ):
        fields[name] = spec
    return fields


def locate_xml(captures: list[Capture]) -> Located:
    root = captures[0].data
    prefixes = _namespaces(root)
    try:
        path, n = _record_path(root, prefixes)
    except DraftError as exc:
        raise DraftError(f"{captures[0].path}: {exc}") from None
    fields: dict[str, str] = {}
    for cap in captures:
        pre = _namespaces(cap.data)
        fields.update(
            {
                k: v
                for k, v in _xml_fields(cap.data, path, pre).items()
                if k not in fields
            }
        )
    parse: dict[str, Any] = {"record_path": path}
    used = {
        p.split(":")[0]
        for spec in [path, *fields.values()]
        for p in re.findall(r"([A-Za-z_][\w.-]*):", spec)
    }
    namespaces = {k: v for k, v in prefixes.items() if k in used}
    if namespaces:
        parse["namespaces"] = namespaces
    parse["fields"] = fields
    located = Located("xml", parse, [response_entry(c) for c in captures])
    located.evidence["record_path"] = (
        f"{n} <{path.rsplit('/', 1)[-1]}> elements in {captures[0].name}, "
        "the most repeated element with fields"
    )
    return located


# ------------------------------------------------------------------- HTML
@dataclass
class _Table:
    index: int  # position among //table (1-based)
    node: Selector
    rows_rel: str  # "tr" or "*/tr"
    header: list[str] | None
    header_is_td: bool
    width: int
    data_rows: list[Selector]


def _bold(cell: Selector) -> bool:
    text = "".join(t.strip() for t in cell.xpath(".//text()").getall())
    bold = "".join(
        t.strip() for t in cell.xpath(".//b//text() | .//strong//text()").getall()
    )
    return bool(text) and bold == text


def _tables(selector: Selector) -> list[_Table]:
    out = []
    for i, table in enumerate(selector.xpath("//table"), start=1):
        direct = table.xpath("./tr")
        rows, rel = (direct, "tr") if direct else (table.xpath("./*/tr"), "*/tr")
        if len(rows) < 2 and not direct:
            rows = table.xpath("./tr | ./*/tr")
        widths = Counter(len(r.xpath("./td")) for r in rows)
        widths.pop(0, None)
        widths.pop(1, None)
        if not widths:
            continue
        width = widths.most_common(1)[0][0]
        data = [r for r in rows if len(r.xpath("./td")) == width]
        header, header_td = None, False
        first = rows[0]
        ths = first.xpath("./th")
        if len(ths) >= 2:
            header = [cell_text(c) or "" for c in ths]
        else:
            cells = first.xpath("./td")
            if len(cells) == width and all(_bold(c) for c in cells):
                header, header_td = [cell_text(c) or "" for c in cells], True
                data = data[1:]
        if not data:
            continue
        out.append(_Table(i, table, rel, header, header_td, width, data))
    return out


def _group_key(t: _Table) -> tuple[Any, ...]:
    if not t.header:  # tables without a header are one list each
        return (None, t.width, t.index)
    return (tuple(slug(h) for h in t.header), t.width)


def _xpath_literal(text: str) -> str:
    return f"'{text}'" if "'" not in text else f'"{text}"'


def _row_xpaths(tables: list[_Table], all_tables: list[_Table]) -> list[str]:
    """Candidate row XPaths, most specific first."""
    out = []
    ids = [r.attrib.get("id") or "" for t in tables for r in t.data_rows]
    if all(ids):
        prefix = ids[0]
        for value in ids:
            while not value.startswith(prefix):
                prefix = prefix[:-1]
        prefix = re.sub(r"\d+$", "", prefix)
        if len(prefix) >= 2:
            out.append(f"//tr[starts-with(@id, {_xpath_literal(prefix)})]")
    skip = "[position() > 1]" if tables[0].header_is_td else ""
    rel = tables[0].rows_rel
    width = tables[0].width
    handles = []
    if len(tables) == 1:
        t = tables[0]
        tid = t.node.attrib.get("id")
        if tid:
            handles.append(f"//table[@id={_xpath_literal(tid)}]")
        klass = t.node.attrib.get("class")
        if klass:
            same = [x for x in all_tables if x.node.attrib.get("class") == klass]
            pos = [x.index for x in same].index(t.index) + 1
            handles.append(f"(//table[@class={_xpath_literal(klass)}])[{pos}]")
        handles.append(f"(//table)[{t.index}]")
    else:
        klass = tables[0].node.attrib.get("class")
        if klass and all(t.node.attrib.get("class") == klass for t in tables):
            handles.append(f"//table[@class={_xpath_literal(klass)}]")
        handles.append("//table")
    for handle in handles:
        out.append(f"{handle}/{rel}{skip}")
        out.append(f"{handle}/{rel}{skip}[count(td) = {width}]")
    return out


def locate_html(captures: list[Capture]) -> Located:
    first = captures[0]
    selector = Selector(text=first.text)
    tables = _tables(selector)
    if not tables:
        raise DraftError(f"{first.path}: no table with rows of two or more cells")
    groups: dict[tuple[Any, ...], list[_Table]] = {}
    for t in tables:
        groups.setdefault(_group_key(t), []).append(t)
    ranked = sorted(
        groups.values(),
        key=lambda g: sum(len(t.data_rows) for t in g) * g[0].width,
        reverse=True,
    )
    chosen = ranked[0]
    similar = [g for g in ranked[1:] if _similar(chosen, g)]
    if similar and "tables" in parse_options():
        return _several_tables(captures, selector, [chosen, *similar], ranked)
    n_rows = sum(len(t.data_rows) for t in chosen)
    header = chosen[0].header
    columns = (
        _unique([slug(h) or f"col_{i + 1}" for i, h in enumerate(header)])
        if (header)
        else [f"col_{i + 1}" for i in range(chosen[0].width)]
    )
    located = Located("html_table", {}, [response_entry(c) for c in captures])
    located.headerless = header is None
    expected = n_rows
    for xpath in _row_xpaths(chosen, tables):
        parse = {"row_xpath": xpath, "columns": columns, "min_cells": chosen[0].width}
        got = spider_extract("html_table", parse, first.body, first.content_type)
        if len(got) == expected:
            located.parse = parse
            break
    else:
        raise DraftError(
            f"{first.path}: found {expected} rows of {chosen[0].width} cells but no "
            "row XPath that selects exactly them"
        )
    classes = Counter(
        (r.xpath("./td")[0].attrib.get("class") or "")
        for t in chosen
        for r in t.data_rows
    )
    if 2 <= len(classes) <= 6 and "" not in classes:
        located.parse["cell_class_field"] = "row_class"
        located.evidence["cell_class_field"] = (
            "the cells' CSS class varies: "
            + ", ".join(f"{k} {v}" for k, v in classes.most_common())
        )
    where = (
        f"{len(chosen)} tables with the same header"
        if len(chosen) > 1
        else f"table {chosen[0].index} on the page"
    )
    located.evidence["row_xpath"] = (
        f"{n_rows} rows of {chosen[0].width} cells in {first.name} ({where})"
    )
    located.evidence["columns"] = (
        "from the header row" if header else "no header row: named by position"
    )
    _warn_unread(located, first, ranked[1:])
    return located


def _warn_unread(located: Located, first: Capture, groups: list[list[_Table]]) -> None:
    for group in groups:
        rows = sum(len(t.data_rows) for t in group)
        if rows >= 2 and group[0].width >= 3:
            label = ", ".join(h for h in (group[0].header or [])[:4] if h)
            located.warnings.append(
                f"{first.name}: {len(group)} other table(s) with {rows} rows of "
                f"{group[0].width} cells ({label or 'no header'}) are not read"
            )


def _similar(a: list[_Table], b: list[_Table]) -> bool:
    """Tables of the same kind of records: most header names shared (a traffic
    table with one more column than the fire and EMS ones)."""
    ha, hb = a[0].header, b[0].header
    if not ha or not hb:
        return False
    sa, sb = {slug(h) for h in ha if h}, {slug(h) for h in hb if h}
    return len(sa & sb) / max(1, len(sa | sb)) >= 0.6


def _heading(t: _Table) -> str | None:
    texts = t.node.xpath("preceding::text()[normalize-space()][1]").getall()
    text = " ".join(texts[0].split()) if texts else ""
    return text if 2 <= len(text) <= 60 and "'" not in text else None


def _table_xpath(t: _Table, doc: Selector) -> tuple[str, str]:
    """(XPath selecting exactly this table, how)."""
    candidates = []
    if t.node.attrib.get("id"):
        candidates.append((f"//table[@id={_xpath_literal(t.node.attrib['id'])}]", "id"))
    heading = _heading(t)
    if heading:
        candidates.append(
            (
                "//table[normalize-space(preceding::text()[normalize-space()][1])"
                f"={_xpath_literal(heading)}]",
                f"the table after '{heading}'",
            )
        )
    candidates.append((f"(//table)[{t.index}]", f"table {t.index} on the page"))
    target = t.node.root
    for xpath, how in candidates:
        found = doc.xpath(xpath)
        if len(found) == 1 and found[0].root is target:
            return xpath, how
    return candidates[-1]


def _several_tables(
    captures: list[Capture],
    doc: Selector,
    groups: list[list[_Table]],
    ranked: list[list[_Table]],
) -> Located:
    """One ``parse.tables`` entry per table of similar records."""
    first = captures[0]
    specs, notes = [], []
    names: list[str] = []
    for t in sorted((t for g in groups for t in g), key=lambda t: t.index):
        xpath, how = _table_xpath(t, doc)
        header = t.header or []
        heading = _heading(t)
        name = slug(heading) or f"table{t.index}"
        while name in names:
            name += "_2"
        names.append(name)
        spec: dict[str, Any] = {"name": name, "xpath": xpath}
        spec["columns"] = _unique(
            [slug(h) or f"col_{i + 1}" for i, h in enumerate(header)]
        )
        spec["expect_header"] = header
        spec["min_cells"] = t.width
        if heading:
            spec["add_fields"] = {"table": {"const": heading}}
        specs.append(spec)
        notes.append(f"{name}: {len(t.data_rows)} rows ({how})")
    located = Located(
        "html_table", {"tables": specs}, [response_entry(c) for c in captures]
    )
    expected = sum(len(t.data_rows) for g in groups for t in g)
    got = spider_extract("html_table", located.parse, first.body, first.content_type)
    if len(got) != expected:
        raise DraftError(
            f"{first.path}: {expected} rows in {len(specs)} tables of similar records, "
            f"but the table specs read {len(got)}"
        )
    located.evidence["tables"] = (
        f"{len(specs)} tables of similar records in {first.name}: "
        + "; ".join(notes)
        + " (add empty_text if a table shows a message when empty)"
    )
    _warn_unread(located, first, [g for g in ranked if g not in groups])
    return located
