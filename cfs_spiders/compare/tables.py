"""The comparison's wide and withheld tables, derived from the tidy long table,
and how a table is written (through the safe CSV writer)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import vocab
from ..exports.files import write_csv
from .constants import (
    CHICAGO_FEED_ID,
    ELEMENT_LABELS,
    FEED,
    FORM_LEVELS,
    TIME_RESOLUTIONS,
)
from .forms import FORMS

# ------------------------------------------------------------------ wide forms
FEED_COLUMNS = (
    "place",
    "agency",
    "city",
    "state",
    "title",
    "platform",
    "liveness",
    "board",
    "update_interval_minutes",
    "evidence",
    "run_mode",
    "evidence_first",
    "evidence_last",
    "evidence_age_days",
    "capture_kind_label",
    "capture_filter",
    "capture_origin",
    "capture_origin_url",
    "last_live_fetch",
    "evidence_marks",
    "as_of",
    "records_stored",
    "observations",
    "runs",
    "received_first",
    "received_last",
    "seen_first",
    "seen_last",
    "timestamps",
    "run_spacing_median_minutes",
    "run_spacing_min_minutes",
    "run_spacing_max_minutes",
    "timing_window_first",
    "timing_window_last",
    "timing_withheld",
    "leaving_means",
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
    "live_urls",
    "license",
    "first_seen_before_received_n",
    "first_seen_before_received_note",
    "disagreements",
)
ELEMENT_METRICS = (
    "availability",
    "documented",
    "documentation_url",
    "measured",
    "agreement",
    "fill_rate",
    "distinct_values",
)
EXTRA_METRICS: dict[str, tuple[str, ...]] = {
    "received_time": tuple(f"share_{r}" for r in TIME_RESOLUTIONS) + ("resolution",),
    "stage_times": tuple(f"share_{r}" for r in TIME_RESOLUTIONS) + ("resolution",),
    "address": tuple(f"share_{g}" for g in vocab.ADDRESS_GRANULARITY)
    + (
        "finest",
        "exact_ending_00_n",
        "exact_house_numbers_n",
        "correction",
        "block_label_with_number_n",
        "block_label_with_number_example",
    ),
    "coordinates": tuple(f"share_{g}" for g in vocab.COORD_GRANULARITY)
    + ("finest", "decimals_median"),
    "area": ("types",),
}
for _element in FORMS:  # the value-form checks
    EXTRA_METRICS[_element] = (
        *EXTRA_METRICS.get(_element, ()),
        "form_reduced_share",
        "form_note",
    )


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
        cols += [
            (f"{element}_{m}", element, m)
            for m in ("levels", "citations", "citation_urls")
        ]
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
    "chicago_levels",
    "chicago_citation_urls",
    "places_publishing_n",
    "places_measured_n",
    "places_publishing",
    "places_partial",
    "places_coarser_form",
    "feeds_publishing_n",
    "feeds_measured_n",
    "feeds_publishing",
    "feeds_documenting_without_data",
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
        documented_only = sorted(
            f
            for (f, e, m), v in index.items()
            if e == element
            and m == "availability"
            and v in ("published", "partial")
            and index.get((f, FEED, "evidence"), "").startswith("documented only")
        )
        publishing = full + part
        place_of = {f: index.get((f, FEED, "place")) or f for f in measured_feeds}
        places_full = sorted({place_of[f] for f in full if f in place_of})
        places_part = sorted(
            {place_of[f] for f in part if f in place_of} - set(places_full)
        )
        coarser = {
            f"{place_of[f]} ({index.get((f, element, 'measured'))})"
            for f in _feeds_with(long, element, set(FORM_LEVELS))
            if f in place_of
            and place_of[f] not in places_full
            and place_of[f] not in places_part
        }
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
                "chicago_status": index.get((CHICAGO_FEED_ID, element, "documented")),
                "chicago_source": index.get((CHICAGO_FEED_ID, element, "source")),
                "chicago_levels": index.get((CHICAGO_FEED_ID, element, "levels")),
                "chicago_citation_urls": index.get(
                    (CHICAGO_FEED_ID, element, "citation_urls")
                ),
                "places_publishing_n": len(places_full),
                "places_measured_n": len(set(place_of.values())),
                "places_publishing": ";".join(places_full) or None,
                "places_partial": ";".join(places_part) or None,
                "places_coarser_form": ";".join(sorted(coarser)) or None,
                "feeds_publishing_n": len(publishing),
                "feeds_measured_n": len(measured_feeds),
                "feeds_publishing": ";".join(full + [f"{f} (partial)" for f in part])
                or None,
                "feeds_documenting_without_data": ";".join(documented_only) or None,
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
