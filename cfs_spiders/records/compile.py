"""The declarative mapping (``records/mapping.py``) compiled to column functions.

The row builder runs a feed's mapping once per record; here the same spec is
compiled once per feed into functions over polars Series, so a page's element
values come out of vectorized kernels. Each function must give exactly what the
reference getter gives record by record (``tests/test_columnar.py`` checks every
bundled capture field by field), so:

* a step whose Python and polars semantics agree is a polars kernel (``field``,
  ``fields`` + ``join``, ``const``, ``fallback``, ``strip``/``upper``/``lower``/
  ``collapse_space``, ``regex`` without Python-only syntax, ``split``, ``null_if``,
  ``replace``, ``template``, numeric ``scale``);
* a step whose semantics are Python's own (``map``, ``count``, ``title``,
  ``html_text``, ``html_dl``, ``scale`` of text, a regex with ``$`` or lookaround)
  runs the reference step once per DISTINCT value and joins the result back;
* a spec the compiler does not know raises ``Uncompilable`` (the feed then uses the
  reference builder), and a page whose values do not fit one column type raises
  ``PageFallback`` (that page uses the reference builder).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from itertools import repeat
from typing import Any

import polars as pl

from ..normalize.text import to_text
from .mapping import _MISSING, compile_step, get_path

ColumnFn = Callable[["Columns"], pl.Series]

# Exactly the characters Python's str.strip() and re's \s remove (Rust's
# whitespace set differs: U+001C..U+001F are Python-only).
PY_SPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
_SPACE_CLASS = "[" + "".join(re.escape(c) for c in PY_SPACE) + "]"
_PY_ONLY_REGEX = ("$", "(?=", "(?!", "(?<", "\\Z", "\\A", "(?P", "\\b", "\\B")


class Uncompilable(ValueError):
    """A mapping spec or step this compiler cannot express."""


class PageFallback(ValueError):
    """A page's values do not fit a column type (mixed types in one field)."""


