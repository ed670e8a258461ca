"""Coordinate granularity of a published point (``vocab.COORD_GRANULARITY``).

The feed's documented coordinate policy is the ceiling; the precision of the
published digits is evidence that can only lower it.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from ..config.vocab import COORD_GRANULARITY, COORD_RANK

__all__ = ["classify_coordinates"]

# Three decimals of a degree is about 100 m of latitude: a published value that
# coarse has been rounded (Nashville ``36.277``), whatever the policy says.
_BLUR_MAX_DECIMALS = 3


def _coord_value(value: object) -> tuple[float, int] | None:
    """(value, decimal places as published) or ``None`` when unusable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            text = value.strip().lstrip("+")
            if not text:
                return None
            dec = Decimal(text)
        elif isinstance(value, Decimal):
            dec = value
        elif isinstance(value, int | float):
            # repr gives the shortest string that round-trips: the published
            # digits when the value came from JSON text.
            dec = Decimal(repr(float(value)))
        else:
            return None
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        return None
    if not dec.is_finite():
        return None
    number = float(dec)
    if not math.isfinite(number):
        return None
    exponent = dec.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return number, decimals


def classify_coordinates(lat: object, lon: object, *, policy: str = "exact") -> str:
    """Granularity of a published point, in ``vocab.COORD_GRANULARITY``.

    ``policy`` is the feed's documented coordinate policy and is the ceiling; the
    published precision is evidence that can only lower it: 3 or fewer decimals
    on both values means ``blurred``. Pass the value as the published string where
    there is one (``"47.610000"``), because a float forgets trailing zeros.
    Missing, unparseable, out-of-range or zero coordinates are ``none``. An
    unrecognised policy falls back to the evidence alone. Never raises.
    """
    try:
        pol = str(policy).strip().lower() if policy is not None else "exact"
        if pol not in COORD_RANK:
            pol = "exact"
        if pol == "none":
            return "none"
        plat, plon = _coord_value(lat), _coord_value(lon)
        if plat is None or plon is None:
            return "none"
        (vlat, dlat), (vlon, dlon) = plat, plon
        if vlat == 0 or vlon == 0 or abs(vlat) > 90 or abs(vlon) > 180:
            return "none"
        evidence = "blurred" if max(dlat, dlon) <= _BLUR_MAX_DECIMALS else "exact"
        return max(pol, evidence, key=COORD_RANK.__getitem__)
    except Exception:  # noqa: BLE001 - totality is the contract
        return "none"


assert set(COORD_RANK) == set(COORD_GRANULARITY)
