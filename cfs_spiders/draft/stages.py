"""The received time and the other stage times of a call.

A field is a stage time when its name points to a stage (``Received DtTm``,
``dispatch_datetime``, ``Arrived Time``) *and* the project's parser reads its
values as dated instants. Plain names (``Date/Time``, ``datetime``, an unnamed
column) stand for the received time when nothing names it better. A lone
``Response`` time is the dispatch time; beside a dispatch time it is the en-route
time. Dates without a time of day (``Call Date``, ``Watch Date``) are not stage
times. An epoch field whose UTC wall clock equals a text time of the same
records read as local time stores local time as if it were UTC, and gets
``epoch_reference`` set to the feed's zone.
"""

from __future__ import annotations

from typing import Any

from ..normalize.time import parse_time
from .names import stage_of
from .profile import Field, Profile
from .proposal import Proposal, Roles, pick
from .timefmt import TimeGuess, find_pairs, infer_time, wall_clock_match

STRENGTH = {"received": 1.0, "queued": 0.8, "generic": 0.6}
STAGE_ELEMENTS = {
    "dispatched": "dispatched_at",
    "enroute": "enroute_at",
    "onscene": "onscene_at",
    "closed": "closed_at",
    "updated": "updated_at",
}
_TIMEISH = set("0123456789")


def _maybe_time(f: Field) -> bool:
    vals = f.filled[:200]
    if not vals:
        return False
    digits = sum(1 for v in vals if any(c in _TIMEISH for c in v))
    return digits >= 0.9 * len(vals) and f.wordy_share < 0.9 or f.numeric_share > 0.9


def time_guesses(profile: Profile, tz: str) -> dict[str, TimeGuess]:
    out = {}
    for name, f in profile.fields.items():
        stage = stage_of(name)
        if not _maybe_time(f):
            continue
        guess = infer_time(f, tz, name_says_time=stage is not None)
        if guess is not None:
            out[name] = guess
    return out


def _spec(field_name: str | list[str], guess: TimeGuess) -> Any:
    opts = guess.options()
    if isinstance(field_name, list):
        return {"fields": field_name, "join": " ", **opts}
    return {"field": field_name, **opts} if opts else field_name


def _fix_local_epoch(
    profile: Profile, guesses: dict[str, TimeGuess], tz: str
) -> dict[str, str]:
    """epoch field -> text field that shows it holds local time."""
    notes = {}
    texts = {n: g for n, g in guesses.items() if g.kind in ("format", "iso")}
    for name, g in guesses.items():
        if g.kind != "epoch" or g.epoch is None:
            continue
        for tname, tg in texts.items():
            if tg.offset:
                continue
            share = wall_clock_match(
                profile.fields[name], g.epoch, profile.fields[tname], tg, tz
            )
            if share >= 0.95:
                g.epoch_reference = tz
                notes[name] = (
                    f"its UTC clock equals `{tname}` read as local time on "
                    f"{share:.0%}: local time stored as UTC"
                )
                break
    if notes:  # one layer, one time reference: its other epoch fields too
        first = next(iter(notes))
        for name, g in guesses.items():
            if g.kind == "epoch" and name not in notes:
                g.epoch_reference = tz
                notes[name] = f"local time stored as UTC, like `{first}`"
    return notes