def series_of(
    name: str, values: list[Any], kinds: set[type] | None = None
) -> pl.Series:
    """One column of published values with the Python types kept exactly.

    Text, whole numbers, floats and booleans each get their own dtype; a column
    mixing them (or holding lists and dicts) cannot round-trip exactly and
    raises ``PageFallback``. ``kinds``: the value types, when the caller has
    them (``None`` among them or not)."""
    kinds = set(map(type, values)) if kinds is None else set(kinds)
    kinds.discard(type(None))
    if not kinds or kinds == {str}:
        return pl.Series(name, values, dtype=pl.String)
    if kinds == {int}:
        try:
            return pl.Series(name, values, dtype=pl.Int64, strict=True)
        except (OverflowError, TypeError, ValueError, pl.exceptions.PolarsError):
            raise PageFallback(f"{name}: integer out of range") from None
    if kinds == {float}:
        return pl.Series(name, values, dtype=pl.Float64, strict=True)
    if kinds == {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    raise PageFallback(f"{name}: mixed value types {sorted(k.__name__ for k in kinds)}")


def filled(name: str, value: Any, n: int, dtype: Any) -> pl.Series:
    """``n`` rows of one value (``new_from_index``: a tenth of what building
    the column from a list or by ``pl.repeat`` costs)."""
    return pl.Series(name, [value], dtype=dtype).new_from_index(0, n)


def per_distinct(s: pl.Series, fn: Callable[[Any], Any]) -> pl.Series:
    """``fn`` applied once per distinct non-null value of ``s``, joined back."""
    uniq = s.drop_nulls().unique().to_list()
    out = [fn(v) for v in uniq]
    mapped = series_of(s.name, out)
    if not uniq:
        return filled(s.name, None, len(s), mapped.dtype)
    keys = pl.Series(s.name, uniq, dtype=s.dtype)
    return s.replace_strict(keys, mapped, default=None, return_dtype=mapped.dtype)


def null_where(s: pl.Series, mask: pl.Series) -> pl.Series:
    """``s`` with null where ``mask`` is true."""
    mask = mask.fill_null(False)
    if not mask.any():
        return s
    return s.zip_with(~mask, filled(s.name, None, len(s), s.dtype))


def blank_to_null(s: pl.Series) -> pl.Series:
    """``_blank_to_none``: text that is empty once stripped becomes null."""
    if s.dtype != pl.String:
        return s
    # Blank text is empty or starts with a space: every Python space sorts
    # below "!" or from U+0085 on. Two comparisons rule out most columns
    # without stripping each value.
    if not ((s < "!") | (s >= "\x85")).any():
        return s
    return null_where(s, s.str.strip_chars(PY_SPACE) == "")


def as_text(s: pl.Series) -> pl.Series:
    """``to_text`` of a column."""
    if s.dtype == pl.String:
        return s
    if s.dtype == pl.Int64:
        return s.cast(pl.String)
    return per_distinct(s, to_text)


class Columns:
    """A page's raw columns, read once per path (``get_path`` semantics)."""

    def __init__(self, raws: list[dict[str, Any]]) -> None:
        self.raws = raws
        self.n = len(raws)
        self._cache: dict[str, pl.Series] = {}
        self._text: dict[str, pl.Series] = {}
        self._read: dict[str, tuple[Any, ...]] = {}  # prefetched, not yet read
        self.paths_read: list[str] = []  # what the mapping read, in order

    def prefetch(self, paths: list[str]) -> None:
        """Read ``paths`` (the ones the previous page's mapping read) in one pass
        over the rows, each row's dict looked up while it is in the CPU's cache:
        half the cost of one pass over the page per path. The values are those
        of ``_values``'s first, flat lookup; plain dicts only (another mapping is
        read path by path, as before)."""
        if len(paths) < 2 or not self.n or set(map(type, self.raws)) != {dict}:
            return
        flat = tuple(paths)
        missing = tuple(_absent(p) for p in flat)
        rows = [tuple(map(raw.get, flat, missing)) for raw in self.raws]
        self._read = dict(zip(flat, zip(*rows, strict=True), strict=True))

    def subset(self, rows: list[int]) -> Columns:
        """The columns of some rows of the page (by index)."""
        return Columns(list(map(self.raws.__getitem__, rows)))

    def values(self, path: str) -> list[Any]:
        return self._values(path)[0]

    def _values(self, path: str) -> tuple[list[Any], set[type]]:
        """``get_path`` of every row, an empty object or list as None, and the
        value types. The rows are read by C loops (``map``); only rows that
        hold the head of a dotted path not stored flat walk it in Python."""
        raws, n = self.raws, self.n
        self.paths_read.append(path)
        try:
            read = self._read.pop(path, None)
            got = (
                list(map(dict.get, raws, repeat(path, n), repeat(_absent(path), n)))
                if read is None
                else list(read)
            )
        except TypeError:  # a row that is not a plain mapping: the row reading
            got = [get_path(raw, path) for raw in raws]
        else:
            if "." in path and _MISSING in got:
                head = path.split(".", 1)[0]
                heads = list(map(dict.get, raws, repeat(head, n), repeat(_MISSING)))
                for i, value in enumerate(got):
                    if value is _MISSING:
                        got[i] = (
                            None if heads[i] is _MISSING else get_path(raws[i], path)
                        )
            elif _MISSING in got:
                got = [None if v is _MISSING else v for v in got]
        kinds = set(map(type, got))
        if any(issubclass(k, dict | list) for k in kinds):
            got = [_no_empty(v) for v in got]
            kinds = set(map(type, got))
        return got, kinds

    def path(self, path: str) -> pl.Series:
        s = self._cache.get(path)
        if s is None:
            values, kinds = self._values(path)
            s = blank_to_null(series_of(path, values, kinds))
            self._cache[path] = s
        return s

    def text(self, path: str) -> pl.Series:
        """The path as text (``to_text`` of each value), for a consumer that reads
        nothing but the text: values of any type (a GeoJSON point, mixed numbers
        and text) then fit one column."""
        s = self._text.get(path)
        if s is None:
            try:
                s = as_text(self.path(path))
            except PageFallback:
                values = [to_text(_blank(v)) for v in self.values(path)]
                s = pl.Series(path, values, dtype=pl.String)
            self._text[path] = s
        return s


def _absent(path: str) -> Any:
    """What the flat lookup of ``path`` gives a row without it: None (no value),
    or for a dotted path a marker, as the row may hold the path nested."""
    return _MISSING if "." in path else None


def _no_empty(value: Any) -> Any:
    """An empty object or list is no value (``mapping._blank_to_none``)."""
    return None if isinstance(value, dict | list) and not value else value


def _blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def reads_text(step: Any) -> bool:
    """True for a step whose result depends only on ``to_text`` of its input."""
    if not isinstance(step, dict):
        return False
    if "map" in step:
        return not step.get("keep_unmapped", "default" not in step)
    return any(k in step for k in ("regex", "split", "count", "template", "html_dl"))


def _regex_fn(spec: dict[str, Any]) -> Callable[[pl.Series], pl.Series]:
    pattern = spec["regex"]
    group = spec.get("group")
    rx = re.compile(pattern)
    vector = not any(tok in pattern for tok in _PY_ONLY_REGEX) and (
        group is None or isinstance(group, int)
    )
    if vector:
        try:
            pl.Series(["x"]).str.extract(pattern, 0)
        except pl.exceptions.PolarsError:
            vector = False
    if not vector:
        step = compile_step(spec)
        return lambda s: per_distinct(s, step)
    index = group if group is not None else (1 if rx.groups else 0)
    return lambda s: as_text(s).str.extract(pattern, index)


def compile_column_step(spec: Any) -> Callable[[pl.Series], pl.Series]:
    """One mapping step as a Series -> Series function (see the module doc)."""
    reference = compile_step(spec)  # raises on an unknown step, as the row path
    python = lambda s: per_distinct(s, reference)  # noqa: E731

    def text_only(fn: Callable[[pl.Series], pl.Series]) -> Any:
        # the row step changes only str values: other dtypes pass unchanged
        return lambda s: fn(s) if s.dtype == pl.String else s

    if spec == "strip":
        return text_only(lambda s: s.str.strip_chars(PY_SPACE))
    if spec == "upper":
        return text_only(lambda s: s.str.to_uppercase())
    if spec == "lower":
        return text_only(lambda s: s.str.to_lowercase())
    if spec == "collapse_space":
        return text_only(
            lambda s: s.str.replace_all(_SPACE_CLASS + "+", " ").str.strip_chars(
                PY_SPACE
            )
        )
    if spec in ("title", "html_text") or not isinstance(spec, dict):
        return python
    if "regex" in spec:
        # named flags (dotall...) keep Python's regex semantics
        return python if spec.get("flags") else _regex_fn(spec)
    if "split" in spec:
        sep, index = spec["split"], spec.get("index", 0)
        if not isinstance(sep, str) or not sep or not isinstance(index, int):
            return python
        return lambda s: (
            as_text(s)
            .str.split(sep)
            .list.get(index, null_on_oob=True)
            .str.strip_chars(PY_SPACE)
        )
    if "null_if" in spec:
        nulls = [str(x).strip().upper() for x in spec["null_if"]]

        def null_if(s: pl.Series) -> pl.Series:
            if s.dtype != pl.String:
                return python(s)
            hit = s.str.strip_chars(PY_SPACE).str.to_uppercase().is_in(nulls)
            return null_where(s, hit)

        return null_if
    if "scale" in spec:
        # decimal arithmetic on the published digits (mapping.py): the reference
        # step, once per distinct value
        return python
    if "replace" in spec:
        old, new = spec["replace"]
        if not old:
            return python
        return text_only(lambda s: s.str.replace_all(old, new, literal=True))
    if "template" in spec:
        parts = spec["template"].split("{}")

        def template(s: pl.Series) -> pl.Series:
            if s.dtype not in (pl.String, pl.Int64):
                return python(s)
            text = as_text(s)
            pieces: list[Any] = []
            for i, part in enumerate(parts):
                if i:
                    pieces.append(pl.col("v"))
                pieces.append(pl.lit(part))
            frame = pl.DataFrame({"v": text})
            return frame.select(pl.concat_str(pieces).alias(s.name)).to_series()

        return template
    return python  # map, count, html_dl: Python semantics, once per distinct value


def _coalesce(series: list[pl.Series]) -> pl.Series:
    dtypes = {s.dtype for s in series if s.null_count() < len(s)}
    if len(dtypes) > 1:
        raise PageFallback(f"fallback over mixed types {sorted(map(str, dtypes))}")
    frame = pl.DataFrame({f"c{i}": s for i, s in enumerate(series)})
    dtype = dtypes.pop() if dtypes else series[0].dtype
    return frame.select(
        pl.coalesce([pl.col(f"c{i}").cast(dtype) for i in range(len(series))])
    ).to_series()


def _with_fallback(value: pl.Series, fallback: ColumnFn, cols: Columns) -> pl.Series:
    """``value`` with its nulls filled by ``fallback``, which is read only for
    the rows that need it (as the row path calls it only for them): a fallback
    of a field most rows lack, or whose values fit no column, costs little."""
    missing = value.is_null()
    count = int(missing.sum())
    if count == 0:
        return value
    if count == len(value):
        return _coalesce([value, fallback(cols)])
    rows = missing.arg_true()
    part = fallback(cols.subset(rows.to_list()))
    if part.null_count() == len(part):
        return value
    filler = filled(value.name, None, len(value), part.dtype)
    return _coalesce([value, filler.scatter(rows, part)])


def compile_column(spec: Any) -> ColumnFn:
    """A function page columns -> element column, as ``compile_spec`` per row."""
    if isinstance(spec, str):
        return lambda cols: cols.path(spec)
    if not isinstance(spec, dict):
        raise Uncompilable(f"spec {spec!r}")
    if "const" in spec:
        const = spec["const"]

        def base(cols: Columns) -> pl.Series:
            return series_of("const", [const] * cols.n)

    elif "fields" in spec:
        paths, sep = spec["fields"], spec.get("join", " ")
        if not isinstance(sep, str):
            raise Uncompilable(f"join {sep!r}")

        def base(cols: Columns) -> pl.Series:
            parts = {}
            for i, p in enumerate(paths):
                text = cols.text(p).str.strip_chars(PY_SPACE)
                parts[f"p{i}"] = null_where(text, text == "")
            frame = pl.DataFrame(parts, schema={k: pl.String for k in parts})
            joined = frame.select(
                pl.concat_str(list(parts), separator=sep, ignore_nulls=True)
            ).to_series()
            none = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
            return null_where(joined, none)

    elif "field" in spec:
        names = [spec["field"]] if isinstance(spec["field"], str) else spec["field"]
        steps_spec = spec.get("steps") or []
        # only text reaches the first step: read the field as text
        read = "text" if steps_spec and reads_text(steps_spec[0]) else "path"
        first = steps_spec[0] if steps_spec else None
        if isinstance(first, dict) and "pluck" in first:
            # a list of objects (PulsePoint's units) is plucked value by value:
            # such values fit no column, their plucked text does
            pluck = compile_step(first)
            steps_spec = steps_spec[1:]

            def base(cols: Columns) -> pl.Series:
                series = [
                    pl.Series(
                        n,
                        [
                            to_text(pluck(v)) if v is not None else None
                            for v in cols.values(n)
                        ],
                        dtype=pl.String,
                    )
                    for n in names
                ]
                return series[0] if len(series) == 1 else _coalesce(series)

        else:

            def base(cols: Columns) -> pl.Series:
                series = [getattr(cols, read)(n) for n in names]
                return series[0] if len(series) == 1 else _coalesce(series)

        spec = {**spec, "steps": steps_spec}

    else:

        def base(cols: Columns) -> pl.Series:
            return filled("none", None, cols.n, pl.String)

    steps = [compile_column_step(s) for s in spec.get("steps", [])]
    fallback = compile_column(spec["fallback"]) if "fallback" in spec else None
    if not steps and fallback is None:
        return base

    def with_steps(cols: Columns) -> pl.Series:
        value = base(cols)
        for step in steps:
            value = step(value)
        value = blank_to_null(value)
        if fallback is not None:
            value = _with_fallback(value, fallback, cols)
        return value

    return with_steps


def compile_columns(record_spec: dict[str, Any]) -> dict[str, ColumnFn]:
    """Element name -> column function, as ``compile_mapping``."""
    out: dict[str, ColumnFn] = {}
    for name, spec in record_spec.items():
        if name == "area":
            for area_type, area_spec in spec.items():
                out[f"area_{area_type}"] = compile_column(area_spec)
        else:
            out[name] = compile_column(spec)
    return out


def text_columns(columns: list[pl.Series]) -> dict[str, pl.Series]:
    """``_str`` of each column (by name): text, stripped, null when blank. In
    one polars query: a page has some fifteen such columns, and one query
    costs what one column alone did."""
    texts = [as_text(s) for s in columns]
    names = tuple(s.name for s in texts)
    got = pl.DataFrame(texts).select(_stripping(names))
    return {name: got.get_column(name) for name in names}


@functools.lru_cache(maxsize=64)
def _stripping(names: tuple[str, ...]) -> list[pl.Expr]:
    """``text_columns``'s expressions (built once a feed)."""
    exprs = []
    for name in names:
        text = pl.col(name).str.strip_chars(PY_SPACE)
        exprs.append(pl.when(text == "").then(None).otherwise(text).alias(name))
    return exprs
