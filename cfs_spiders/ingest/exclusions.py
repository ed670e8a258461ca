"""Replay-side exclusion of rows a capture's author flagged as not feed data.

Some captures are real pages with a few rows added or edited by whoever kept them
(St. Louis: 7 synthetic ``TEST`` rows; Escambia: one map marker with an edited
time). The file stays byte-identical; its manifest names the flagged rows, and the
replay skips exactly those:

```yaml
snapshots:
  - captured_at: 2021-04-06T17:44:00-05:00
    responses: [{file: cfs.html}]
    exclude:
      - {record_id: P1405060690, reason: synthetic TEST row}
      - source: markers                  # only rows of this page source
        match: {incident: ECSO16CAD276495, received: "08/18/2016 7:50:00 PM"}
        reason: time edited by the test author
```

``record_id`` matches the row's mapped call id; ``match`` compares raw fields
(dotted paths allowed) with exact text. An entry that matches no row fails the run:
a stale manifest would otherwise let a flagged row back in silently. A top-level
``exclude`` applies to every snapshot. Live crawls never exclude anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..records.mapping import get_path


class ExclusionError(ValueError):
    """A manifest ``exclude`` entry that cannot be used."""


@dataclass(frozen=True)
class Exclusion:
    reason: str
    record_id: str | None = None
    match: tuple[tuple[str, str], ...] = ()
    source: str | None = None

    def describe(self) -> str:
        what = (
            f"record_id {self.record_id}"
            if self.record_id is not None
            else "match " + ", ".join(f"{k}={v!r}" for k, v in self.match)
        )
        return what + (f" in source {self.source}" if self.source else "")


def parse_exclusions(entries: Any, where: str) -> tuple[Exclusion, ...]:
    """Manifest entries -> exclusions; an error names the manifest and entry."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ExclusionError(f"{where}: exclude must be a list")
    out = []
    for i, entry in enumerate(entries):
        at = f"{where}: exclude[{i}]"
        if not isinstance(entry, dict):
            raise ExclusionError(f"{at}: expected a mapping")
        unknown = set(entry) - {"record_id", "match", "source", "reason"}
        if unknown:
            raise ExclusionError(f"{at}: unknown key(s) {sorted(unknown)}")
        if ("record_id" in entry) == ("match" in entry):
            raise ExclusionError(f"{at}: give exactly one of record_id or match")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ExclusionError(f"{at}: say why the row is excluded (reason)")
        match = entry.get("match")
        if match is not None and (not isinstance(match, dict) or not match):
            raise ExclusionError(f"{at}: match must map raw fields to values")
        out.append(
            Exclusion(
                reason=reason.strip(),
                record_id=None
                if entry.get("record_id") is None
                else str(entry["record_id"]),
                match=tuple((str(k), str(v)) for k, v in (match or {}).items()),
                source=None if entry.get("source") is None else str(entry["source"]),
            )
        )
    return tuple(out)


@dataclass
class ExclusionFilter:
    """Applies one snapshot's exclusions to the rows of a run and counts them."""

    exclusions: tuple[Exclusion, ...]
    record_id: Callable[[dict[str, Any]], Any] | None = None
    matched: dict[int, int] = field(default_factory=dict)

    def _hits(self, ex: Exclusion, row: dict[str, Any], records: bool) -> bool:
        if ex.record_id is not None:
            if not records or self.record_id is None:
                return False
            value = self.record_id(row)
            return value is not None and str(value).strip() == ex.record_id
        for path, want in ex.match:
            value = get_path(row, path)
            if value is None or str(value) != want:
                return False
        return True

    def apply(
        self, rows: list[Any], source: str | None = None, records: bool = True
    ) -> list[Any]:
        """The rows no exclusion names. ``source`` is the page source the rows
        came from (None: a platform without sources); ``records`` says whether
        they are records (a ``record_id`` can only name a record)."""
        if not self.exclusions:
            return rows
        kept = []
        for row in rows:
            hit = None
            if isinstance(row, dict):
                for i, ex in enumerate(self.exclusions):
                    if ex.source is not None and ex.source != source:
                        continue
                    if self._hits(ex, row, records):
                        hit = i
                        break
            if hit is None:
                kept.append(row)
            else:
                self.matched[hit] = self.matched.get(hit, 0) + 1
        return kept

    @property
    def excluded(self) -> int:
        return sum(self.matched.values())

    def unmatched(self) -> list[Exclusion]:
        return [ex for i, ex in enumerate(self.exclusions) if not self.matched.get(i)]

    def summary(self) -> list[dict[str, Any]]:
        return [
            {
                "exclusion": ex.describe(),
                "reason": ex.reason,
                "rows": self.matched.get(i, 0),
            }
            for i, ex in enumerate(self.exclusions)
        ]
