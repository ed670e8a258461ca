"""What each feed publishes, measured from the store, beside what Chicago withholds.

The comparison is built in one direction only: a tidy table of
``(feed, element, metric, value)`` rows is computed first (``measure``), and every
export is derived from it, so the wide CSV, the withheld table, the report and the
long CSV can never disagree with each other.

Two kinds of evidence sit side by side for every element of every feed:

- ``declared``: what the feed's documentation promises (the config's ``declared:``
  block; for Chicago, the ``elements:`` block of ``il_chicago_oemc.yaml`` and the
  source of each claim);
- ``measured``: what arrived, from the stored calls (``elements.HAS`` decides when a
  record carries an element, the same definition as the run reports' fill rates).

``availability`` is the measured level where the store holds records and the
declared level otherwise; ``evidence`` says which one a row shows.
"""

from __future__ import annotations

import bisect
import logging
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from . import vocab
from .config import FeedConfig, load_all
from .elements import AREA_FIELDS, EXAMPLE_FIELDS, HAS, STAGE_FIELDS
from .export import write_atomic, write_csv
from .pipelines import output_dir
from .store import Store, open_store

log = logging.getLogger(__name__)

CHICAGO_FEED_ID = "il_chicago_oemc"
FEED = "feed"  # the pseudo-element of feed-level facts in the long table
LONG_COLUMNS = ("feed", "element", "metric", "value")

# Measured availability from the fill rate (design note in the issue).
PUBLISHED_MIN = 0.95
NO_DATA = "no data"
NO_FEED = "no feed"
# A granularity counts as "published" by a feed only if at least this share of its
# records carry it: one odd string classified ``exact`` does not make a feed exact.
FINEST_MIN_SHARE = 0.05
# Publication delay and time on feed are read off consecutive runs. When two runs
# are further apart than this, a call first seen (or last seen) between them could
# have appeared (or left) at any time in the gap, so the gap says nothing useful.
MAX_RUN_GAP_S = 24 * 3600

# Chicago's statuses on the availability scale (the heatmap and the table); the
# status itself is kept verbatim in ``declared``.
CHICAGO_TO_AVAILABILITY = {
    "published": "published",
    "published_aggregate": "published_aggregate",
    "foia_only": "foia_only",
    "withheld": "withheld",
    "not_collected": "not_published",
    "unknown": "not_published",
}
# Levels that mean "no record-level value reaches the public".
_ABSENT = {"not_published", "withheld", "foia_only", "published_aggregate"}

TIME_RESOLUTIONS = ("seconds", "minutes", "time_only", "date", "unparsed")
ELEMENT_LABELS = {
    "id": "call id",
    "received_time": "received time",
    "stage_times": "other stage times",
    "address": "address",
    "coordinates": "coordinates",
    "call_type": "call type",
    "priority": "priority",
    "status": "status",
    "disposition": "disposition",
    "call_source": "call source",
    "area": "area",
    "units": "units",
}

# Columns read from the store (everything the measures use, nothing else).
_TIME_RAW = tuple(
    f"{ts}_at_raw" for ts in ("received", "dispatched", "enroute", "onscene", "closed")
)
_CALL_COLUMNS = tuple(
    dict.fromkeys(
        (
            "record_key",
            "call_id",
            "received_at_utc",
            "time_flags",
            *_TIME_RAW,
            *STAGE_FIELDS,
            "address_raw",
            "cross_street_raw",
            "address_granularity",
            "latitude",
            "longitude",
            "coord_granularity",
            "call_type_raw",
            "call_type_code_raw",
            "priority_raw",
            "status_raw",
            "status_basis",
            "disposition_raw",
            "source_raw",
            *AREA_FIELDS,
            "units_raw",
            "unit_count",
            "first_seen",
            "last_seen",
            "disappeared_at",
        )
    )
)


