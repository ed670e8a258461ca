"""A proposed mapping line, with its evidence and its runner-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NEAR = 0.05  # candidates this close in score are reported as a tie


@dataclass
class Proposal:
    """``element: spec`` with the evidence that chose it."""

    element: str  # call_id, received_at, address, area.beat ...
    spec: Any
    evidence: str
    fields: list[str]
    score: float = 0.0
    alternatives: list[Proposal] = field(default_factory=list)


@dataclass
class Roles:
    """Everything the drafter proposes for one feed's records."""

    proposals: dict[str, Proposal] = field(default_factory=dict)
    record_key: list[str] | None = None
    record_key_evidence: str = ""
    rows_per: str | None = None
    rows_per_evidence: str = ""
    warnings: list[str] = field(default_factory=list)
    unused: dict[str, str] = field(default_factory=dict)
    address_policy: tuple[str, str] = ("exact", "")
    coord_policy: tuple[str, str] = ("none", "no coordinates")

    def add(self, proposal: Proposal | None) -> None:
        if proposal is not None:
            self.proposals[proposal.element] = proposal

    @property
    def used(self) -> set[str]:
        return {f for p in self.proposals.values() for f in p.fields}


def pick(
    element: str, candidates: list[Proposal], roles: Roles, *, minimum: float = 0.5
) -> Proposal | None:
    """The best candidate above ``minimum``; a near tie is warned about and the
    runner-up kept as an alternative (written as a comment)."""
    ranked = sorted(
        (c for c in candidates if c.score >= minimum), key=lambda c: -c.score
    )
    if not ranked:
        return None
    best = ranked[0]
    for other in ranked[1:3]:
        if best.score - other.score <= NEAR and set(other.fields) != set(best.fields):
            best.alternatives.append(other)
            roles.warnings.append(
                f"{element}: `{', '.join(best.fields)}` and "
                f"`{', '.join(other.fields)}` are near-equal candidates "
                f"({best.score:.2f} vs {other.score:.2f}); the first is used, "
                "the other written as a comment"
            )
    return best


def pct(x: float) -> str:
    return f"{x:.0%}"
