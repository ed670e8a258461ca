"""Where things are: the project folder, the output folder and the store.

Every stage reads these from here, so that no module has to import a later stage
(the Scrapy pipelines, the store) just to learn where output goes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE = PROJECT_ROOT / "output" / "cfs.sqlite"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite://"


def output_dir(settings: Any = None) -> Path:
    """``CFS_OUTPUT_DIR`` (a Scrapy setting or the environment), else ``output/``."""
    configured = (
        settings.get("CFS_OUTPUT_DIR") if settings else None
    ) or os.environ.get("CFS_OUTPUT_DIR")
    return Path(configured) if configured else PROJECT_ROOT / "output"


def database_url() -> str:
    """The store named by ``CFS_DATABASE_URL``, else ``output/cfs.sqlite``."""
    return os.environ.get("CFS_DATABASE_URL") or str(DEFAULT_SQLITE)


def store_target(url: str | Path | None = None) -> tuple[str, str | Path]:
    """``("postgresql", url)`` or ``("sqlite", path)`` for a store URL.

    The one reading of a store URL, following SQLAlchemy: ``sqlite:///rel.db`` is
    ``rel.db`` relative to the working folder, ``sqlite:////abs/x.db`` is
    ``/abs/x.db``; a bare path is a SQLite file; ``None`` is ``database_url()``.
    """
    target = str(url or database_url())
    if target.startswith(POSTGRES_SCHEMES):
        return "postgresql", target
    if target.startswith(SQLITE_SCHEME):
        path = target[len(SQLITE_SCHEME) :]
        if not path.startswith("/") or path == "/":
            raise ValueError(
                f"store URL {target!r}: expected sqlite:///relative.db or "
                "sqlite:////absolute/path.db"
            )
        return "sqlite", Path(path[1:])
    return "sqlite", Path(target)
