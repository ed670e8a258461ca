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

import orjson
import polars as pl
import pyarrow as pa

from .colarrow import PageColumns
from .colrows import Const
from .encoding import ORJSON_OPTIONS, all_finite

# the characters orjson writes escaped inside a JSON string
_ESCAPED = r'[\x00-\x1f"\\]'
_dumps = partial(orjson.dumps, option=ORJSON_OPTIONS)
_PLAIN = (pa.int64(), pa.float64(), pa.bool_())


def raw_texts(raws: Sequence[Any]) -> pl.Series | None:
    """``orjson.dumps`` of each raw record (the text it has inside its
    record's text, and that the store keeps), as one polars column; ``None``
    when orjson refuses one (a huge integer, a lone surrogate): the page is
    then encoded record by record. orjson writes no newline outside a string
    (it escapes it inside one), so the texts cross as one newline-joined text
    and are cut there, not converted one by one."""
    try:
        joined = b"\n".join(map(_dumps, raws)).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    texts = pl.Series("raw", [joined], dtype=pl.String).str.split("\n").explode()
    return texts if len(texts) == len(raws) else None


def _const_text(value: Any) -> str | None:
    if not all_finite(value):
        return None
    try:
        return _dumps(value).decode("utf-8")
    except TypeError:
        return None


def _list_texts(values: list[Any], n: int) -> pl.Series | None:
    """The JSON texts of a column of numbers, booleans and nulls: orjson's text
    of the whole list, cut at its commas."""
    if len(values) != n:
        return None
    try:
        text = _dumps(values).decode("utf-8")
    except TypeError:
        return None
    cut = pl.Series([text[1:-1]], dtype=pl.String).str.split(",").explode()
    return cut if len(cut) == n else None


def _string_texts(values: pl.Series) -> pl.Series:
    """The JSON texts of a text column: quoted, and escaped by orjson where a
    value holds a character it escapes."""
    quoted = pl.select(
        pl.concat_str([pl.lit('"'), pl.lit(values), pl.lit('"')]).fill_null("null")
    ).to_series()
    special = values.str.contains(_ESCAPED).fill_null(False).arg_true()
    if len(special):
        escaped = [_dumps(v).decode("utf-8") for v in values.gather(special)]
        quoted = quoted.scatter(special, pl.Series(escaped, dtype=pl.String))
    return quoted


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
    (``raw_texts``). ``None`` when it cannot be written exactly so."""
    n = arrow.n
    if tuple(columns) != tuple(fields) or len(raw) != n:
        return None
    pieces: list[Any] = []
    between = "{"  # the text up to the next column that varies
    for i, name in enumerate(fields):
        between += ("," if i else "") + orjson.dumps(name).decode() + ":"
        texts: Any
        if name == "raw":
            texts = raw
        elif name in arrow.consts:
            texts = _const_text(arrow.consts[name])
        elif name in arrow.arrays:
            array = arrow.arrays[name]
            if array.type == pa.string():
                texts = _string_texts(pl.Series(array))
            elif array.type in _PLAIN and isinstance(columns[name], list):
                texts = _list_texts(columns[name], n)
            else:
                return None
        elif _all_null(columns[name]):
            texts = "null"
        else:
            return None
        if texts is None:
            return None
        if isinstance(texts, str):
            between += texts
            continue
        pieces += [pl.lit(between), pl.lit(texts)]
        between = ""
    pieces.append(pl.lit(between + "}"))
    return pl.select(pl.concat_str(pieces).alias("line")).to_series()


def _all_null(column: Any) -> bool:
    if isinstance(column, repeat):
        return next(column) is None
    if isinstance(column, Const):
        return column.value is None
    return all(v is None for v in column)