# --------------------------------------------------------------------- helpers
def _present(value: Any) -> bool:
    return (
        value is not None
        and value != ""
        and not (isinstance(value, float) and value != value)
    )


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _median_minutes(values: list[float]) -> float | None:
    return round(statistics.median(values) / 60, 1) if values else None


_EPOCH = re.compile(r"^-?\d{9,}(\.\d+)?$")
_CLOCK = re.compile(r"\d{1,2}:\d{2}|T\d{2}")


def time_resolution(
    raw: str | None, utc: str | None, flags: str | None, name: str = "received_at"
) -> str | None:
    """The unit a published time is given in: seconds, minutes, time_only or date.

    ``seconds`` needs non-zero seconds somewhere: a feed whose times all end in
    ``:00`` (``2018-01-09T09:26:00.000``) publishes minutes, whatever its format.
    """
    if not _present(raw):
        return None
    if flags and f"{name}:time_only" in flags:
        return "time_only"
    text = str(raw).strip()
    if not _EPOCH.match(text) and not _CLOCK.search(text):
        return "date"
    parsed = _ts(utc)
    if parsed is None:
        return "unparsed"
    return "seconds" if parsed.second else "minutes"


def _decimals(value: Any) -> int:
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0
    return len(text.split(".", 1)[1].rstrip("0"))


def _example(element: str, rec: dict[str, Any]) -> str:
    """A record's value for an element, as one short readable string."""
    if element == "coordinates":
        return f"{rec['latitude']}, {rec['longitude']}"
    if element == "address":
        parts = [rec.get("address_raw"), rec.get("cross_street_raw")]
        return " / ".join(str(p) for p in parts if _present(p))
    if element in ("stage_times", "area"):
        fields = (
            [f.replace("_utc", "_raw") for f in STAGE_FIELDS]
            if element == "stage_times"
            else AREA_FIELDS
        )
        return "; ".join(
            f"{f.removeprefix('area_').removesuffix('_at_raw')}={rec[f]}"
            for f in fields
            if _present(rec.get(f))
        )
    if element == "units" and not _present(rec.get("units_raw")):
        return f"{rec.get('unit_count')} units"
    for field in EXAMPLE_FIELDS[element]:
        if _present(rec.get(field)):
            return str(rec[field])
    return ""


def _distinct(element: str, records: list[dict[str, Any]]) -> int:
    fields = EXAMPLE_FIELDS[element]
    if element == "units":
        fields = ("units_raw", "unit_count")
    return len({tuple(r.get(f) for f in fields) for r in records})


def measured_level(
    fill_rate: float | None, *, address_policy: str | None = None, element: str = ""
) -> str:
    """published (>= 0.95), partial (> 0), not_published (0); withheld by policy."""
    if fill_rate is None:
        return NO_DATA
    if element == "address" and address_policy == "withheld" and fill_rate == 0:
        return "withheld"
    if fill_rate >= PUBLISHED_MIN:
        return "published"
    return "partial" if fill_rate > 0 else "not_published"


def agreement(declared: str | None, measured: str) -> str:
    """agree / disagree / no data / not declared.

    Levels that all mean "no record-level value" (not_published, withheld,
    foia_only, published_aggregate) agree with each other; published and partial
    agree only with themselves.
    """
    if measured in (NO_DATA, NO_FEED):
        return measured
    if not declared:
        return "not declared"
    if declared == measured or (declared in _ABSENT and measured in _ABSENT):
        return "agree"
    return "disagree"


# --------------------------------------------------------------------- loading
def _feed_calls(store: Store, feed_id: str) -> list[dict[str, Any]]:
    cols = ", ".join(_CALL_COLUMNS)
    return store.query(
        f"SELECT {cols} FROM calls WHERE feed_id = {store.placeholder} "
        "ORDER BY record_key",
        (feed_id,),
    )


