"""`cfs categorize`: apply one normalizer to a column of any CSV.

So a person can check a mapping on their own data: the input rows come back with
one result column added. With ``--feed`` the feed's crosswalk (and, for addresses,
its documented location policy) is used; without it, the general rules alone, as
for a city that has no crosswalk yet.
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


def normalizer(kind: str, feed_id: str | None) -> Callable[[str | None], str]:
    if kind == "call-type":
        return lambda v: categorize(v, feed_id=feed_id).category
    if kind == "call-source":
        return lambda v: classify_source(v, feed_id=feed_id).source
    if kind == "disposition":
        return lambda v: classify_disposition(v, feed_id=feed_id)
    if kind == "address":
        ceiling = "exact"
        if feed_id:
            ceiling = get_config(feed_id)["location_policy"]["address"]
        return lambda v: classify_address(v, ceiling=ceiling).granularity
    raise ValueError(f"unknown normalizer {kind!r}")


def categorize_csv(
    kind: str,
    input_path: Path,
    column: str,
    *,
    feed_id: str | None = None,
    output: Path | None = None,
) -> int:
    """Write the input rows plus the result column; return the number of rows."""
    apply = normalizer(kind, feed_id)
    result_col = RESULT_COLUMN[kind]
    with open(input_path, encoding="utf-8-sig", newline="", errors="replace") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        if column not in header:
            raise SystemExit(
                f"cfs categorize: {input_path}: no column {column!r} "
                f"(columns: {', '.join(header)})"
            )
        rows = list(reader)
    out_header = [*header, result_col] if result_col not in header else header
    counts: Counter[str] = Counter()

    def results():
        for row in rows:
            value = apply(row.get(column))
            counts[value] += 1
            row[result_col] = value
            yield [row.get(c) for c in out_header]

    if output is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([safe_cell(c) for c in out_header])
        for r in results():
            writer.writerow([safe_cell(v) for v in r])
    else:
        write_csv(output, out_header, results())
    summary = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
    print(f"{result_col}: {summary}", file=sys.stderr)
    return len(rows)
