"""A page's records as JSON text, column by column.

Why: a record's JSON text (its JSON Lines line, and the text the store reads a
record back from) was one ``orjson.dumps`` of a 60-key dict per record, after
the dict itself was built from the page's columns. Here each column's values
become their JSON texts at once, and a line is the columns' texts joined
(``pl.concat_str``), with the raw record's own text as its last field. The text
is orjson's, byte for byte, by construction:

- a number, boolean or null column is written by orjson itself, as one list
  whose text is cut at its commas (none of these values holds a comma);
- a text column is its values between quotes, except the values holding a
  character orjson escapes (a quote, a backslash, a control character:
  ``_ESCAPED``, checked against orjson in ``tests/test_coljson.py``), which
  orjson writes one by one;
- a column of one value is written once, into the text between the columns;
- the raw record is ``orjson.dumps(raw)``, as inside the whole record's text.

A page whose text cannot be made so (a value orjson would refuse or write as
``json`` does, a column of another type) gives ``None``: its records are then
encoded one by one, as before (``encoding.json_texts_exact``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from .colarrow import PageColumns
from .colrows import Const
from .encoding import ORJSON_OPTIONS, all_finite

# what orjson writes for each character it escapes inside a JSON string (a
# quote, a backslash, a control character), checked against orjson for every
# character in tests/test_coljson.py
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n"}
_SHORT |= {"\r": "\\r", "\t": "\\t"}
ESCAPES = {chr(c): _SHORT.get(chr(c), f"\\u{c:04x}") for c in range(0x20)} | _SHORT
_dumps = partial(orjson.dumps, option=ORJSON_OPTIONS)
_NUMBERS = (pa.int64(), pa.float64(), pa.bool_())


# what separates the records in ``raw_texts``' one text of a page: orjson writes
# a fragment as it is, and it never writes a NUL itself (it escapes every control
# character inside a string; outside one a JSON text holds none)
_APART = orjson.Fragment(b"\x00")


def raw_texts(raws: Sequence[Any]) -> pa.Array | None:
    """``orjson.dumps`` of each raw record (the text it has inside its
    record's text, and that the store keeps), as one Arrow column (large
    strings, as the store takes them); ``None`` when orjson refuses one (a huge
    integer, a lone surrogate): the page is then encoded record by record.

    One ``orjson.dumps`` of the whole page, each record followed by a NUL
    (``_APART``), cut at the NULs: the same bytes as a call a record (orjson
    writes a list's items as it writes each alone), without a bytes object a
    record, which cost four times the encoding itself."""
    n = len(raws)
    if not n:
        return pa.array([], pa.large_string())
    items: list[Any] = [_APART] * (2 * n - 1)
    items[::2] = raws
    try:
        whole = _dumps(items)  # [r0,\0,r1,\0,...,rn]
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    view = np.frombuffer(whole, np.uint8)
    cuts = np.flatnonzero(view == 0)
    if len(cuts) != n - 1:  # a NUL a record wrote (an orjson.Fragment in it)
        return None
    keep = np.ones(len(view), np.bool_)  # all but "[", ",\0," and "]"
    keep[[0, -1]] = False
    keep[cuts - 1] = keep[cuts] = keep[cuts + 1] = False
    ends = np.empty(n, np.int64)  # where each record's text ends, in the whole
    ends[:-1], ends[-1] = cuts - 1, len(view) - 1
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = ends - 1 - 3 * np.arange(n)  # less the bytes dropped before
    data = view[keep]
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _const_text(value: Any) -> str | None:
    if not all_finite(value):
        return None
    try:
        return _dumps(value).decode("utf-8")
    except TypeError:
        return None


def _number_texts(values: list[Any], n: int) -> pl.Series | None:
    """The JSON texts of a column of numbers, booleans and nulls: orjson's text
    of the whole list, cut at its commas (no such value holds one)."""
    if len(values) != n:
        return None
    try:
        text = _dumps(values).decode("utf-8")
    except TypeError:
        return None
    cut = pl.Series([text[1:-1]], dtype=pl.String).str.split(",").explode()
    return cut if len(cut) == n else None


def _escaped(name: str) -> pl.Expr:
    """A text column's values with the characters orjson escapes escaped as it
    does (one pass over each value)."""
    return pl.col(name).str.replace_many(ESCAPES)


def _may_escape(array: pa.Array) -> bool:
    """Whether a text column may hold a character orjson escapes: a look at
    each byte of its data at once (numpy), so that the many columns that hold
    none skip the pass that escapes. (A UTF-8 byte below 0x80 is that
    character: no multi-byte character holds one.)"""
    data = array.buffers()[2]
    if data is None:
        return False
    view = np.frombuffer(data, np.uint8)
    return bool(((view < 0x20) | (view == 0x22) | (view == 0x5C)).any())


def json_lines(
    fields: Sequence[str],
    columns: dict[str, Any],
    arrow: PageColumns,
    raw: pl.Series,
) -> pl.Series | None:
    """Each record's JSON text (``orjson.dumps`` of the record dict, keys in
    ``fields`` order), from the page's columns: ``columns`` as the records
    are made from (lists of Python values, ``Const``s), ``arrow`` the same as
    Arrow (``colarrow.page_columns``), ``raw`` the raw records' texts
    (``raw_texts``). One polars query joins the columns' texts. ``None`` when
    the text cannot be written exactly so."""
    n = arrow.n
    if tuple(columns) != tuple(fields) or len(raw) != n:
        return None
    frame: dict[str, pl.Series] = {}
    pieces: list[pl.Expr] = []
    between = "{"  # the text up to the next column that varies
    for i, name in enumerate(fields):
        between += ("," if i else "") + orjson.dumps(name).decode() + ":"
        text: pl.Expr | str | None
        if name == "raw":
            frame[name], text = raw, pl.col(name)
        elif name in arrow.consts:
            text = _const_text(arrow.consts[name])
        elif name in arrow.arrays:
            array = arrow.arrays[name]
            if array.type == pa.string():
                frame[name] = pl.Series(array)
                value = _escaped(name) if _may_escape(array) else pl.col(name)
                if not array.null_count:  # quoted by the text around it
                    pieces += [pl.lit(between + '"'), value]
                    between = '"'
                    continue
                text = pl.concat_str([pl.lit('"'), value, pl.lit('"')])
                text = text.fill_null("null")
            elif array.type in _NUMBERS and isinstance(columns[name], list):
                numbers = _number_texts(columns[name], n)
                if numbers is None:
                    return None
                frame[name], text = numbers, pl.col(name)
            else:
                return None
        elif _all_null(columns[name]):
            text = "null"
        else:
            return None
        if text is None:
            return None
        if isinstance(text, str):
            between += text
            continue
        pieces += [pl.lit(between), text]
        between = ""
    pieces.append(pl.lit(between + "}"))
    return pl.DataFrame(frame).select(pl.concat_str(pieces).alias("line"))["line"]


def _all_null(column: Any) -> bool:
    if isinstance(column, repeat):
        return next(column) is None
    if isinstance(column, Const):
        return column.value is None
    return all(v is None for v in column)