def _feed_runs(store: Store, feed_id: str) -> list[str]:
    """Fetch times of the feed's successful runs that stored records, in order."""
    rows = store.query(
        "SELECT DISTINCT fetched_at FROM runs WHERE feed_id = "
        f"{store.placeholder} AND status IN ('ok', 'degraded') AND records > 0 "
        "AND fetched_at IS NOT NULL ORDER BY fetched_at",
        (feed_id,),
    )
    return [r["fetched_at"] for r in rows]


def _observation_count(store: Store, feed_id: str) -> int:
    rows = store.query(
        f"SELECT COUNT(*) AS n FROM observations WHERE feed_id = {store.placeholder}",
        (feed_id,),
    )
    return int(rows[0]["n"]) if rows else 0


# ------------------------------------------------------------------- measuring
Row = tuple[str, str, str, Any]


def _timing(
    cfg: FeedConfig, calls: list[dict[str, Any]], fetches: list[str]
) -> dict[str, Any]:
    """Observed time on feed and publication delay, where runs measured them.

    Time on feed, over calls that left a live listing (``disappeared_at`` set; only
    ``active_calls``/``recent_window`` boards): last seen - first seen is a lower
    bound, disappeared - first seen an upper bound. Publication delay, over calls
    first seen in a run that was not the feed's first (the first run sees the
    backlog, not new calls): first seen - received is an upper bound; the previous
    run's fetch - received (0 if the call came in after it) a lower bound, since the
    call was not listed then. Each counts a call only when the runs around it were
    at most a day apart; otherwise the gap, not the feed, decides the number.
    """
    out: dict[str, Any] = {
        "time_on_feed_median_minutes": None,
        "time_on_feed_upper_median_minutes": None,
        "time_on_feed_n": 0,
        "publication_delay_median_minutes": None,
        "publication_delay_lower_median_minutes": None,
        "publication_delay_n": 0,
    }
    times = [_ts(f) for f in fetches]
    times = [t for t in times if t is not None]
    if cfg.board in ("active_calls", "recent_window"):
        lower, upper = [], []
        for c in calls:
            first, last = _ts(c["first_seen"]), _ts(c["last_seen"])
            gone = _ts(c["disappeared_at"])
            if (
                first
                and last
                and gone
                and (gone - last).total_seconds() <= MAX_RUN_GAP_S
            ):
                lower.append((last - first).total_seconds())
                upper.append((gone - first).total_seconds())
        out["time_on_feed_median_minutes"] = _median_minutes(lower)
        out["time_on_feed_upper_median_minutes"] = _median_minutes(upper)
        out["time_on_feed_n"] = len(lower)
    if len(times) >= 2:
        upper, lower = [], []
        for c in calls:
            first, received = _ts(c["first_seen"]), _ts(c["received_at_utc"])
            if first is None or received is None or first <= times[0]:
                continue
            i = bisect.bisect_left(times, first)
            previous = times[i - 1]
            if (first - previous).total_seconds() > MAX_RUN_GAP_S:
                continue
            upper.append((first - received).total_seconds())
            lower.append(max(0.0, (previous - received).total_seconds()))
        out["publication_delay_median_minutes"] = _median_minutes(upper)
        out["publication_delay_lower_median_minutes"] = _median_minutes(lower)
        out["publication_delay_n"] = len(upper)
    return out


def _feed_facts(cfg: FeedConfig) -> list[tuple[str, Any]]:
    d = cfg.data
    policy = d.get("location_policy") or {}
    return [
        ("agency", d.get("agency")),
        ("city", d.get("city")),
        ("state", d.get("state")),
        ("title", d.get("title")),
        ("platform", d.get("platform")),
        ("liveness", d.get("liveness")),
        ("board", cfg.board),
        ("update_interval_minutes", d.get("update_interval_minutes")),
        ("documentation_url", d.get("documentation_url")),
        ("verified_against_capture", bool(d.get("verified_against_capture"))),
        ("capture_kind", (d.get("capture") or {}).get("kind")),
        ("location_policy_address", policy.get("address")),
        ("location_policy_coordinates", policy.get("coordinates")),
    ]


