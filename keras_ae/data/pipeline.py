"""Batched tf.data input pipelines for autoencoder training."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from .errors import DataError
from .loading import DataSource, load_arrays, to_float
from .noise import Noise, parse_noise
from .validate import validate_images, validate_labels


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")


def make_pipeline(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None = None,
    noise: Noise | str | None = None,
    cache: bool = True,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Build a batched pipeline yielding ``(x_in, x)`` float32 batches in [0, 1].

    ``x_in`` is ``x`` corrupted by ``noise`` when given. With ``labels`` the
    batches are ``(x_in, x, labels)``. Order: slices of the raw array, cache,
    shuffle (full buffer, reshuffled each epoch), batch, one vectorised map
    for conversion and noise, prefetch. A given ``seed`` makes both the order
    and the noise reproducible.
    """
    _check_batch_size(batch_size)
    x = validate_images(images)
    y = None if labels is None else validate_labels(labels, len(x))
    corruption = None if noise is None else parse_noise(noise)

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)

    if corruption is None:

        def convert(batch, batch_labels=None):
            clean = to_float(batch)
            return (clean, clean) if batch_labels is None else (clean, clean, batch_labels)
    else:
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)))

        def convert(item, draw):
            batch, batch_labels = item if y is not None else (item, None)
            clean = to_float(batch)
            seed_pair = tf.stack([draw, tf.constant(0, tf.int64)])
            noisy = corruption.apply(clean, seed=seed_pair)
            return (noisy, clean) if batch_labels is None else (noisy, clean, batch_labels)

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def autoencoder_dataset(
    source: DataSource,
    split: str = "train",
    *,
    batch_size: int = 128,
    shuffle: bool | None = None,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
    validation_fraction: float = 0.1,
    noise: Noise | str | None = None,
    cache: bool = True,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Load a split and return batched ``(x, x)`` (or ``(noisy_x, x)``) float32 pairs.

    ``shuffle`` defaults to True for the train split and False otherwise.
    """
    x, _ = load_arrays(source, split, data_dir=data_dir, validation_fraction=validation_fraction, with_labels=False)
    if shuffle is None:
        shuffle = split.split("[", 1)[0].strip() == "train"
    return make_pipeline(
        x,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        noise=noise,
        cache=cache,
        drop_remainder=drop_remainder,
    )


def epoch_pipeline(
    images: np.ndarray,
    *,
    batch_size: int,
    seed: int | None,
    epochs: int,
    first_epoch: int = 0,
) -> tuple[tf.data.Dataset, int]:
    """Training batches ``(x, x)`` for epochs ``first_epoch .. epochs - 1`` in one dataset, and
    the number of batches per epoch (pass it to ``fit(steps_per_epoch=...)``).

    The order of epoch ``e`` is a permutation drawn from ``(seed, e)`` alone, so a run resumed
    at epoch ``e`` sees exactly the batches an uninterrupted run would.
    """
    x = validate_images(images)
    _check_batch_size(batch_size)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    n = len(x)
    pixels = tf.constant(x)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(int(batch_size))

    def gather(indices):
        clean = to_float(tf.gather(pixels, indices))
        return clean, clean

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return ds, -(-n // int(batch_size))
