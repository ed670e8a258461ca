#!/usr/bin/env python
"""Check that two ``cfs run`` replays wrote the same ``calls.csv`` and
``comparison.csv`` (a refactor must not change results).

``python bench/same_outputs.py BEFORE_DIR AFTER_DIR``: each file's header must be
equal and its data rows, sorted, byte for byte equal; the one exception is
``calls.csv``'s ``last_run_id``, a random id per run, which is blanked on both
sides first (say so, and how many rows it touched). Exit 0 when equal, 1 with the
first differences otherwise.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

RANDOM_COLUMNS = {"calls.csv": ("last_run_id",)}


def rows(path: Path) -> tuple[str, list[str]]:
    """(header line, data lines sorted), random columns blanked."""
    text = path.read_bytes().decode("utf-8")
    lines = text.splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    blank = RANDOM_COLUMNS.get(path.name, ())
    if blank:
        names = next(csv.reader([header]))
        idx = [names.index(c) for c in blank]
        out = []
        for row in csv.reader(io.StringIO("".join(body))):
            for i in idx:
                row[i] = ""
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(row)
            out.append(buf.getvalue())
        body = out
    return header, sorted(body)


def main(before: Path, after: Path) -> int:
    bad = 0
    for name in ("calls.csv", "comparison.csv"):
        (ha, a), (hb, b) = rows(before / name), rows(after / name)
        same = ha == hb and a == b
        note = (
            f" ({', '.join(RANDOM_COLUMNS[name])} blanked)"
            if name in RANDOM_COLUMNS
            else ""
        )
        print(
            f"{name}: {len(a)} vs {len(b)} rows, {'identical' if same else 'DIFFERENT'}{note}"
        )
        if not same:
            bad += 1
            for x, y in zip(a, b, strict=False):
                if x != y:
                    print(f"  first difference:\n  - {x!r}\n  + {y!r}")
                    break
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
