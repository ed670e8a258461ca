"""The column writer's own checks, below the store: ``frame_csv`` given Arrow
batches (the text columns scanned through their buffers, ``prepare``) and polars
frames (looked at with polars' expressions) writes what ``files.write_csv``
writes for the same rows, for any text; the scan names every column whose
spreadsheet cells differ; and ``cfs export`` starts without the crawler's
imports. Every value here is synthetic.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_spiders.exports import frame_csv
from cfs_spiders.exports.files import safe_cell, spreadsheet_path, write_csv

ROOT = Path(__file__).resolve().parents[1]

# texts each of which some rule of the writers is about (synthetic)
EDGES = [
    None,
    "",
    "plain",
    "=1+1",
    "+1",
    "-82.8",
    "-x",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\ronly",
    "nul\x00in",
    "del\x7f",
    "é",
    "東京 🚒",
    " spaced ",
    ",",
    '"',
    "\n",
]
text = st.one_of(
    st.sampled_from(EDGES),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)


def by_rows(tmp: Path, columns: list[str], rows: list[tuple]) -> tuple[bytes, bytes]:
    path = tmp / "rows" / "t.csv"
    write_csv(path, columns, rows)
    return path.read_bytes(), spreadsheet_path(path).read_bytes()


def by_columns(tmp: Path, columns: list[str], batches: list) -> tuple[bytes, bytes]:
    path = tmp / "cols" / "t.csv"
    frame_csv.write_csv_batches(path, columns, batches)
    return path.read_bytes(), spreadsheet_path(path).read_bytes()


def arrow_batch(columns: list[str], rows: list[tuple]) -> pa.RecordBatch:
    return pa.record_batch(
        [pa.array([r[i] for r in rows], pa.string()) for i in range(len(columns))],
        names=columns,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda width: st.lists(st.tuples(*[text] * width), min_size=1, max_size=30).map(
            lambda rows: (width, rows)
        )
    )
)
def test_any_text_is_written_as_the_row_writer_writes_it(tmp_path_factory, case):
    width, rows = case
    columns = [f"c{i}" for i in range(width)]
    tmp = tmp_path_factory.mktemp("t")
    ref = by_rows(tmp, columns, rows)
    half = len(rows) // 2
    batches = [arrow_batch(columns, rows[:half]), arrow_batch(columns, rows[half:])]
    assert by_columns(tmp / "arrow", columns, batches) == ref
    frames = [pl.from_arrow(b) for b in batches]
    assert by_columns(tmp / "polars", columns, frames) == ref


def test_the_scan_names_each_column_whose_spreadsheet_cells_differ():
    rows = [("plain", "x", "=1", "", "é", "a\x01b", "-7", "@a", "b", "")] * 3
    rows += [("text", "y", "", "", "ü", "", "", "", "ok", None)]
    columns = [f"c{i}" for i in range(len(rows[0]))]
    prepared = frame_csv.prepare(arrow_batch(columns, rows))
    # the ones safe_cell changes ("-7" is a number, left as it is)
    assert {"c2", "c5", "c7"} <= prepared.care
    assert not {"c0", "c1", "c3", "c8", "c9"} & prepared.care
    # empty texts and nulls both arrive null (an empty cell either way)
    assert prepared.frame.get_column("c3").null_count() == 4
    assert prepared.frame.get_column("c9").null_count() == 4
    changed = {
        c
        for c in columns
        if any(safe_cell(r[int(c[1:])]) != (r[int(c[1:])] or "") for r in rows)
    }
    assert changed <= prepared.care


def test_a_text_that_is_not_utf8_is_refused():
    good = pa.array(["ok", "fine"], pa.string())
    data = pa.py_buffer(b"ok\xff\xfeab")  # "fine"'s six bytes, two not UTF-8
    bad = pa.Array.from_buffers(pa.string(), 2, [None, good.buffers()[1], data])
    with pytest.raises(frame_csv.UnsupportedColumn, match="'address'"):
        frame_csv.prepare(pa.record_batch([good, bad], names=["call_id", "address"]))


def test_an_empty_batch_and_a_sliced_one(tmp_path):
    columns = ["a", "b"]
    rows = [("x", "=y"), ("", None), ("p,q", "z")]
    batch = arrow_batch(columns, rows)
    empty = batch.slice(0, 0)
    sliced = [batch.slice(0, 1), batch.slice(1, 2)]  # an offset: read otherwise
    ref = by_rows(tmp_path, columns, rows)
    assert by_columns(tmp_path / "s", columns, [empty, *sliced]) == ref


def test_cfs_export_starts_without_the_crawler():
    """Building the parser imports no command module: ``cfs export`` does not
    load Scrapy and Twisted. The chunk default agrees with the importer's."""
    code = (
        "import sys; from cfs_spiders.cli import main; main.parser(); "
        "print(sorted(m for m in ('scrapy', 'twisted', 'cfs_spiders.cli.crawl') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stderr
    from cfs_spiders.cli import main
    from cfs_spiders.importers.git import DEFAULT_CHUNK

    assert main.DEFAULT_CHUNK == DEFAULT_CHUNK
