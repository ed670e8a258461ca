"""What a config asks to leave out of a listing, and what it reads from the
environment: both are config facts applied to every platform alike.

- ``parse.keep_if``: only records whose raw field holds one of the listed values
  (one published file, two feeds: Columbia's police and fire rows);
- ``parse.drop_if_blank``: placeholder rows in which every named field is empty
  (Oakland's 7 features with only an OBJECTID);
- ``request.headers_from_env``: header values (API tokens) read from environment
  variables, so they never sit in a config.

Every record left out is counted (``records:not_kept``, ``records:blank_dropped``)
in the run report.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from ..records.mapping import get_path


def _key(value: Any) -> Any:
    """A raw value compared with a ``keep_if`` value: text stripped."""
    return value.strip() if isinstance(value, str) else value


def select_records(
    raw_records: list[Any], options: dict[str, Any], counts: Counter[str] | None
) -> list[Any]:
    """``raw_records`` without what ``keep_if`` and ``drop_if_blank`` leave out."""
    keep_if = options.get("keep_if") or {}
    blank = options.get("drop_if_blank") or []
    if not keep_if and not blank:
        return raw_records
    allowed = {k: {_key(v) for v in vs} for k, vs in keep_if.items()}
    kept = []
    for rec in raw_records:
        if not isinstance(rec, dict):
            kept.append(rec)
            continue
        if any(_key(get_path(rec, k)) not in vs for k, vs in allowed.items()):
            if counts is not None:
                counts["records:not_kept"] += 1
            continue
        if blank and all(get_path(rec, f) in (None, "") for f in blank):
            if counts is not None:
                counts["records:blank_dropped"] += 1
            continue
        kept.append(rec)
    return kept


def headers_from_env(request_options: dict[str, Any]) -> dict[str, str]:
    """``request.headers_from_env`` values that are set."""
    wanted = request_options.get("headers_from_env") or {}
    return {h: os.environ[v] for h, v in wanted.items() if os.environ.get(v)}


def missing_env(request_options: dict[str, Any]) -> list[str]:
    """One error per header whose variable is not set (a live run then sends
    nothing: the feed would refuse the request)."""
    wanted = request_options.get("headers_from_env") or {}
    return [
        f"request header {h} needs the environment variable {v}, which is not set"
        for h, v in wanted.items()
        if not os.environ.get(v)
    ]
