"""Checks of the arguments of public functions: one ValueError that names the argument and the
value given, instead of a TypeError or a NumPy error from deep inside."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["check_int"]


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """`value` as an int, or ValueError unless it is an integer >= `minimum` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)