def _granularity_rows(
    feed: str, element: str, values: list[str], vocabulary: Iterable[str]
) -> list[Row]:
    counts = Counter(values)
    n = len(values)
    rows: list[Row] = []
    finest = None
    for g in vocabulary:
        share = counts.get(g, 0) / n
        rows.append((feed, element, f"share_{g}", round(share, 4)))
        if (
            finest is None
            and share >= FINEST_MIN_SHARE
            and g not in ("withheld", "unknown", "none", "unparsed")
        ):
            finest = g
    rows.append((feed, element, "finest", finest))
    return rows


def measure_feed(
    cfg: FeedConfig,
    calls: list[dict[str, Any]],
    fetches: list[str],
    observations: int = 0,
) -> list[Row]:
    """Tidy rows for one feed with a platform: facts, then each element."""
    feed = cfg.feed_id
    n = len(calls)
    rows: list[Row] = [(feed, FEED, k, v) for k, v in _feed_facts(cfg)]
    received = sorted(c["received_at_utc"] for c in calls if c["received_at_utc"])
    seen_first = min((c["first_seen"] for c in calls), default=None)
    seen_last = max((c["last_seen"] for c in calls), default=None)
    if n:
        evidence = "measured"
    elif cfg.get("verified_against_capture"):
        evidence = "declared only: no stored records"
    else:
        evidence = (
            "declared only: no stored records (config not verified against a capture)"
        )
    rows += [
        (feed, FEED, "evidence", evidence),
        (feed, FEED, "records_stored", n),
        (feed, FEED, "observations", observations),
        (feed, FEED, "runs", len(fetches)),
        (feed, FEED, "received_first", received[0] if received else None),
        (feed, FEED, "received_last", received[-1] if received else None),
        (feed, FEED, "seen_first", seen_first),
        (feed, FEED, "seen_last", seen_last),
    ]
    rows += [(feed, FEED, k, v) for k, v in _timing(cfg, calls, fetches).items()]

    declared = cfg.get("declared") or {}
    policy = (cfg.get("location_policy") or {}).get("address")
    disagreements = []
    for element in vocab.ELEMENTS:
        has = HAS[element]
        carrying = [c for c in calls if has(c)]
        fill = round(len(carrying) / n, 4) if n else None
        measured = measured_level(fill, address_policy=policy, element=element)
        decl = declared.get(element)
        agree = agreement(decl, measured)
        availability = measured if n else (decl or NO_DATA)
        rows += [
            (feed, element, "availability", availability),
            (feed, element, "declared", decl),
            (feed, element, "measured", measured),
            (feed, element, "agreement", agree),
            (feed, element, "fill_rate", fill),
            (feed, element, "records_with", len(carrying) if n else None),
            (
                feed,
                element,
                "distinct_values",
                _distinct(element, carrying) if n else None,
            ),
        ]
        detail = _element_detail(feed, element, calls, carrying) if n else []
        rows += detail
        if agree == "disagree":
            note = f"{fill:.0%} filled"
            disagreements.append(
                f"{element}: declared {decl}, measured {measured} ({note})"
            )
    rows.append((feed, FEED, "disagreements", "; ".join(disagreements) or None))
    return rows


