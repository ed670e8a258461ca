"""``cfs new``: draft a feed's config and fixture folder from saved responses.

The steps, each in its own module: read and detect (``detect``), find the
records (``locate``, ``markup``), read them back through the platform spider,
profile the fields (``profile``), propose roles with evidence (``roles`` and the
modules it calls), merge several export formats (``merge``), date the snapshots
(``capture``), and write the commented YAML (``render``) beside a copy of the
files and their ``manifest.yaml``. Nothing is written when any step fails, and an
existing config or fixture folder is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ..config.loader import ConfigError, load_config, validate_feed_id
from ..normalize.time import parse_time
from . import capture as cap_times
from .detect import (
    Capture,
    DraftError,
    detect_platform,
    platform_from_url,
    read_capture,
)
from .locate import locate, read_back
from .located import Located, parse_options
from .merge import merge_roles, name_columns
from .profile import build_profile, flatten, schema_groups
from .proposal import Roles
from .render import Meta, render
from .roles import assign_roles

PLACEHOLDER_URL = "https://replace.invalid/the-feed-url"


@dataclass
class DraftOptions:
    feed_id: str
    files: list[Path]
    time_zone: str
    configs_dir: Path
    fixtures_dir: Path
    url: str | None = None
    platform: str | None = None
    agency: str | None = None
    city: str | None = None
    state: str | None = None
    title: str | None = None
    captured_at: list[str] = field(default_factory=list)
    origin: str | None = None


@dataclass
class DraftResult:
    config_path: Path
    fixture_dir: Path
    text: str
    data: dict[str, Any]
    roles: Roles
    located: Located
    manifest: list[dict[str, Any]]
    warnings: list[str]
    records: int


def _check_zone(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DraftError(
            f"--time-zone {tz!r} is not an IANA time zone (e.g. America/Chicago)"
        ) from None


def _names(opts: DraftOptions) -> tuple[str, str, str, dict[str, str]]:
    parts = opts.feed_id.split("_")
    notes = {}
    state = opts.state or parts[0].upper()
    if not opts.state:
        notes["state"] = "from the feed id"
    city = opts.city or parts[1].replace("-", " ").title()
    if not opts.city:
        notes["city"] = "from the feed id: give --city"
    agency = opts.agency or f"{city} (agency not given)"
    if not opts.agency:
        notes["agency"] = "give --agency"
    return state, city, agency, notes


def _time_spec_values(
    prop_spec: Any, records: list[dict[str, Any]], tz: str, reference: datetime | None
) -> list[datetime]:
    """UTC times of the records under a proposed time spec."""
    from ..records.builder import RecordBuilder
    from ..records.mapping import compile_spec

    opts = RecordBuilder._time_spec(prop_spec) or {}
    getter = compile_spec(prop_spec)
    fmts = opts.get("format")
    out = []
    for raw in records:
        value = getter(raw)
        if value is None:
            continue
        if opts.get("time_only") and reference is None:
            return []
        tv = parse_time(
            value,
            tz=tz,
            formats=fmts,
            epoch=opts.get("epoch"),
            epoch_reference=opts.get("epoch_reference", "UTC"),
            ignore_offset=opts.get("ignore_offset", False),
            time_only_reference=reference if opts.get("time_only") else None,
        )
        if tv.utc is not None:
            out.append(tv.utc)
    return out


def _capture_times(
    opts: DraftOptions,
    captures: list[Capture],
    located: Located,
    snapshots: list[tuple[str, list[dict[str, Any]]]],
    roles: Roles,
) -> tuple[list[dict[str, Any]], list[datetime], list[list[datetime]]]:
    """Manifest entries with capture times and notes; per-snapshot times."""
    tz = opts.time_zone
    time_props = [
        roles.proposals[e]
        for e in ("received_at", "dispatched_at", "onscene_at", "updated_at")
        if e in roles.proposals
    ]

    def record_times_of(
        records: list[dict[str, Any]], reference: datetime | None
    ) -> list[datetime]:
        for prop in time_props:
            times = _time_spec_values(prop.spec, records, tz, reference)
            if times:
                return times
        return []

    entries = [dict(e) for e in located.manifest]
    responses = [i for i, e in enumerate(entries) if "responses" in e]
    given = [cap_times.parse_given(v, tz) for v in opts.captured_at]
    if given and len(given) not in (1, len(responses)):
        raise DraftError(
            f"--captured-at: {len(given)} times for {len(responses)} files: give one "
            "per file, in the order of --from"
        )
    by_file = {c.name: c for c in captures}
    captured: list[datetime] = []
    record_times: list[list[datetime]] = []
    snap_iter = iter(snapshots)
    for i, entry in enumerate(entries):
        if "archive" in entry:
            n = len(located.archive_times)
            for stamp in located.archive_times:
                _, records = next(snap_iter)
                captured.append(stamp)
                record_times.append(record_times_of(records, stamp))
            entry["note"] = f"an archive of {n} polls, each with its own capture time"
            continue
        name = entry["responses"][0]["file"]
        _, records = next(snap_iter)
        k = responses.index(i)
        found = given[0 if len(given) == 1 else k] if given else None
        found = found or cap_times.own_timestamp(by_file[name], tz)
        found = found or cap_times.as_of_column(records, tz)
        times = record_times_of(records, found.at if found else None)
        if found is None:
            found = cap_times.newest_record(times)
        if found is None:
            raise DraftError(
                f"{name}: no capture time in the file and no dated record time: give "
                "--captured-at (when the file was saved, ISO 8601 with an offset)"
            )
        if not times:
            times = record_times_of(records, found.at)
        entry = {
            "captured_at": found.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": found.note,
            **entry,
        }
        entries[i] = entry
        captured.append(found.at)
        record_times.append(times)
    return entries, captured, record_times


def _listings(
    snapshots: list[tuple[str, list[dict[str, Any]]]],
    roles: Roles,
    captured: list[datetime],
    opts: DraftOptions,
) -> list[dict[str, datetime]]:
    """Per snapshot, in capture order: call id -> the call's time."""
    from ..records.mapping import compile_spec

    ids = roles.proposals.get("call_id")
    times = [
        roles.proposals[e]
        for e in ("received_at", "dispatched_at")
        if e in roles.proposals
    ]
    if ids is None or not times or len(snapshots) < 2:
        return []
    get_id = compile_spec(ids.spec)
    out = []
    order = sorted(range(len(snapshots)), key=lambda i: captured[i])
    for i in order:
        listing: dict[str, datetime] = {}
        for raw in snapshots[i][1]:
            key = get_id(raw)
            stamp = _time_spec_values(times[0].spec, [raw], opts.time_zone, captured[i])
            if key is not None and stamp:
                listing[str(key)] = min(stamp[0], listing.get(str(key), stamp[0]))
        out.append(listing)
    return out


