"""`cfs categorize`: apply one normalizer to a column of any CSV.

So a person can check a mapping on their own data: the input rows come back with
the result columns added (``--distinct``: one row per distinct value, with its
count, most frequent first). With ``--feed`` the feed's crosswalk (and, for
addresses, its documented location policy) is used; without it, the general
rules and the learned fallback, as for a city that has no crosswalk yet.

A call type comes back with how it was decided, so a guess can be told from a
sure match: ``category_basis`` (crosswalk, rule, similar, unmapped),
``category_confidence``, the ``category_rule`` that fired, and for ``similar``
the ``matched_example``, its ``matched_source`` and its ``similarity``.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ..config.loader import get_config
from ..normalize.address import classify_address
from ..normalize.call_source import classify_source
from ..normalize.call_type import categorize
from ..normalize.disposition import classify_disposition
from .files import safe_cell, write_csv

RESULT_COLUMN = {
    "call-type": "call_type_category",
    "call-source": "call_source",
    "disposition": "disposition_category",
    "address": "address_granularity",
}
# Every column each normalizer adds, the result first.
RESULT_COLUMNS = {
    "call-type": (
        "call_type_category",
        "category_basis",
        "category_confidence",
        "category_rule",
        "matched_example",
        "matched_source",
        "similarity",
    ),
    "call-source": ("call_source", "call_source_basis"),
    "disposition": ("disposition_category",),
    "address": ("address_granularity",),
}


def _call_type(value: str | None, feed_id: str | None) -> tuple[str, ...]:
    res = categorize(value, feed_id=feed_id)
    sim = "" if res.similarity is None else f"{res.similarity:.4f}"
    return (
        res.category,
        res.basis,
        res.confidence or "",
        res.rule or "",
        res.matched_example or "",
        res.matched_source or "",
        sim,
    )


def normalizer(
    kind: str, feed_id: str | None
) -> Callable[[str | None], tuple[str, ...]]:
    """The function giving ``RESULT_COLUMNS[kind]`` for one raw value."""
    if kind == "call-type":
        return lambda v: _call_type(v, feed_id)
    if kind == "call-source":

        def source(v: str | None) -> tuple[str, ...]:
            res = classify_source(v, feed_id=feed_id)
            return (res.source, res.basis)

        return source
    if kind == "disposition":
        return lambda v: (classify_disposition(v, feed_id=feed_id),)
    if kind == "address":
        ceiling = "exact"
        if feed_id:
            ceiling = get_config(feed_id)["location_policy"]["address"]
        return lambda v: (classify_address(v, ceiling=ceiling).granularity,)
    raise ValueError(f"unknown normalizer {kind!r}")


def categorize_csv(
    kind: str,
    input_path: Path,
    column: str,
    *,
    feed_id: str | None = None,
    output: Path | None = None,
    distinct: bool = False,
) -> int:
    """Write the input rows plus the result columns (or, with ``distinct``,
    one row per distinct value with its ``count``); return the number of
    rows written."""
    apply = normalizer(kind, feed_id)
    added = RESULT_COLUMNS[kind]
    with open(input_path, encoding="utf-8-sig", newline="", errors="replace") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        if column not in header:
            raise SystemExit(
                f"cfs categorize: {input_path}: no column {column!r} "
                f"(columns: {', '.join(header)})"
            )
        rows = list(reader)
    cache: dict[str | None, tuple[str, ...]] = {}

    def result(value: str | None) -> tuple[str, ...]:
        if value not in cache:
            cache[value] = apply(value)
        return cache[value]

    counts: Counter[str] = Counter()
    if distinct:
        values = Counter(row.get(column) or "" for row in rows)
        out_header = [column, "count", *added]
        out_rows = [
            [value, str(n), *result(value)]
            for value, n in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        for value, n in values.items():
            counts[result(value)[0]] += n
    else:
        out_header = [*header, *(c for c in added if c not in header)]
        out_rows = []
        for row in rows:
            res = result(row.get(column))
            counts[res[0]] += 1
            row.update(zip(added, res, strict=True))
            out_rows.append([row.get(c) for c in out_header])
    if output is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([safe_cell(c) for c in out_header])
        for r in out_rows:
            writer.writerow([safe_cell(v) for v in r])
    else:
        write_csv(output, out_header, iter(out_rows))
    summary = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
    print(f"{added[0]}: {summary}", file=sys.stderr)
    return len(out_rows)
