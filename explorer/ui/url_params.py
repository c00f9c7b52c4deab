"""Parse and format the values that pages mirror into the address bar.

A teacher copies the URL, a student opens it and sees the same view. Anyone can type
anything into a URL, so parsing never raises: an unreadable or out-of-range value falls
back to the page's default (or is clamped to its range).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_param(
    raw: str | None,
    default: Any,
    choices: Sequence[Any] | None = None,
    bounds: tuple[float, float] | None = None,
) -> Any:
    """`raw` read as the type of `default`; `default` when missing or invalid."""
    if raw is None:
        return default
    try:
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low not in _TRUE | _FALSE:
                return default
            value: Any = low in _TRUE
        elif isinstance(default, int):
            value = int(float(raw))
        elif isinstance(default, float):
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                return default
        else:
            value = raw
    except (TypeError, ValueError):
        return default
    if bounds is not None and not isinstance(value, bool):
        lo, hi = bounds
        value = type(value)(min(max(value, lo), hi))
    if choices is not None:
        matches = [c for c in choices if str(c) == str(value)]
        return matches[0] if matches else default
    return value


def format_param(value: Any) -> str:
    """The string form `parse_param` reads back into `value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():  # a whole-number input's float
        return str(int(value))
    return str(value)