def _placeholders(
    located: Located, snapshots: list[tuple[str, list[dict[str, Any]]]], roles: Roles
) -> None:
    """Records with none of the core elements (Oakland's null features) are no
    calls: dropped with ``drop_if_blank`` where the spiders know it."""
    from ..records.mapping import compile_spec

    if "drop_if_blank" not in parse_options():
        return
    core = [
        roles.proposals[e]
        for e in ("call_id", "received_at", "dispatched_at", "address", "call_type")
        if e in roles.proposals and isinstance(roles.proposals[e].spec, str)
    ]
    if not core:
        return
    getters = [compile_spec(p.spec) for p in core]
    records = [r for _, recs in snapshots for r in recs]
    empty = sum(1 for r in records if all(g(r) is None for g in getters))
    if 0 < empty < 0.5 * len(records):
        fields = [p.spec for p in core]
        located.parse["drop_if_blank"] = fields
        located.evidence["drop_if_blank"] = (
            f"{empty} of {len(records)} records have none of these: placeholders, "
            "not calls"
        )


_URL_FORMATS = {
    ".json": "json",
    ".csv": "csv",
    ".xml": "xml",
    ".rss": "xml",
    ".html": "html",
    ".htm": "html",
    ".geojson": "json",
}


def _url_format_mismatch(url: str | None, captures: list[Capture]) -> str | None:
    """A capture in another format than the live URL serves: a re-export."""
    from urllib.parse import urlparse

    if not url:
        return None
    suffix = Path(urlparse(url).path).suffix.lower()
    live = _URL_FORMATS.get(suffix)
    got = {"jsonl": "json"}.get(captures[0].format, captures[0].format)
    if (
        live is None
        or live == got
        or (live == "json" and got == "csv" and platform_from_url(url) == "socrata")
    ):
        return None
    return (
        f"the files are {got.upper()} but the URL ends in {suffix}: if they are a "
        "re-export in another format than the live feed, keep this mapping under "
        "`replay:` (platform, parse, record) and map the live fields at the top"
    )