def _element_detail(
    feed: str, element: str, calls: list[dict[str, Any]], carrying: list[dict[str, Any]]
) -> list[Row]:
    """Granularity, resolution and an example for one element of one feed."""
    rows: list[Row] = []
    example_pool = carrying
    if element == "address":
        grains = [c["address_granularity"] or "unknown" for c in calls]
        rows += _granularity_rows(feed, element, grains, vocab.ADDRESS_GRANULARITY)
        finest = rows[-1][3]
        example_pool = [c for c in carrying if c["address_granularity"] == finest]
    elif element == "coordinates":
        grains = [c["coord_granularity"] or "none" for c in calls]
        rows += _granularity_rows(feed, element, grains, vocab.COORD_GRANULARITY)
        decimals = [
            max(_decimals(c["latitude"]), _decimals(c["longitude"])) for c in carrying
        ]
        rows.append(
            (
                feed,
                element,
                "decimals_median",
                statistics.median(decimals) if decimals else None,
            )
        )
    elif element in ("received_time", "stage_times"):
        names = (
            ["received"]
            if element == "received_time"
            else ["dispatched", "enroute", "onscene", "closed"]
        )
        found = [
            time_resolution(
                c[f"{ts}_at_raw"], c[f"{ts}_at_utc"], c["time_flags"], f"{ts}_at"
            )
            for c in calls
            for ts in names
        ]
        found = [f for f in found if f]
        if found:
            rows += _granularity_rows(feed, element, found, TIME_RESOLUTIONS)
            rows[-1] = (feed, element, "resolution", rows[-1][3] or _coarsest(found))
    elif element == "area":
        kinds = [
            f.removeprefix("area_")
            for f in AREA_FIELDS
            if any(_present(c.get(f)) for c in carrying)
        ]
        rows.append((feed, element, "types", ";".join(kinds) or None))
    if example_pool:
        rec = example_pool[0]
        rows.append((feed, element, "example", _example(element, rec)))
        rows.append((feed, element, "example_record_key", rec["record_key"]))
    return rows


def _coarsest(found: list[str]) -> str:
    # Every value under the noise threshold: name the commonest instead of nothing.
    return Counter(found).most_common(1)[0][0]


def measure_chicago(cfg: FeedConfig) -> list[Row]:
    """Chicago's row: a config without a feed, each element's status and source."""
    feed = cfg.feed_id
    # Chicago publishes no listing: the config's liveness/board (required by the
    # schema) would read as if it had one.
    facts = dict(
        _feed_facts(cfg),
        liveness="no public feed",
        board=None,
        update_interval_minutes=None,
    )
    rows: list[Row] = [(feed, FEED, k, v) for k, v in facts.items()]
    rows += [
        (
            feed,
            FEED,
            "evidence",
            "config without a feed: status and source per element",
        ),
        (feed, FEED, "records_stored", 0),
    ]
    elements = cfg.get("elements") or {}
    for element in vocab.ELEMENTS:
        spec = elements.get(element) or {"status": "unknown", "source": None}
        status = spec["status"]
        rows += [
            (feed, element, "availability", CHICAGO_TO_AVAILABILITY[status]),
            (feed, element, "declared", status),
            (feed, element, "measured", NO_FEED),
            (feed, element, "agreement", NO_FEED),
            (feed, element, "source", spec.get("source")),
            (feed, element, "note", spec.get("note")),
        ]
    return rows


def measure(store: Store, configs: dict[str, FeedConfig]) -> pd.DataFrame:
    """The tidy comparison: one (feed, element, metric, value) row per fact."""
    rows: list[Row] = []
    for feed_id in sorted(configs):
        cfg = configs[feed_id]
        if not cfg.has_feed:
            if cfg.get("elements"):
                rows += measure_chicago(cfg)
            continue
        calls = _feed_calls(store, feed_id)
        rows += measure_feed(
            cfg,
            calls,
            _feed_runs(store, feed_id),
            _observation_count(store, feed_id) if calls else 0,
        )
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS), dtype=object)


