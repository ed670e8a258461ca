"""Find the records in saved responses: the largest list of similar records.

For each format the drafter proposes how the platform spider should find the
records (a JSON records path, an XML item path, an HTML row XPath and columns),
then reads the files back *through the spider itself*, from a staged copy of the
fixture folder and its manifest, so what the roles are guessed from is exactly
what a replay will see.

A JSON file whose list items each hold a timestamp and a list of records is a git
scraper's archive of snapshots (Clearwater's daily file of 52 polls); it becomes
one ``archive:`` manifest entry, and the records path is the one of a single poll.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from ..ingest.replay import load_snapshots
from .detect import Capture, DraftError, is_arcgis_json, is_geojson
from .located import Located, parse_options, response_entry, spider_extract
from .markup import locate_html, locate_xml

_NULL_TOKENS = ("null", "NULL", "None", "NaN", "nan")


# ------------------------------------------------------------------ JSON
def _similarity(items: list[Any]) -> float:
    dicts = [x for x in items[:500] if isinstance(x, dict)]
    if not dicts:
        return 0.0
    union = set().union(*(d.keys() for d in dicts))
    if not union:
        return 0.0
    mean = sum(len(d) for d in dicts) / len(dicts)
    return (len(dicts) / len(items[:500])) * mean / len(union)


def _lists(node: Any, path: tuple[str, ...], depth: int = 0):
    if isinstance(node, list):
        if any(isinstance(x, dict) for x in node) or not node:
            yield path, node
    elif isinstance(node, dict) and depth < 5:
        for key, value in node.items():
            if isinstance(key, str) and "." not in key:
                yield from _lists(value, (*path, key), depth + 1)


def _stamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 16 or not value[:4].isdigit():
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else None


def _archive(items: list[Any]) -> tuple[str, str] | None:
    """(captured_at key, body key) when a list is a scraper's list of polls."""
    dicts = [x for x in items if isinstance(x, dict)]
    if len(dicts) < 2 or len(dicts) < len(items):
        return None
    for body_key, value in dicts[0].items():
        if not isinstance(value, list) or not all(
            isinstance(d.get(body_key), list) for d in dicts
        ):
            continue
        for time_key in dicts[0]:
            if all(_stamp(d.get(time_key)) for d in dicts):
                return time_key, body_key
    return None


def _join(path: tuple[str, ...]) -> str:
    return ".".join(path)


def locate_json(captures: list[Capture], platform: str) -> Located:
    if platform == "arcgis":
        for cap in captures:
            if not is_arcgis_json(cap.data):
                raise DraftError(f"{cap.path}: not ArcGIS query JSON (no features)")
        return Located(
            "arcgis",
            {},
            [response_entry(c) for c in captures],
            evidence={"": "ArcGIS query JSON: records are features[].attributes"},
        )
    located = Located(platform, {}, [])
    paths: list[str] = []
    lists: dict[str, int] = {}  # several lists of one kind of record, with sizes
    for cap in captures:
        if cap.format == "jsonl":
            if "format" not in parse_options():
                raise DraftError(
                    f"{cap.path}: JSON Lines, which this version's json spider "
                    "cannot read (it reads one JSON document per response)"
                )
            located.parse["format"] = "jsonl"
            located.evidence["format"] = (
                f"{cap.name}: {len(cap.data)} lines, one JSON object each"
            )
            located.manifest.append(response_entry(cap))
            continue
        candidates = [(p, v) for p, v in _lists(cap.data, ())]
        if not candidates:
            raise DraftError(f"{cap.path}: no list of records in the JSON")
        archive = None
        for path, items in candidates:
            found = _archive(items)
            if found:
                archive = (path, items, *found)
                break
        if archive:
            path, items, time_key, body_key = archive
            inner = [x[body_key] for x in items]
            sub = [c for lst in inner for c in _lists(lst, ())]
            n = sum(len(x) for x in inner)
            located.manifest.append(
                {
                    "archive": {
                        "file": cap.name,
                        **({"list": _join(path)} if path else {}),
                        "captured_at": time_key,
                        "body": body_key,
                    }
                }
            )
            located.archive_times.extend(_stamp(x[time_key]) for x in items)
            located.evidence["archive"] = (
                f"{cap.name}: an archive of {len(items)} polls "
                f"(each `{time_key}` + `{body_key}`), {n} records in all"
            )
            if sub:
                paths.append("")
                located.evidence.setdefault(
                    "records_path", "the body of each poll is the list of records"
                )
            continue
        scored = sorted(
            candidates,
            key=lambda pv: (len(pv[1]) * _similarity(pv[1]), -len(pv[0])),
            reverse=True,
        )
        best_path, best = scored[0]
        if not best or not any(isinstance(x, dict) for x in best):
            raise DraftError(f"{cap.path}: no list of records in the JSON")
        paths.append(_join(best_path))
        sim = _similarity(best)
        note = (
            f"{cap.name}: {len(best)} records at "
            f"{_join(best_path) or 'the top level'} ({sim:.0%} of fields shared)"
        )
        located.evidence.setdefault("records_path", note)
        if is_geojson(cap.data) and "geojson" in parse_options():
            located.parse["geojson"] = True
            located.evidence["geojson"] = (
                "GeoJSON Features: each record is its properties and point"
            )
        for other_path, other in scored[1:]:
            if len(other) >= 2 and _similarity(other) >= 0.5 and other_path:
                shared = _shared_keys(best, other)
                if shared < 0.6:
                    continue
                if best_path and "record_lists" in parse_options():
                    lists.setdefault(_join(best_path), len(best))
                    lists[_join(other_path)] = len(other)
                    continue
                located.warnings.append(
                    f"{cap.name}: `{_join(other_path)}` holds {len(other)} "
                    f"more records like those at `{_join(best_path) or '(top)'}`"
                    " that the records path does not read (it reads one list)"
                )
        located.manifest.append(response_entry(cap))
    if lists:
        located.parse["record_lists"] = list(lists)
        located.parse["list_field"] = "_list"
        located.evidence["record_lists"] = "lists of similar records: " + ", ".join(
            f"{k} ({v})" for k, v in lists.items()
        )
        located.evidence["list_field"] = "receives the name of a record's list"
        return located
    ordered = list(dict.fromkeys(paths))
    if ordered:
        located.parse["records_path"] = ordered
    return located


