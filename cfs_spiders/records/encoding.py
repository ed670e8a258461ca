"""A record as JSON text: once per record, for the store and the JSON Lines export.

orjson writes the text (the same JSON values as ``json.dumps(default=str)``,
compact, several times faster); whatever it would write differently falls back to
``json``. ``change_hash`` is what the store recognises an unchanged call by: a hash
of the raw record's canonical bytes, so its text must never change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from functools import partial
from operator import methodcaller
from typing import Any

import orjson

_RAW_KEYS = (',"raw":', ', "raw": ')
# The text of a value ``json`` writes where orjson would write something else or
# fail (NaN, a date, a huge integer, a non-string key, a lone surrogate).
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
_canonical_fallback = json.JSONEncoder(
    ensure_ascii=False, default=str, sort_keys=True, separators=(",", ":")
).encode
_CANONICAL = orjson.OPT_SORT_KEYS


def canonical_bytes(raw: Any, finite: bool = False) -> bytes:
    """What a feed published, as canonical JSON bytes: keys sorted at every level,
    compact, UTF-8. Two raw records with the same values give the same bytes
    whatever order their keys came in. ``finite``: the caller knows no float in
    ``raw`` is NaN or infinite (it was read from JSON text), so the walk that
    checks it (``all_finite``, ~10 us a record) is skipped."""
    if finite or all_finite(raw):
        try:
            return orjson.dumps(raw, option=_CANONICAL)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _canonical_fallback(raw).encode("utf-8", "surrogatepass")


def change_digest(raw: Any, finite: bool = False) -> bytes:
    """The hash a call's published values are recognised by: blake2b (16 bytes)
    of ``canonical_bytes(raw)``, as the store keeps it. The store keeps a new
    version of a call only when this changes, so the text hashed must never
    change (golden values are pinned in ``tests/test_history.py``)."""
    return hashlib.blake2b(canonical_bytes(raw, finite), digest_size=16).digest()


_canonical_orjson = partial(orjson.dumps, option=_CANONICAL)
_blake2b_16 = partial(hashlib.blake2b, digest_size=16)
_digest = methodcaller("digest")


def change_digests(raws: Sequence[Any]) -> list[bytes]:
    """``change_digest(raw, finite=True)`` of each of a page's raw records
    (the caller knows their floats finite), in C loops over the page rather
    than two Python calls a record; a page orjson refuses somewhere is hashed
    record by record (the same fallback for the same records)."""
    try:
        return list(map(_digest, map(_blake2b_16, map(_canonical_orjson, raws))))
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return [change_digest(raw, True) for raw in raws]


def change_hash(raw: Any) -> str:
    """``change_digest(raw)`` as hex (run reports, tests, the raw reader)."""
    return change_digest(raw).hex()


_SCALARS = frozenset((str, int, bool, type(None)))


def all_finite(value: Any) -> bool:
    """False when a float anywhere in ``value`` is NaN or infinite (``json``
    writes ``NaN``, orjson ``null``: such a value keeps the ``json`` text)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = v.__class__
        if t is dict:
            for x in v.values():
                tx = x.__class__
                if tx in _SCALARS:
                    continue
                if tx is float:
                    if x - x != 0.0:
                        return False
                else:
                    stack.append(x)
        elif t is list or t is tuple:
            stack.extend(v)
        elif t in _SCALARS:
            continue
        elif isinstance(v, float):
            if v - v != 0.0:
                return False
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return True


# orjson for the stored JSON texts (the same JSON values, compact, ~8 times
# faster); anything it would write differently from ``json.dumps(default=str)``
# (a date, a dataclass, NaN) or cannot write (a lone surrogate, a huge integer,
# a non-string key) is written by ``json`` as before.
ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text_exact(value: Any) -> tuple[str, bool]:
    """``value`` as JSON text (``json.dumps(value, ensure_ascii=False,
    default=str)``, compact), and whether reading the text back gives ``value``
    again (it does when orjson wrote it)."""
    texts, exact = json_texts_exact((value,))
    return texts[0], exact[0]


def json_texts_exact(
    values: Iterable[Any], finite: bool = False
) -> tuple[list[str], list[bool]]:
    """``json_text_exact`` of each of ``values`` (a page of records), as two
    lists: the texts, and whether each reads back as its value. One loop for a
    page, not a call and a pair per record.

    ``finite``: the caller knows that no float in ``values`` is NaN or infinite
    (``RecordBatch.finite``: a page built by columns from raw records that orjson
    parsed or that hold text only), so the walk over every value that looks for
    one (``all_finite``, half of this function's time) is skipped. Everything
    else orjson would write differently still falls back to ``json``."""
    texts: list[str] = []
    exact: list[bool] = []
    text, ok = texts.append, exact.append
    dumps, options, check = orjson.dumps, ORJSON_OPTIONS, all_finite
    for value in values:
        if finite or check(value):
            try:
                text(dumps(value, option=options).decode("utf-8"))
            except TypeError:  # orjson.JSONEncodeError is a TypeError
                pass
            else:
                ok(True)
                continue
        text(_encode(value))
        ok(False)
    return texts, exact


def json_text(value: Any) -> str:
    return json_text_exact(value)[0]


def record_json(record: dict[str, Any]) -> str:
    """A record as the JSON text of its observation (``record_json``); also the
    line of the per-run JSON Lines export (``ingest/exporters.py``)."""
    return json_text_exact(record)[0]


def raw_json(record: dict[str, Any], text: str | None = None) -> str:
    """The JSON text of ``record["raw"]``, cut from the record's JSON ``text``
    when the raw record is its last field (so it is not encoded twice). Inside a
    JSON string a quote is always escaped, so ``,"raw":`` (``, "raw": `` in
    ``json``'s spacing) occurring once in the text can only be the record's own
    ``raw`` key."""
    if (
        text is not None
        and len(record) > 1
        and next(reversed(record)) == "raw"
        and text.endswith("}")
    ):
        for marker in _RAW_KEYS:
            # one pass over the text: the first occurrence, then none after it
            at = text.find(marker)
            if at >= 0 and text.find(marker, at + 1) < 0:
                return text[at + len(marker) : -1]
    return json_text(record.get("raw"))