# ------------------------------------------------------------------ wide forms
FEED_COLUMNS = (
    "agency",
    "city",
    "state",
    "title",
    "platform",
    "liveness",
    "board",
    "update_interval_minutes",
    "evidence",
    "records_stored",
    "observations",
    "runs",
    "received_first",
    "received_last",
    "seen_first",
    "seen_last",
    "time_on_feed_median_minutes",
    "time_on_feed_upper_median_minutes",
    "time_on_feed_n",
    "publication_delay_median_minutes",
    "publication_delay_lower_median_minutes",
    "publication_delay_n",
    "verified_against_capture",
    "capture_kind",
    "location_policy_address",
    "location_policy_coordinates",
    "documentation_url",
    "disagreements",
)
ELEMENT_METRICS = (
    "availability",
    "declared",
    "measured",
    "agreement",
    "fill_rate",
    "distinct_values",
)
EXTRA_METRICS: dict[str, tuple[str, ...]] = {
    "received_time": tuple(f"share_{r}" for r in TIME_RESOLUTIONS) + ("resolution",),
    "stage_times": tuple(f"share_{r}" for r in TIME_RESOLUTIONS) + ("resolution",),
    "address": tuple(f"share_{g}" for g in vocab.ADDRESS_GRANULARITY) + ("finest",),
    "coordinates": tuple(f"share_{g}" for g in vocab.COORD_GRANULARITY)
    + ("finest", "decimals_median"),
    "area": ("types",),
}


def wide_columns() -> list[tuple[str, str, str]]:
    """(column name, element, metric), in the order comparison.csv shows them."""
    cols = [(m, FEED, m) for m in FEED_COLUMNS]
    for element in vocab.ELEMENTS:
        for metric in ELEMENT_METRICS:
            name = element if metric == "availability" else f"{element}_{metric}"
            cols.append((name, element, metric))
        cols += [(f"{element}_{m}", element, m) for m in EXTRA_METRICS.get(element, ())]
        cols.append((f"{element}_example", element, "example"))
        cols.append((f"{element}_source", element, "source"))
    return cols


def to_wide(long: pd.DataFrame) -> pd.DataFrame:
    """comparison.csv: one row per feed (Chicago last), derived from the long form."""
    index = {(r.feed, r.element, r.metric): r.value for r in long.itertuples()}
    feeds = sorted({f for f in long["feed"] if f != CHICAGO_FEED_ID})
    if CHICAGO_FEED_ID in set(long["feed"]):
        feeds.append(CHICAGO_FEED_ID)
    cols = wide_columns()
    data = [[feed, *(index.get((feed, e, m)) for _, e, m in cols)] for feed in feeds]
    return pd.DataFrame(
        data, columns=["feed_id", *(c for c, _, _ in cols)], dtype=object
    )


def _feeds_with(long: pd.DataFrame, element: str, levels: set[str]) -> list[str]:
    sel = long[
        (long.element == element)
        & (long.metric == "measured")
        & (long.value.isin(levels))
    ]
    return sorted(sel.feed)


WITHHELD_COLUMNS = (
    "element",
    "element_label",
    "chicago_status",
    "chicago_source",
    "feeds_publishing_n",
    "feeds_measured_n",
    "feeds_publishing",
    "feeds_declaring_without_data",
    "finest_published",
    "finest_published_by",
    "example_value",
    "example_feed",
    "example_record_key",
)