def draft(opts: DraftOptions) -> DraftResult:
    """Draft the config and fixture folder of a feed; write nothing on failure."""
    try:
        validate_feed_id(opts.feed_id)
    except ConfigError as exc:
        raise DraftError(str(exc)) from None
    _check_zone(opts.time_zone)
    config_path = opts.configs_dir / f"{opts.feed_id}.yaml"
    fixture_dir = opts.fixtures_dir / opts.feed_id
    if config_path.exists():
        raise DraftError(f"{config_path} exists: cfs new never overwrites a config")
    if (fixture_dir / "manifest.yaml").exists():
        raise DraftError(f"{fixture_dir}/manifest.yaml exists: not overwritten")
    if not opts.files:
        raise DraftError("no files: give --from FILE [FILE ...] (or --url)")
    captures = [read_capture(p) for p in opts.files]
    names = [c.name for c in captures]
    if len(set(names)) < len(names):
        raise DraftError("two files share a name: the fixture folder keeps names")
    platform, platform_note = detect_platform(captures, opts.url, opts.platform)
    located = locate(captures, platform)
    snapshots = read_back(located, captures, opts.feed_id)
    for name, records in snapshots:
        if not records:
            raise DraftError(f"{name}: the {platform} spider finds no records in it")
    groups = schema_groups(snapshots)
    group_roles = []
    group_names = []
    for members in groups:
        profile = build_profile(snapshots, members)
        group_roles.append(assign_roles(profile, opts.time_zone))
        group_names.append(
            ", ".join(sorted({snapshots[i][0].split("#")[0] for i in members}))
        )
    roles = merge_roles(group_roles, group_names)
    _placeholders(located, snapshots, roles)
    manifest, captured, record_times = _capture_times(
        opts, captures, located, snapshots, roles
    )
    if located.headerless and "columns" in located.parse:
        located.parse["columns"] = name_columns(located.parse["columns"], roles)
    state, city, agency, notes = _names(opts)
    liveness = cap_times.liveness(record_times, captured)
    if liveness[0] == "live":
        board = cap_times.board_kind(_listings(snapshots, roles, captured, opts))
        if board is not None:
            liveness = (liveness[0], board[0], liveness[2])
            notes["board"] = f"guess: {board[1]}"
    urls = [opts.url] if opts.url else [PLACEHOLDER_URL]
    warnings = list(located.warnings) + list(roles.warnings)
    mismatch = _url_format_mismatch(opts.url, captures)
    if mismatch:
        warnings.append(mismatch)
        roles.warnings.append(mismatch)
    if not opts.url:
        notes["urls"] = "no --url given: put the live URL here before a live crawl"
        warnings.append("no --url: the config has a placeholder URL")
    meta = Meta(
        feed_id=opts.feed_id,
        agency=agency,
        city=city,
        state=state,
        title=opts.title or f"{city} calls for service (draft)",
        urls=urls,
        time_zone=opts.time_zone,
        platform=platform,
        platform_note=platform_note,
        liveness=liveness,
        origin=opts.origin
        or f"saved responses {', '.join(names)}; drafted by cfs new on "
        f"{datetime.now(UTC):%Y-%m-%d}",
        sources=names,
        notes=notes,
    )
    text, data = render(meta, located.parse, located.evidence, roles)
    n_records = sum(len(r) for _, r in snapshots)
    _write(opts, captures, config_path, fixture_dir, text, manifest)
    return DraftResult(
        config_path,
        fixture_dir,
        text,
        data,
        roles,
        located,
        manifest,
        warnings,
        n_records,
    )


def _write(
    opts: DraftOptions,
    captures: list[Capture],
    config_path: Path,
    fixture_dir: Path,
    text: str,
    manifest: list[dict[str, Any]],
) -> None:
    """Validate the config from a temporary file, then write both."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / config_path.name
        probe.write_text(text, encoding="utf-8")
        try:
            load_config(probe)
        except ConfigError as exc:  # a drafter bug: say so, write nothing
            raise DraftError(f"the draft does not validate: {exc}") from None
    opts.configs_dir.mkdir(parents=True, exist_ok=True)
    fixture_dir.mkdir(parents=True, exist_ok=True)
    for cap in captures:
        target = fixture_dir / cap.name
        if cap.path.resolve() != target.resolve():
            target.write_bytes(cap.body)
    header = (
        "# Written by `cfs new`. Each snapshot's note says where its capture time\n"
        "# came from. Add `board_snapshot: false` to a snapshot whose rows a\n"
        "# scraper accumulated (not one view of the listing).\n"
    )
    (fixture_dir / "manifest.yaml").write_text(
        header
        + yaml.safe_dump({"snapshots": manifest}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    config_path.write_text(text, encoding="utf-8")


__all__ = ["DraftError", "DraftOptions", "DraftResult", "draft", "flatten"]