def assign_times(profile: Profile, tz: str, roles: Roles) -> dict[str, TimeGuess]:
    """Propose received_at and the stage times; returns element -> guess."""
    guesses = time_guesses(profile, tz)
    local_notes = _fix_local_epoch(profile, guesses, tz)
    by_stage: dict[str, list[tuple[Proposal, TimeGuess]]] = {}
    twelve = []
    for name, g in guesses.items():
        stage = stage_of(name)
        if g.kind == "time_12h" and stage:
            twelve.append(name)
            continue
        if stage is None or not g.usable:
            if stage and g.kind == "date_only":
                roles.unused[name] = f"{g.label}: not a stage time"
            continue
        evidence = g.evidence()
        if name in local_notes:
            evidence += f"; {local_notes[name]}"
        if g.kind == "time_only":
            evidence += "; the date is taken from the capture time (flagged time_only)"
        f = profile.fields[name]
        score = g.rate * 0.7 + f.fill * 0.3 - (0.3 if g.kind == "time_only" else 0.0)
        prop = Proposal("", _spec(name, g), evidence, [name], score)
        by_stage.setdefault(stage, []).append((prop, g))
    for pair in find_pairs(guesses, profile.fields, tz):
        stage = stage_of(pair.fields[0]) or stage_of(pair.fields[1]) or "generic"
        prop = Proposal(
            "",
            _spec(pair.fields, pair),
            pair.evidence(),
            pair.fields,
            pair.rate * 0.7 + 0.3,
        )
        by_stage.setdefault(stage, []).append((prop, pair))
    chosen: dict[str, TimeGuess] = {}

    def take(element: str, items: list[tuple[Proposal, TimeGuess]], bonus=None) -> None:
        cands = []
        for prop, _g in items:
            prop.element = element
            prop.score += (bonus or {}).get(id(prop), 0.0)
            cands.append(prop)
        best = pick(element, cands, roles, minimum=0.6)
        if best is not None:
            roles.add(best)
            chosen[element] = next(g for p, g in items if p is best)

    received: list[tuple[Proposal, TimeGuess]] = []
    bonus = {}
    for stage in ("received", "queued", "generic"):
        for prop, g in by_stage.get(stage, []):
            bonus[id(prop)] = STRENGTH[stage]
            received.append((prop, g))
    if "response" in by_stage:
        target = "enroute" if "dispatched" in by_stage else "dispatched"
        by_stage.setdefault(target, []).extend(by_stage.pop("response"))
    # a generic time beside a named dispatch time and nothing named "received"
    # is still the call's first time: keep it as received
    if received:
        take("received_at", received, bonus)
    for stage, element in STAGE_ELEMENTS.items():
        if by_stage.get(stage):
            take(element, by_stage[stage])
    for element, prop in list(roles.proposals.items()):
        if not element.endswith("_at"):
            continue
        for alt in prop.alternatives:
            for f in alt.fields:
                roles.unused.setdefault(f, f"another candidate for {element}")
    for element, g in chosen.items():
        prop = roles.proposals[element]
        _check_values(profile, prop, g, tz, roles)
    used = roles.used
    for name, g in guesses.items():
        if name not in used and g.usable and stage_of(name):
            roles.unused.setdefault(name, f"a time ({g.evidence()}) of no stage")
    for name in twelve:
        roles.warnings.append(
            f"`{name}` holds 12-hour times without a date ({guesses[name].total} "
            "values): the time parser cannot date them yet, so it is not mapped"
        )
        roles.unused[name] = "12-hour time without a date"
    if "received_at" not in chosen and "dispatched_at" not in chosen:
        roles.warnings.append(
            "no field reads as the received time: map received_at by hand"
        )
    return chosen


def _check_values(
    profile: Profile, prop: Proposal, g: TimeGuess, tz: str, roles: Roles
) -> None:
    """Warn about values the chosen format leaves unread, and about a UTC
    offset that may not be meant (local times printed with ``+0000``)."""
    if g.fields or prop.fields[0] not in profile.fields:
        return
    f = profile.fields[prop.fields[0]]
    if g.parsed < g.total:
        opts = g.options()
        fmts = opts.get("format")
        bad = [
            t
            for t in dict.fromkeys(f.filled)
            if parse_time(
                t,
                tz=tz,
                formats=[fmts] if isinstance(fmts, str) else fmts,
                epoch=opts.get("epoch"),
            ).utc
            is None
        ]
        if bad and not opts.get("time_only"):
            roles.warnings.append(
                f"{prop.element}: {g.total - g.parsed} of {g.total} values of "
                f"`{f.name}` do not parse (e.g. {', '.join(repr(b) for b in bad[:3])})"
                ": check those records"
            )
    if g.offset and tz not in ("UTC", "Etc/UTC"):
        zero = sum(1 for t in f.filled if t.endswith(("+0000", "+00:00", "Z")))
        if zero == len(f.filled):
            roles.warnings.append(
                f"{prop.element}: every value of `{f.name}` says UTC (+0000) though "
                f"the feed is in {tz}; if the publisher prints local times with a "
                "wrong offset, add `ignore_offset: true`"
            )
