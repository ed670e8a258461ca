"""The run report file: ``<output>/runs/<run_id>.json``, written whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .files import write_atomic


def write_run_report(report: dict[str, Any], folder: Path) -> Path:
    """Write one run's report (sorted keys, indented) through the atomic writer."""
    text = json.dumps(report, indent=2, sort_keys=True)
    return write_atomic(Path(folder) / f"{report['run_id']}.json", text.encode())
