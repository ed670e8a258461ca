"""Datasette metadata for the store: ``datasette output/cfs.sqlite -m output/metadata.json``.

Built from the feed configs (title, agency, source page, live URL, license where the
config states one) and from the record schema's field descriptions
(``schemas/record.schema.json``). The other tables' columns are described here.
Written by ``cfs datasette-metadata`` and at the end of ``cfs export``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config.loader import FeedConfig, load_all
from ..config.paths import output_dir, store_target
from ..config.schema import RECORD_SCHEMA_PATH
from .files import write_atomic

_LIFECYCLE = {
    "call_key": "The call's key: an integer given in the order calls were first "
    "stored, what observations and presence name the call by.",
    "first_seen": "First fetch (ISO UTC) in which the call was seen.",
    "last_seen": "Last fetch (ISO UTC) in which the call was seen.",
    "disappeared_at": "First complete fetch (ISO UTC) of a live listing without the "
    "call: on an active-calls board the call closed then (status closed, basis "
    "feed_presence); on a recent-window listing it rolled off. Empty while listed.",
    "values_hash": "Hash of what the feed last published for the call (its raw "
    "record's canonical JSON, blake2b, 16 bytes: hex(values_hash) shows it as "
    "cfs prints it): the current version in observations. The raw record itself "
    "is in observations (and the call_raw view), compressed.",
    "feed_key": "The feed (feeds.feed_key: a small integer kept instead of the "
    "feed id in every row; Datasette shows the feed id).",
    "run_key": "The run that last wrote the call's values (runs.run_key; "
    "Datasette shows the run id; calls.csv's last_run_id).",
    "source_id": "The response the record came from (sources.source_id; Datasette "
    "shows its URL): the page's request URL, kept once per distinct URL.",
}
_RAW_HOW = (
    " Compressed (zlib raw deflate with the feed's dictionary raw_dicts.zdict): "
    "the normalized values are all text in calls; the raw record reads as JSON "
    "text with `cfs raw FEED_ID [RECORD_KEY]`, or here with the cfs_raw plugin "
    "(installed with cfs) as cfs_raw(raw_dict, raw_deflate): see the raw_record "
    "query."
)

TABLES: dict[str, dict[str, Any]] = {
    "feeds": {
        "description": "One row per configured feed: who publishes it, what it is, "
        "and how it is read. Sources and licenses are listed below.",
        "columns": {
            "feed_key": "The feed's key: a small integer, what the other tables "
            "hold instead of the feed id.",
            "feed_id": "Feed id: the config file name (city_configs/<feed_id>.yaml).",
            "agency": "Publishing agency.",
            "city": "City.",
            "state": "State (two letters).",
            "title": "Name of the feed.",
            "platform": "How it is published: socrata, arcgis, json, csv, xml or "
            "html_table.",
            "liveness": "live, near_live or history.",
            "board": "What the listing is: active_calls (leaving it means the call "
            "closed), recent_window (calls roll off), append_only or history.",
            "time_zone": "The feed's IANA time zone.",
            "live_url": "URL the crawler fetches.",
            "update_interval_minutes": "How often the publisher refreshes it.",
            "config_version": "Version of the feed config.",
            "capture_kind": "What the bundled capture is (raw response, re-export...).",
            "verified_against_capture": "1 when the config was checked against a "
            "recorded response.",
        },
    },
    "calls": {
        "description": "One row per call (feed_key + record_key): its latest values "
        "and when it was first seen, last seen and left the listing. Every "
        "column is described.",
        "columns": {},  # the record schema's fields, then _LIFECYCLE
    },
    "observations": {
        "description": "One row per version of a call: its first sighting and each "
        "change of what the feed published (a poll that finds the call unchanged "
        "adds no row, it moves last_seen). Each raw record is kept here, once. "
        "Unique on (call_key, fetched_at).",
        "columns": {
            "call_key": "The call (calls.call_key; Datasette shows its record_key).",
            "fetched_at": "First fetch (ISO UTC) that showed these values; in replay "
            "or a git import, the capture or commit time.",
            "last_seen": "Last fetch (ISO UTC) that showed these values before they "
            "changed (for the current version: the call's last_seen).",
            "run_key": "The run of that first fetch (runs.run_key; Datasette shows "
            "the run id).",
            "values_hash": "Hash of the raw record's canonical JSON (keys sorted, "
            "blake2b, 16 bytes): equal hashes, the same published values.",
            "raw_dict": "The dictionary the raw record is compressed with "
            "(raw_dicts.dict_id).",
            "raw_deflate": "The record exactly as the feed published it, as JSON, "
            "compressed." + _RAW_HOW,
        },
    },
    "raw_dicts": {
        "description": "The preset dictionaries the raw records are compressed "
        "with: one or a few per feed, made from the feed's own first raw records "
        "and never changed.",
        "columns": {
            "dict_id": "Dictionary id (observations.raw_dict).",
            "feed_key": "The feed (feeds.feed_key; Datasette shows the feed id).",
            "codec": "How the records were compressed: deflate-zdict-v1 is zlib "
            "raw deflate (wbits -15) with this dictionary (zlib.decompressobj(-15, "
            "zdict)); zstd-dict-v1 is Zstandard, magicless frames, with this "
            "dictionary trained on the feed's records (zstandard.ZstdDecompressor("
            "dict_data=ZstdCompressionDict(zdict), format=FORMAT_ZSTD1_MAGICLESS)).",
            "zdict": "The dictionary, up to 32 KiB: raw JSON texts of the feed "
            "(zlib), or trained on them (Zstandard).",
            "created_at": "When it was made (ISO UTC).",
        },
    },
    "sources": {
        "description": "Each response URL the store holds, once (calls.source_id).",
        "columns": {
            "source_id": "Source id.",
            "source_url": "URL of the response the records came from.",
        },
    },
    "presence": {
        "description": "Live listings only (active-calls and recent-window boards): "
        "the spans of complete listings each call was on. A call that left the "
        "listing and came back has two rows. With listings, every sighting.",
        "columns": {
            "call_key": "The call (calls.call_key; Datasette shows its record_key).",
            "first_seen": "First fetch of the span (ISO UTC).",
            "last_seen": "Last fetch of the span (ISO UTC): the call was on every "
            "complete listing from first_seen to last_seen.",
        },
    },
    "call_raw": {
        "description": "View: each call's raw record as last published (its "
        "current version in observations).",
        "columns": {
            "feed_id": "Feed id (feeds.feed_id).",
            "record_key": "The call (calls.record_key within the feed).",
            "version_fetched_at": "First fetch that showed this raw record.",
            "raw_dict": "The dictionary it is compressed with (raw_dicts.dict_id).",
            "raw_deflate": "The record exactly as the feed published it, as JSON, "
            "compressed." + _RAW_HOW,
        },
    },
    "calls_with_ids": {
        "description": "View: calls with the feed id, the last run's id and the "
        "response URL in place of their keys (feed_key, run_key, source_id), for "
        "SQL written against ids: WHERE feed_id = '...'.",
        "columns": {},  # feed_id, then calls' columns, then the two ids below
    },
    "store_meta": {
        "description": "Facts about the store itself.",
        "columns": {
            "key": "schema_version: the store's schema (cfs migrate converts a "
            "store written by an earlier cfs).",
            "value": "Its value.",
        },
    },
    "runs": {
        "description": "One row per run of one feed, with its report.",
        "columns": {
            "run_key": "The run's key: a small integer, what calls, observations "
            "and imports hold instead of the run id.",
            "run_id": "Run id (<feed_id>-<UTC start>-<random>, or "
            "<feed_id>-git-<commit> for a git import).",
            "feed_key": "The feed (feeds.feed_key; Datasette shows the feed id).",
            "mode": "live or replay (a git import replays commits).",
            "started_at": "When the run started (ISO UTC, wall clock).",
            "finished_at": "When the run finished (ISO UTC, wall clock).",
            "fetched_at": "When the response was fetched (ISO UTC); in replay, the "
            "capture time.",
            "status": "ok, degraded (fewer records or emptier fields than usual) or "
            "failed (nothing concluded from it); empty while the run is writing "
            "(its row is made at its first write), or if it ended without a report.",
            "complete": "1 when the whole listing was read without error.",
            "records": "Records read.",
            "new_calls": "Calls seen for the first time.",
            "new_observations": "Versions added to observations (first sightings "
            "and changes).",
            "closed_calls": "Calls found gone from the listing by this run.",
            "error": "Errors and reasons for degradation, shortened.",
            "report_json": "The full run report as JSON (fill rates, counts, HTTP "
            "statuses).",
        },
    },
    "feed_state": {
        "description": "What the crawler remembers per feed between runs.",
        "columns": {
            "feed_key": "The feed (feeds.feed_key; Datasette shows the feed id).",
            "last_success_at": "Last run that did not fail (ISO UTC).",
            "last_attempt_at": "Last run (ISO UTC).",
            "high_water": "Newest record time seen, for incremental fetches.",
            "etag": "ETag of the last response, for conditional requests.",
            "last_modified": "Last-Modified of the last response.",
            "consecutive_failures": "Failed runs in a row.",
            "lock_owner": "Process holding the feed's run lock.",
            "lock_until": "When that lock expires (ISO UTC).",
        },
    },
    "listings": {
        "description": "Every complete read of a live listing (active-calls or "
        "recent-window board): a call's disappeared_at is the first of these after "
        "its last_seen that did not hold it.",
        "columns": {
            "feed_key": "The feed (feeds.feed_key; Datasette shows the feed id).",
            "fetched_at": "When the complete listing was fetched (ISO UTC).",
        },
    },
    "imports": {
        "description": "Commits of git scrapers imported by cfs import-git: one row "
        "per repository, feed and commit, so an import resumes and repeats nothing.",
        "columns": {
            "repo": "The local clone imported from (absolute path).",
            "feed_key": "Feed whose parser read the commit (feeds.feed_key; "
            "Datasette shows the feed id).",
            "commit_sha": "The commit.",
            "path": "File in the repository that the commit gave.",
            "committed_at": "Commit time (ISO UTC): the snapshot's fetch time.",
            "status": "The snapshot run's status (ok, degraded, failed), pending "
            "while running, no_file when the commit only deleted the file, no_run "
            "when the run ended without a report.",
            "run_key": "The run that replayed the commit (runs.run_key; Datasette "
            "shows the run id).",
            "imported_at": "When it was imported (ISO UTC, wall clock).",
        },
    },
}

# Written by ``cfs compare`` (compare/store_tables.py): the comparison, where a
# Datasette user meets the main finding first. Every column of comparison and
# withheld is described in datapackage.json beside the CSVs.
COMPARISON_TABLES: dict[str, dict[str, Any]] = {
    "findings": {
        "description": "Start here: the comparison's findings, one sentence a row, "
        "as report.html states them. Places (city or county) are counted, feeds "
        "named as detail; each sentence says how old or partial its evidence is.",
        "columns": {"n": "Order in the report.", "sentence": "The finding."},
    },
    "comparison": {
        "description": "comparison.csv: one row per configured feed and one for "
        "Chicago, with its evidence (run mode, evidence window, capture kind and "
        "origin, last live fetch) and each element's availability. Every column is "
        "described in datapackage.json.",
        "columns": {
            "feed_id": "Feed id (il_chicago_oemc: Chicago).",
            "place": "The place (city or county, state) the findings count.",
            "run_mode": "live, replay, or both.",
            "evidence_first": "First capture or fetch behind the row (UTC).",
            "evidence_last": "Last capture or fetch behind the row (UTC).",
            "capture_kind_label": "publisher response, third-party re-export or "
            "filtered sample.",
            "documentation_url": "The publisher's documentation the documented "
            "levels were read from.",
            "disagreements": "Elements where the measured level differs from the "
            "documented one (<element>_documented, the level the project read from "
            "the publisher's documentation, linked in <element>_documentation_url).",
        },
    },
    "withheld": {
        "description": "withheld.csv: per element, Chicago's status (by precision "
        "step, with the cited URLs) beside the places that publish it elsewhere.",
        "columns": {
            "element": "Common element.",
            "chicago_status": "Chicago's status.",
            "chicago_levels": "Chicago's status per precision step.",
            "places_publishing_n": "Places publishing it for >= 95% of calls.",
            "places_measured_n": "Places with stored records.",
        },
    },
    "comparison_changes": {
        "description": "Which feed's availability changed for which element, and "
        "when (also output/changes.csv).",
        "columns": {
            "changed_at": "The comparison run that saw the change (UTC).",
            "feed_id": "Feed id.",
            "element": "Common element.",
            "before": "Availability before.",
            "after": "Availability after.",
        },
    },
}

_TABLE_OPTIONS: dict[str, dict[str, Any]] = {
    "findings": {"sort": "n"},
    "comparison": {"label_column": "feed_id", "facets": ["place", "run_mode"]},
    "withheld": {"label_column": "element"},
    "comparison_changes": {"sort_desc": "changed_at", "facets": ["feed_id"]},
    # label_column: what a foreign key to the table shows (feed_key -> feed id)
    "feeds": {"label_column": "feed_id", "sort": "feed_id"},
    "sources": {"label_column": "source_url"},
    "calls": {
        "label_column": "record_key",
        "facets": ["feed_key", "call_type_category", "status"],
        "sort_desc": "received_at_utc",
    },
    "calls_with_ids": {
        "facets": ["feed_id", "call_type_category", "status"],
        "sort_desc": "received_at_utc",
    },
    "runs": {
        "label_column": "run_id",
        "facets": ["feed_key", "status"],
        "sort_desc": "started_at",
    },
    "imports": {"facets": ["feed_key", "status"], "sort_desc": "committed_at"},
}


# needs the cfs_raw plugin (exports/datasette_raw.py, registered with cfs)
QUERIES = {
    "raw_record": {
        "title": "A call's raw record, as published",
        "description": "Each version of one call with its raw record as JSON "
        "text (cfs_raw needs the cfs_raw Datasette plugin, installed with cfs; "
        "without it: cfs raw FEED_ID RECORD_KEY).",
        "sql": "SELECT f.feed_id, c.record_key, o.fetched_at, o.last_seen, "
        "cfs_raw(o.raw_dict, o.raw_deflate) AS raw_json FROM observations o JOIN "
        "calls c ON c.call_key = o.call_key JOIN feeds f ON f.feed_key = "
        "c.feed_key WHERE f.feed_id = :feed_id AND c.record_key = :record_key "
        "ORDER BY o.fetched_at",
    }
}


def record_column_descriptions() -> dict[str, str]:
    """The calls table's columns: the record schema's fields (all but ``raw``, which
    is kept once per version in ``observations.raw_deflate``, and ``source_url``,
    kept once in ``sources``), the allowed values of each closed vocabulary, then
    the lifecycle columns."""
    schema = json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))
    out = {}
    for name, spec in schema["properties"].items():
        if name in ("raw", "source_url", "feed_id", "run_id"):
            continue  # kept once elsewhere: sources, feeds, runs (_LIFECYCLE)
        text = spec.get("description", "")
        values = [v for v in spec.get("enum", []) if v is not None]
        if values:
            text = f"{text} One of: {', '.join(values)}."
        out[name] = text.strip()
    out.update(_LIFECYCLE)
    return out


def _calls_with_ids_columns() -> dict[str, str]:
    """The view's columns: the ids, described as the record schema describes them,
    and every column of ``calls``."""
    schema = json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]
    return {
        "feed_id": schema["feed_id"].get("description", "Feed id."),
        **record_column_descriptions(),
        "last_run_id": "The run that last wrote the call's values (runs.run_id).",
        "source_url": schema["source_url"].get("description", "Response URL."),
    }


def _feeds_html(configs: list[FeedConfig]) -> str:
    def link(url: str | None) -> str:
        if not url:
            return "-"
        u = html.escape(url, quote=True)
        return f'<a href="{u}">{u}</a>'

    rows = []
    for cfg in configs:
        license_text = cfg.get("license") or "not stated by the publisher"
        rows.append(
            "<tr>"
            f"<td><code>{html.escape(cfg.feed_id)}</code></td>"
            f"<td>{html.escape(cfg['title'])} ({html.escape(cfg['agency'])})</td>"
            f"<td>{link(cfg.get('documentation_url'))}</td>"
            f"<td>{link(cfg.urls[0] if cfg.urls else None)}</td>"
            f"<td>{html.escape(license_text)}</td>"
            "</tr>"
        )
    return (
        "<p>" + html.escape(TABLES["feeds"]["description"]) + "</p>"
        "<table><thead><tr><th>feed</th><th>title</th><th>source</th>"
        "<th>live URL</th><th>license</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def build_metadata(configs: Iterable[FeedConfig], *, database: str = "cfs") -> dict:
    """Datasette metadata for a store named ``database`` (the SQLite file's stem)."""
    feeds = sorted((c for c in configs if c.has_feed), key=lambda c: c.feed_id)
    licenses = sorted({c.get("license") for c in feeds if c.get("license")})
    tables: dict[str, Any] = {}
    for name, spec in {**TABLES, **COMPARISON_TABLES}.items():
        if name == "calls":
            columns = record_column_descriptions()
        elif name == "calls_with_ids":
            columns = _calls_with_ids_columns()
        else:
            columns = spec["columns"]
        table: dict[str, Any] = {
            "description": spec["description"],
            "columns": dict(columns),
        }
        table.update(_TABLE_OPTIONS.get(name, {}))
        tables[name] = table
    tables["feeds"]["description_html"] = _feeds_html(feeds)
    del tables["feeds"]["description"]
    agencies = len({c["agency"] for c in feeds})
    return {
        "title": "Calls for service",
        "description": (
            f"Public police and fire calls-for-service feeds ({len(feeds)} feeds of "
            f"{agencies} agencies), normalized to one record: calls (one row per "
            "call, with first/last seen and when it left the listing), observations "
            "(each version of a call: first sighting and every change, with the raw "
            "record, compressed), presence on live listings, runs, feeds, and "
            "imports of git-scraper history."
        ),
        "source": "Each feed's publisher: see the feeds table",
        "license": (
            "Varies by feed: see the feeds table"
            + (f" (stated: {'; '.join(licenses)})" if licenses else "")
        ),
        "databases": {database: {"tables": tables, "queries": QUERIES}},
    }


def database_name(database_url: str | None = None) -> str:
    """The name Datasette gives the store: the SQLite file's stem."""
    kind, target = store_target(database_url)
    return "cfs" if kind == "postgresql" else Path(target).stem


def write_metadata(
    path: Path | None = None,
    *,
    configs_directory: Path | None = None,
    database_url: str | None = None,
    output: Path | None = None,
) -> Path:
    """Write the metadata JSON (default ``<output>/metadata.json``), atomically."""
    if path is None:
        folder = Path(output) if output else output_dir()
        path = folder / "metadata.json"
    configs, _ = load_all(configs_directory)
    meta = build_metadata(configs.values(), database=database_name(database_url))
    text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    return write_atomic(path, text.encode("utf-8"))
