"""Checks and normalisation for image and label arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError


def validate_images(x: Any) -> np.ndarray:
    """Check an image array and return it as ``(N, H, W, C)``.

    Integer images must lie in [0, 255] and come back as ``uint8``; float
    images must be finite, lie in [0, 1] and come back as ``float32``;
    boolean images become ``float32`` 0/1. ``(N, H, W)`` gets a channel axis.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested sequences and the like
        raise DataError(f"images cannot be converted to an array ({type(exc).__name__})") from None
    if arr.ndim == 3:
        arr = arr[..., np.newaxis]
    elif arr.ndim != 4:
        raise DataError(f"images must have shape (N, H, W) or (N, H, W, C), got shape {arr.shape}")
    if min(arr.shape) == 0:
        raise DataError(f"images array is empty: shape {arr.shape}")

    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.float32)
    if kind in "ui":
        if arr.dtype == np.uint8:
            return arr
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise DataError(f"integer images must lie in [0, 255], found values in [{lo}, {hi}] ({arr.dtype})")
        return arr.astype(np.uint8)
    if kind == "f":
        check_pixel_values(arr)
        return arr.astype(np.float32, copy=False)
    raise DataError(f"images must be numeric, got dtype {arr.dtype}")


def check_pixel_values(images: np.ndarray) -> None:
    """Raise DataError unless the float pixels of ``images`` are finite and lie in [0, 1]."""
    finite = np.isfinite(images)
    nonfinite = int((~finite).sum())
    nans = int(np.isnan(images).sum()) if nonfinite else 0
    lo, hi = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
    problem = pixel_value_problem(nans, nonfinite, images.size, lo, hi)
    if problem:
        raise DataError(problem)


def pixel_value_problem(nans: int, nonfinite: int, size: int, lo: float, hi: float) -> str | None:
    """What is wrong with float pixels of these statistics (NaN count, non-finite count, pixel
    count, minimum, maximum), or None: the message of `check_pixel_values`."""
    if nonfinite:
        bad = "NaN" if nans else "inf"
        return f"images contain {bad} values ({nonfinite} of {size} pixels)"
    if lo < 0.0 or hi > 1.0:
        return (f"float images must lie in [0, 1], found values in [{lo:g}, {hi:g}]; "
                "divide uint8 images by 255 or pass them as uint8")
    return None


def validate_labels(y: Any, n: int) -> np.ndarray:
    """Check a label array for ``n`` images and return it as ``int64`` of shape ``(n,)``."""
    try:
        arr = np.asarray(y)
    except Exception as exc:  # ragged nested sequences and the like
        raise DataError(f"labels cannot be converted to an array ({type(exc).__name__})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"labels must have shape (N,), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"found {arr.shape[0]} labels for {n} images")
    kind = arr.dtype.kind
    if kind in "uib":
        return arr.astype(np.int64)
    if kind == "f":
        if not np.isfinite(arr).all():
            raise DataError("labels contain NaN or inf values")
        if not np.array_equal(arr, np.round(arr)):
            raise DataError("labels must be whole numbers, found fractional values")
        return arr.astype(np.int64)
    raise DataError(f"labels must be integers, got dtype {arr.dtype}")


def as_float_images(images: Any) -> np.ndarray:
    """Images as float32 in [0, 1], in their own shape: uint8 pixels (and other integers in
    [0, 255]) are divided by 255, booleans become 0/1, floats must already be finite and in
    [0, 1]. Anything else (another dtype, NaN, 0-255 floats, an empty array) is a DataError."""
    try:
        arr = np.asarray(images)
    except Exception as exc:  # ragged nested sequences and the like
        raise DataError(f"images cannot be converted to an array ({type(exc).__name__})") from None
    if arr.ndim == 0 or arr.size == 0:
        raise DataError(f"images array is empty: shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.float32)
    if kind in "ui":
        if arr.dtype != np.uint8:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi > 255:
                raise DataError(f"integer images must lie in [0, 255], found values in [{lo}, {hi}] ({arr.dtype})")
        return arr.astype(np.float32) / 255.0
    if kind == "f":
        check_pixel_values(arr)
        return arr.astype(np.float32, copy=False)
    raise DataError(f"images must be numeric, got dtype {arr.dtype}")


__all__ = ["as_float_images", "check_pixel_values", "validate_images", "validate_labels"]
