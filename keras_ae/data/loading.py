"""Loading a named split of any supported source as NumPy arrays."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import DataError
from .local import array_pools, clear_local_cache, load_local_pools, resolve_local
from .splits import SPLITS, carve, check_fraction, select_split
from .tfds_source import clear_tfds_cache, load_tfds

DataSource = Any
"""A tfds name, a path (IDX folder or .npz), an image array or an (images, labels) pair."""


def _from_tfds(
    name: str, split: str, data_dir: str | os.PathLike | None, fraction: float
) -> tuple[np.ndarray, np.ndarray | None]:
    if split in ("train", "validation"):
        x, y = load_tfds(name, "train", data_dir)
        return carve(x, y, split, fraction)
    x, y = load_tfds(name, split, data_dir)
    return x.copy(), (None if y is None else y.copy())


def load_arrays(
    source: DataSource,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    validation_fraction: float = 0.1,
    with_labels: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a split as ``(images, labels)``.

    Images are uint8 ``(N, H, W, C)`` (float32 in [0, 1] when the source
    arrays are float); labels are int64, or ``None`` when ``with_labels`` is
    False or the source has none. ``split`` is one of train, validation,
    test, all; tfds sources also accept tfds split strings such as
    ``"train[:10%]"``. Validation is a fixed, seed-independent share of the
    train pool.
    """
    fraction = check_fraction(validation_fraction)
    if not isinstance(split, str):
        raise DataError(f"split must be a string, got {type(split).__name__}")
    if isinstance(source, (np.ndarray, tuple, list)):
        x, y = select_split(array_pools(source), split, fraction)
    elif isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and not source.strip():
            raise DataError("empty data source name")
        local = resolve_local(source, data_dir)
        if local is not None:
            x, y = select_split(load_local_pools(local), split, fraction)
        else:
            x, y = _from_tfds(str(source), split, data_dir, fraction)
    else:
        raise DataError(
            f"unsupported data source of type {type(source).__name__}: pass a dataset name, "
            "a path, an image array or an (images, labels) pair"
        )
    return x, (y if with_labels else None)


def clear_cache() -> None:
    """Forget every cached dataset so the next load reads the source again."""
    clear_local_cache()
    clear_tfds_cache()


def to_float(images: np.ndarray | Any):
    """Convert a uint8 or float image tensor to float32 in [0, 1] with TensorFlow ops."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def load_dataset(
    source: DataSource,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    with_labels: bool = False,
    validation_fraction: float = 0.1,
):
    """Load a split as an unbatched ``tf.data.Dataset`` of float32 images in [0, 1].

    Elements are ``(H, W, C)`` images, or ``(image, label)`` pairs when
    ``with_labels`` is True.
    """
    import tensorflow as tf

    x, y = load_arrays(
        source, split, data_dir=data_dir, validation_fraction=validation_fraction, with_labels=with_labels
    )
    if with_labels:
        if y is None:
            raise DataError(f"data source has no labels (split {split!r})")
        return tf.data.Dataset.from_tensor_slices((x, y)).map(
            lambda img, label: (to_float(img), label), num_parallel_calls=tf.data.AUTOTUNE
        )
    return tf.data.Dataset.from_tensor_slices(x).map(to_float, num_parallel_calls=tf.data.AUTOTUNE)


__all__ = ["SPLITS", "clear_cache", "load_arrays", "load_dataset", "to_float"]
