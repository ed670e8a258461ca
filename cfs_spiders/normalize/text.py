"""The one text coercion: a raw value as text, whatever a feed or a CSV handed over.

A mapping, the record builder and the normalizers read values that may be numbers
(a JSON id), bytes or ``None``; they all turn them into text here, so that ``12.0``
from one feed and ``"12"`` from another read the same.
"""

from __future__ import annotations

from typing import Any


def to_text(value: Any) -> str | None:
    """``None`` stays ``None``; text is kept as it is; bytes are read as UTF-8 (a
    bad byte becomes U+FFFD); a float with no fraction loses its ``.0``; anything
    else is ``str(value)`` (``None`` when even that fails)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a value whose __str__ fails has no text
        return None