def withheld_table(long: pd.DataFrame) -> pd.DataFrame:
    """withheld.csv: per element, Chicago's status beside who publishes it elsewhere."""
    index = {(r.feed, r.element, r.metric): r.value for r in long.itertuples()}
    measured_feeds = sorted(
        f
        for (f, e, m), v in index.items()
        if e == FEED and m == "evidence" and v == "measured"
    )
    rank = {
        "address": vocab.ADDRESS_RANK,
        "coordinates": vocab.COORD_RANK,
        "received_time": {r: i for i, r in enumerate(TIME_RESOLUTIONS)},
        "stage_times": {r: i for i, r in enumerate(TIME_RESOLUTIONS)},
    }
    out = []
    for element in vocab.ELEMENTS:
        full = _feeds_with(long, element, {"published"})
        part = _feeds_with(long, element, {"partial"})
        declared_only = sorted(
            f
            for (f, e, m), v in index.items()
            if e == element
            and m == "availability"
            and v in ("published", "partial")
            and index.get((f, FEED, "evidence"), "").startswith("declared only")
        )
        publishing = full + part
        finest, finest_feeds = None, []
        metric = (
            "resolution" if element in ("received_time", "stage_times") else "finest"
        )
        if element in rank:
            grains = {f: index.get((f, element, metric)) for f in publishing}
            grains = {f: g for f, g in grains.items() if g}
            if grains:
                finest = min(grains.values(), key=lambda g: rank[element].get(g, 99))
                finest_feeds = sorted(f for f, g in grains.items() if g == finest)
        elif element == "area":
            kinds = Counter()
            for f in publishing:
                kinds.update((index.get((f, element, "types")) or "").split(";"))
            kinds.pop("", None)
            finest = "; ".join(k for k, _ in kinds.most_common()) or None
        # The example comes from the feed where the finest level is commonest (else
        # the best filled), so the value illustrates the claim beside it.
        share = f"share_{finest}"
        pool = sorted(
            finest_feeds or publishing,
            key=lambda f: (
                -(index.get((f, element, share)) or 0),
                -(index.get((f, element, "fill_rate")) or 0),
                -(index.get((f, element, "distinct_values")) or 0),
                f,
            ),
        )
        example = next(
            (
                (
                    f,
                    index.get((f, element, "example")),
                    index.get((f, element, "example_record_key")),
                )
                for f in pool
                if index.get((f, element, "example"))
            ),
            (None, None, None),
        )
        out.append(
            {
                "element": element,
                "element_label": ELEMENT_LABELS[element],
                "chicago_status": index.get((CHICAGO_FEED_ID, element, "declared")),
                "chicago_source": index.get((CHICAGO_FEED_ID, element, "source")),
                "feeds_publishing_n": len(publishing),
                "feeds_measured_n": len(measured_feeds),
                "feeds_publishing": ";".join(full + [f"{f} (partial)" for f in part])
                or None,
                "feeds_declaring_without_data": ";".join(declared_only) or None,
                "finest_published": finest,
                "finest_published_by": ";".join(finest_feeds) or None,
                "example_value": example[1],
                "example_feed": example[0],
                "example_record_key": example[2],
            }
        )
    return pd.DataFrame(out, columns=list(WITHHELD_COLUMNS), dtype=object)


# --------------------------------------------------------------------- writing


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    rows = ([_cell(v) for v in row] for row in frame.itertuples(index=False))
    write_csv(path, list(frame.columns), rows)
    return path


def run_compare(
    database_url: str | None = None,
    output: Path | None = None,
    configs_directory: Path | None = None,
) -> list[Path]:
    """Write every comparison export; return the paths written.

    comparison_long.csv, comparison.csv, withheld.csv, heatmap.png, report.html and
    datapackage.json (which also describes calls.csv when it exists). Each file is
    written atomically, so a crash never leaves a half-written export behind.
    """
    from . import datapackage, report

    out = Path(output) if output else output_dir()
    configs, errors = load_all(configs_directory)
    for err in errors:
        log.warning("config skipped: %s", err)
    store = open_store(database_url)
    try:
        long = measure(store, configs)
    finally:
        store.close()
    wide = to_wide(long)
    withheld = withheld_table(long)
    paths = [
        write_frame(out / "comparison_long.csv", long),
        write_frame(out / "comparison.csv", wide),
        write_frame(out / "withheld.csv", withheld),
    ]
    png = report.heatmap_png(wide)
    paths.append(write_atomic(out / "heatmap.png", png))
    html = report.render_html(long=long, wide=wide, withheld=withheld, heatmap=png)
    paths.append(write_atomic(out / "report.html", html.encode("utf-8")))
    descriptor = datapackage.build(out)
    paths.append(write_atomic(out / "datapackage.json", datapackage.dumps(descriptor)))
    return paths
