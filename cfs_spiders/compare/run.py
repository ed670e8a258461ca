"""``cfs compare``: measure the store, then write every comparison export."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..config.loader import load_all
from ..config.paths import output_dir
from ..exports.files import write_atomic
from ..store.connect import open_store
from . import datapackage, report, store_tables
from .measure import measure
from .tables import to_wide, withheld_table, write_frame

log = logging.getLogger(__name__)


def run_compare(
    database_url: str | None = None,
    output: Path | None = None,
    configs_directory: Path | None = None,
) -> list[Path]:
    """Write every comparison export; return the paths written.

    comparison_long.csv, comparison.csv, withheld.csv, heatmap.png, report.html and
    datapackage.json (which also describes calls.csv when it exists). Each file is
    written atomically, so a crash never leaves a half-written export behind.
    """
    out = Path(output) if output else output_dir()
    configs, errors = load_all(configs_directory)
    for err in errors:
        log.warning("config skipped: %s", err)
    now = datetime.now(UTC)
    generated = now.strftime("%Y-%m-%d %H:%M UTC")
    store = open_store(database_url)
    try:
        long = measure(store, configs)
        wide = to_wide(long)
        withheld = withheld_table(long)
        changed = store_tables.changes(
            store_tables.previous_levels(store),
            wide,
            now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        history = store_tables.history(store) + changed
        # Everything is rendered before anything is written: a renderer that
        # fails leaves the store's tables and the previous exports as they were.
        findings = report.findings(long, withheld)
        png = report.heatmap_png(wide, generated)
        html = report.render_html(
            long=long,
            wide=wide,
            withheld=withheld,
            heatmap=png,
            generated_at=now,
            cite=citation_facts(),
        )
        store_tables.write_tables(
            store, findings=findings, wide=wide, withheld=withheld, changed=changed
        )
    finally:
        store.close()
    paths = [
        write_frame(out / "comparison_long.csv", long),
        write_frame(out / "comparison.csv", wide),
        write_frame(out / "withheld.csv", withheld),
        write_frame(
            out / "changes.csv",
            pd.DataFrame(history, columns=list(store_tables.CHANGE_COLUMNS)),
        ),
        write_atomic(out / "heatmap.png", png),
        write_atomic(out / "report.html", html.encode("utf-8")),
    ]
    descriptor = datapackage.build(
        out, configs=configs, created=now, **citation_facts()
    )
    paths.append(write_atomic(out / "datapackage.json", datapackage.dumps(descriptor)))
    return paths


def citation_facts() -> dict[str, str | None]:
    """The tool version and git commit a reporter cites (None when unknown)."""
    try:
        version = metadata.version("cfs")
    except metadata.PackageNotFoundError:
        version = _pyproject_version()
    commit = None
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        commit = proc.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"version": version, "commit": commit}


def _pyproject_version() -> str | None:
    import tomllib

    path = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None
