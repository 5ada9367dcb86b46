"""Named splits and the deterministic train/validation carve."""

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


def carve(
    x: np.ndarray, y: np.ndarray | None, split: str, validation_fraction: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the ``"train"`` or ``"validation"`` part of a train pool (copies)."""
    train_idx, val_idx = carve_indices(len(x), validation_fraction)
    idx = train_idx if split == "train" else val_idx
    if idx.size == 0:
        raise DataError(f"{split} split is empty: validation_fraction={validation_fraction} of {len(x)} images")
    return x[idx], (None if y is None else y[idx])


def select_split(pools: Pools, split: str, validation_fraction: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Return copies of the images and labels of a named split of ``pools``."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if split in ("train", "validation"):
        return carve(pools.train_x, pools.train_y, split, validation_fraction)
    if split == "test":
        if pools.test_x is None:
            raise DataError(pools.no_test or f"{pools.origin} has no test set; use split 'validation'")
        return pools.test_x.copy(), (None if pools.test_y is None else pools.test_y.copy())
    if pools.test_x is None:
        return pools.train_x.copy(), (None if pools.train_y is None else pools.train_y.copy())
    if pools.test_x.shape[1:] != pools.train_x.shape[1:]:
        raise DataError(
            f"cannot join train {pools.train_x.shape[1:]} and test {pools.test_x.shape[1:]} images of {pools.origin}"
        )
    if pools.test_x.dtype != pools.train_x.dtype:
        raise DataError(
            f"cannot join train ({pools.train_x.dtype}) and test ({pools.test_x.dtype}) images of {pools.origin}"
        )
    x = np.concatenate([pools.train_x, pools.test_x])
    y = None
    if pools.train_y is not None and pools.test_y is not None:
        y = np.concatenate([pools.train_y, pools.test_y])
    return x, y
