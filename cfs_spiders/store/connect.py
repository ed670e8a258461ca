"""Open the store a URL names: SQLite or PostgreSQL, the same schema and semantics."""

from __future__ import annotations

from pathlib import Path

from ..config.paths import store_target
from .sqlite import Store


def open_store(
    url: str | Path | None = None,
    *,
    migrating: bool = False,
    page_size: int | None = None,
) -> Store:
    """SQLite for a path or ``sqlite:///relative.db`` / ``sqlite:////abs.db``;
    PostgreSQL for ``postgresql://`` (psycopg is imported only then). A store of
    an earlier schema is refused (``StoreVersionError``, naming ``cfs migrate``)
    unless ``migrating``. ``page_size`` is a new SQLite file's page size (an
    existing file keeps its own; PostgreSQL has none to set)."""
    kind, target = store_target(url)
    if kind == "postgresql":
        from .postgres import PostgresStore

        return PostgresStore(str(target), migrating=migrating)
    return Store(Path(target), migrating=migrating, page_size=page_size)
