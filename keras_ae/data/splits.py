"""Named splits, the pools of in-memory sources and the deterministic train/validation carve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError

SPLITS = ("train", "validation", "test", "all")
_CARVE_SEED = 0


@dataclass(frozen=True)
class Pools:
    """The arrays a source provides: a train pool and an optional test set.

    ``no_test`` explains why ``test_x`` is ``None`` when it is.
    """

    origin: str
    train_x: np.ndarray
    train_y: np.ndarray | None
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None
    no_test: str = ""


def check_fraction(validation_fraction: float) -> float:
    """Return ``validation_fraction`` as a float in [0, 1) or raise DataError."""
    try:
        fraction = float(validation_fraction)
    except (TypeError, ValueError):
        raise DataError(f"validation_fraction must be a number, got {validation_fraction!r}") from None
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    return fraction


def carve_indices(n: int, validation_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted (train, validation) indices.

    A fixed permutation (seed 0) is used so the split never depends on any
    training seed; the last ``round(fraction * n)`` permuted indices are
    validation.
    """
    n_val = int(round(check_fraction(validation_fraction) * n))
    perm = np.random.default_rng(_CARVE_SEED).permutation(n)
    return np.sort(perm[: n - n_val]), np.sort(perm[n - n_val :])
