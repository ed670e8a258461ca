"""The comparison written into the store, so a Datasette user meets the finding.

``cfs compare`` replaces four tables in the store on every run: ``findings`` (the
report's sentences, in order), ``comparison`` (comparison.csv), ``withheld``
(withheld.csv) and ``comparison_changes`` (the changelog, appended). Every column
is TEXT, so codes keep their leading zeros (a ZIP ``07``, a box ``0042``) and a
reader sees exactly what the CSV holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ..config import vocab
from ..store.sqlite import Store

REPLACED = ("findings", "comparison", "withheld")
CHANGES = "comparison_changes"
CHANGE_COLUMNS = ("changed_at", "feed_id", "element", "before", "after")


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def _quote(name: str) -> str:
    if '"' in name:
        raise ValueError(f"column name {name!r} cannot be quoted")
    return f'"{name}"'


def _replace(cur: Any, store: Store, table: str, columns: Sequence[str], rows) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
    cols = ", ".join(f"{_quote(c)} TEXT" for c in columns)
    cur.execute(f"CREATE TABLE {_quote(table)} ({cols})")
    _insert(cur, store, table, columns, rows)


def _insert(
    cur: Any, store: Store, table: str, columns: Sequence[str], rows: Iterable
) -> None:
    marks = ", ".join([store.placeholder] * len(columns))
    names = ", ".join(_quote(c) for c in columns)
    sql = store._sql(f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})")
    cur.executemany(sql, [[_text(v) for v in row] for row in rows])


def previous_levels(store: Store) -> dict[tuple[str, str], str]:
    """(feed, element) -> availability as the store's last comparison left it."""
    if not _has_table(store, "comparison"):
        return {}  # the first comparison: nothing to compare with
    rows = store.query("SELECT * FROM comparison")
    out = {}
    for r in rows:
        for key, value in r.items():
            if key in ELEMENT_COLUMNS and value is not None:
                out[(r["feed_id"], key)] = value
    return out


ELEMENT_COLUMNS: set[str] = set(vocab.ELEMENTS)


def _has_table(store: Store, name: str) -> bool:
    if type(store).__module__.endswith("postgres"):
        sql = (
            "SELECT COUNT(*) AS n FROM information_schema.tables "
            f"WHERE table_name = {store.placeholder}"
        )
    else:
        sql = (
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' "
            f"AND name = {store.placeholder}"
        )
    return bool(store.query(sql, (name,))[0]["n"])


def changes(
    before: dict[tuple[str, str], str], wide: pd.DataFrame, when: str
) -> list[tuple[str, str, str, str | None, str | None]]:
    """Which feed's level changed for which element since the last comparison."""
    out = []
    if not before:
        return out
    for _, row in wide.iterrows():
        for element in sorted(ELEMENT_COLUMNS):
            after = _text(row.get(element))
            old = before.get((row.feed_id, element))
            if old != after:
                out.append((when, row.feed_id, element, old, after))
    return out


def history(store: Store) -> list[tuple]:
    """The changes recorded by earlier comparisons, oldest first."""
    if not _has_table(store, CHANGES):
        return []
    cols = ", ".join(CHANGE_COLUMNS)
    rows = store.query(
        f"SELECT {cols} FROM {CHANGES} ORDER BY changed_at, feed_id, element"
    )
    return [tuple(r[c] for c in CHANGE_COLUMNS) for r in rows]


def write_tables(
    store: Store,
    *,
    findings: list[str],
    wide: pd.DataFrame,
    withheld: pd.DataFrame,
    changed: list[tuple],
) -> None:
    """Replace the comparison tables and append the changes, in one transaction."""
    with store.transaction() as cur:
        _replace(
            cur, store, "findings", ("n", "sentence"), enumerate(findings, start=1)
        )
        _replace(
            cur,
            store,
            "comparison",
            list(wide.columns),
            wide.itertuples(index=False),
        )
        _replace(
            cur,
            store,
            "withheld",
            list(withheld.columns),
            withheld.itertuples(index=False),
        )
        cols = ", ".join(f"{_quote(c)} TEXT" for c in CHANGE_COLUMNS)
        cur.execute(f"CREATE TABLE IF NOT EXISTS {CHANGES} ({cols})")
        if changed:
            _insert(cur, store, CHANGES, CHANGE_COLUMNS, changed)
