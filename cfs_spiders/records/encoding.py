"""A record as JSON text: once per record, for the store and the JSON Lines export.

orjson writes the text (the same JSON values as ``json.dumps(default=str)``,
compact, several times faster); whatever it would write differently falls back to
``json``. ``values_hash`` is what the store recognises an unchanged call by, so its
text must never change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

# Provenance varies between fetches of an unchanged call: not part of its values.
_NOT_VALUES = {"fetched_at", "run_id", "source_url", "raw"}

# ``json.dumps(value, ensure_ascii=False, default=str)`` (and sorted), the encoders
# made once instead of once a call: the same text.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
_encode_sorted = json.JSONEncoder(
    ensure_ascii=False, default=str, sort_keys=True
).encode
_RAW_KEYS = (',"raw":', ', "raw": ')


def values_hash(record: dict[str, Any]) -> str:
    """Hash of what a call looked like, so an unchanged call is recognised.

    The hashed text is ``json.dumps`` of the values, sorted: stores keep these
    hashes, so the text must never change."""
    payload = dict(record)
    for key in _NOT_VALUES:
        payload.pop(key, None)
    payload["raw"] = record.get("raw")
    text = _encode_sorted(payload)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


_SCALARS = frozenset((str, int, bool, type(None)))


def _finite(value: Any) -> bool:
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
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text_exact(value: Any) -> tuple[str, bool]:
    """``value`` as JSON text (``json.dumps(value, ensure_ascii=False,
    default=str)``, compact), and whether reading the text back gives ``value``
    again (it does when orjson wrote it)."""
    if _finite(value):
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS).decode("utf-8"), True
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _encode(value), False


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
            if text.count(marker) == 1:
                return text[text.index(marker) + len(marker) : -1]
    return json_text(record.get("raw"))