def _shared_keys(a: list[Any], b: list[Any]) -> float:
    ka = {k for x in a[:200] if isinstance(x, dict) for k in x}
    kb = {k for x in b[:200] if isinstance(x, dict) for k in x}
    return len(ka & kb) / max(1, len(ka | kb))


# ------------------------------------------------------------------- CSV
def locate_csv(captures: list[Capture], platform: str) -> Located:
    located = Located(platform, {}, [])
    delimiters = Counter()
    nulls: Counter[str] = Counter()
    for cap in captures:
        if cap.format == "json":  # a SODA JSON response beside SODA CSV ones
            located.manifest.append(response_entry(cap))
            continue
        sample = "\n".join(cap.text.splitlines()[:50])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
        delimiters[delimiter] += 1
        reader = csv.reader(io.StringIO(cap.text.lstrip("\ufeff")), delimiter=delimiter)
        header = next(reader, None) or []
        rows = list(reader)
        if len(set(header)) < len(header):
            located.warnings.append(
                f"{cap.name}: repeated column names in the header: the later "
                "column of each name is the one read"
            )
        for row in rows:
            for cell in row:
                if cell in _NULL_TOKENS:
                    nulls[cell] += 1
        located.evidence.setdefault(
            "records", f"{cap.name}: {len(rows)} rows of {len(header)} columns"
        )
        try:
            cap.body.decode("utf-8")
        except UnicodeDecodeError:
            located.parse["encoding"] = "cp1252"
            located.evidence["encoding"] = f"{cap.name} is not UTF-8"
        located.manifest.append(response_entry(cap))
    delimiter = delimiters.most_common(1)[0][0] if delimiters else ","
    if delimiter != ",":
        located.parse["delimiter"] = delimiter
        located.evidence["delimiter"] = "sniffed from the first lines"
    if nulls:
        located.parse["null_values"] = sorted(nulls)
        located.evidence["null_values"] = ", ".join(
            f"`{k}` in {v} cells" for k, v in nulls.most_common()
        )
    return located


# ------------------------------------------------------------- dispatch
def locate(captures: list[Capture], platform: str) -> Located:
    """How the records are found, for the detected platform (not yet read)."""
    formats = {c.format for c in captures}
    if platform == "html_table":
        return locate_html(captures)
    if platform == "xml":
        return locate_xml(captures)
    if "csv" in formats:
        return locate_csv(captures, platform)
    return locate_json(captures, platform)


# ------------------------------------------------------ read through spider
def stage(
    captures: list[Capture], manifest: list[dict[str, Any]], feed_id: str
) -> Path:
    """A temporary replay folder holding the files and the manifest."""
    import yaml

    root = Path(tempfile.mkdtemp(prefix="cfs-draft-"))
    folder = root / feed_id
    folder.mkdir()
    for cap in captures:
        (folder / cap.name).write_bytes(cap.body)
    entries = []
    for entry in manifest:
        entry = dict(entry)
        if "responses" in entry:
            entry.setdefault("captured_at", "2000-01-01T00:00:00Z")
        entries.append(entry)
    (folder / "manifest.yaml").write_text(
        yaml.safe_dump({"snapshots": entries}, sort_keys=False), encoding="utf-8"
    )
    return root


def read_back(
    located: Located, captures: list[Capture], feed_id: str
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(snapshot name, raw records) of every snapshot, read by the spider."""
    root = stage(captures, located.manifest, feed_id)
    try:
        snapshots = load_snapshots(str(root), feed_id)
        out = []
        for snap in snapshots:
            records: list[dict[str, Any]] = []
            names = []
            for rec in snap.responses:
                try:
                    records.extend(
                        spider_extract(
                            located.platform,
                            located.parse,
                            rec.read(),
                            rec.content_type,
                        )
                    )
                except Exception as exc:  # noqa: BLE001 - name the file
                    raise DraftError(
                        f"{rec.name}: the {located.platform} spider cannot read it "
                        f"with {located.parse}: {exc}"
                    ) from None
                names.append(rec.name)
            out.append((" + ".join(names), records))
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)
