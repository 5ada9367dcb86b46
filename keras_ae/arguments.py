"""Checks of the arguments of public functions: one ValueError that names the argument and the
value given, instead of a TypeError or a NumPy error from deep inside."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["check_autoencoder", "check_int"]


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """`value` as an int, or ValueError unless it is an integer >= `minimum` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_autoencoder(model: Any):
    """`model`, or ValueError unless it is a keras_ae Autoencoder (or VariationalAutoencoder)."""
    from keras_ae.models import Autoencoder

    if not isinstance(model, Autoencoder):
        raise ValueError(f"expected a keras_ae Autoencoder (from keras_ae.build or "
                         f"keras_ae.load_model), got {type(model).__name__}")
    return model
