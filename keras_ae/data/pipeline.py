"""Batched tf.data input pipelines for autoencoder training and evaluation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from .loading import DataSource, open_data, open_split, to_float
from .noise import Noise, parse_noise
from .sources import (ArraySource, IndexedSplit, Split, check_batch_size, graph_only,
                      group_count)
from .validate import validate_images, validate_labels


def _pairs(raw: tf.data.Dataset, *, noise: Noise | str | None, seed: int | None,
           with_labels: bool) -> tf.data.Dataset:
    """Raw image batches (or ``(images, labels)``) -> float32 ``(x_in, x[, labels])``, where
    ``x_in`` is ``x`` corrupted by ``noise`` when given; prefetched."""
    corruption = None if noise is None else parse_noise(noise)
    if corruption is None:

        @graph_only

        def convert(batch, batch_labels=None):
            clean = to_float(batch)
            return (clean, clean) if batch_labels is None else (clean, clean, batch_labels)
    else:
        raw = tf.data.Dataset.zip((raw, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)))

        @graph_only

        def convert(item, draw):
            batch, batch_labels = item if with_labels else (item, None)
            clean = to_float(batch)
            seed_pair = tf.stack([draw, tf.constant(0, tf.int64)])
            noisy = corruption.apply(clean, seed=seed_pair)
            return (noisy, clean) if batch_labels is None else (noisy, clean, batch_labels)

    return raw.map(convert, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


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
    """Build a batched pipeline of in-memory images yielding ``(x_in, x)`` float32 batches in
    [0, 1].

    ``x_in`` is ``x`` corrupted by ``noise`` when given. With ``labels`` the
    batches are ``(x_in, x, labels)``. Order: slices of the raw array, cache,
    shuffle (full buffer, reshuffled each epoch), batch, one vectorised map
    for conversion and noise, prefetch. A given ``seed`` makes both the order
    and the noise reproducible.
    """
    check_batch_size(batch_size)
    x = validate_images(images)
    y = None if labels is None else validate_labels(labels, len(x))

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    return _pairs(ds, noise=noise, seed=seed, with_labels=y is not None)


def split_pipeline(
    split: Split,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    noise: Noise | str | None = None,
    with_labels: bool = False,
    cache: bool = False,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batched ``(x_in, x[, labels])`` float32 pairs of a `Split`, read from disk where the
    source is on disk (decoded in parallel, prefetched).

    With ``shuffle`` each pass over the dataset has a new order (reproducible with ``seed``).
    ``cache`` keeps the decoded images in memory after the first pass (for small sources on
    disk; it makes memory grow with the split).
    """
    batch_size = check_batch_size(batch_size)
    if cache:
        raw = split.batches(batch_size, with_labels=with_labels).unbatch().cache()
        if shuffle:
            raw = raw.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
        raw = raw.batch(batch_size, drop_remainder=drop_remainder)
    else:
        raw = split.batches(batch_size, shuffle=shuffle, seed=seed, with_labels=with_labels,
                            drop_remainder=drop_remainder)
    return _pairs(raw, noise=noise, seed=seed, with_labels=with_labels)


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
    cache: bool = False,
    drop_remainder: bool = False,
    image_size: Any = None,
    color_mode: str | None = None,
    skip_bad_images: bool = False,
) -> tf.data.Dataset:
    """Open a split and return batched ``(x, x)`` (or ``(noisy_x, x)``) float32 pairs.

    Image folders and tfds datasets are read from disk as the pipeline runs. ``shuffle``
    defaults to True for the train split and False otherwise. Source options as in
    `keras_ae.data.open_data`; ``cache`` as in `split_pipeline`.
    """
    chosen = open_split(source, split, data_dir=data_dir, validation_fraction=validation_fraction,
                        image_size=image_size, color_mode=color_mode, skip_bad_images=skip_bad_images)
    if shuffle is None:
        shuffle = split.split("[", 1)[0].strip() == "train"
    return split_pipeline(chosen, batch_size=batch_size, shuffle=shuffle, seed=seed, noise=noise,
                          cache=cache, drop_remainder=drop_remainder)


def epoch_pipeline(
    images: np.ndarray,
    *,
    batch_size: int,
    seed: int | None,
    epochs: int,
    first_epoch: int = 0,
) -> tuple[tf.data.Dataset, int]:
    """Training batches ``(x, x)`` of in-memory images for epochs ``first_epoch .. epochs - 1``
    in one dataset, and the number of batches per epoch (pass it to
    ``fit(steps_per_epoch=...)``).

    The order of epoch ``e`` is a permutation drawn from ``(seed, e)`` alone, so a run resumed
    at epoch ``e`` sees exactly the batches an uninterrupted run would.
    """
    x = validate_images(images)
    split = IndexedSplit(ArraySource(x), np.arange(len(x)), "train")
    return _epoch_pairs(split, batch_size=batch_size, seed=seed, epochs=epochs, first_epoch=first_epoch)


def _epoch_pairs(split: Split, **options) -> tuple[tf.data.Dataset, int]:
    raw, steps = split.epochs(**options)
    return _clean_pairs(raw), steps


@dataclass
class TrainingData:
    """The pipelines of a training run, for a keras_ae model: their elements are image batches
    as read (uint8, or float in [0, 1]), which the model converts and takes as its own targets.
    `train` holds the batches of every remaining epoch (``steps_per_epoch`` each) in one
    dataset, stacked `batch_group` at a time when that is over 1 (`training_data`), in
    `elements_per_epoch` elements per epoch; `one_epoch` holds one epoch's batches, one by one,
    ordered by the epoch number in the variable `epoch` (set it before each pass over the
    dataset, as `keras_ae.training.callbacks.EpochOrder` does in `fit`); both give the same batches.
    `validation` holds the validation split's batches, in order, stacked as `train`'s when
    `batch_group` is over 1 (all in one element, or as many as `GROUP_BYTES` allows).
    `adapt` holds the training split's images once, shuffled by the run's seed, one batch an
    element: what a model's `adapt` learns its data-given state from."""

    train: tf.data.Dataset
    one_epoch: tf.data.Dataset
    epoch: tf.Variable
    validation: tf.data.Dataset
    steps_per_epoch: int
    image_shape: tuple[int, int, int]
    train_size: int
    validation_size: int
    batch_group: int = 1
    elements_per_epoch: int = 0
    adapt: tf.data.Dataset | None = None


def _clean_pairs(raw: tf.data.Dataset, *, prefetch: bool = True) -> tf.data.Dataset:
    """Raw training batches as float32 ``(x, x)`` pairs: converted in parallel and prefetched,
    or one by one as they are read."""

    @graph_only
    def pair(batch):
        clean = to_float(batch)
        return clean, clean

    if not prefetch:
        return raw.map(pair)
    return raw.map(pair, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _as_read(raw: tf.data.Dataset, *, prefetch: bool = True) -> tf.data.Dataset:
    """Raw image batches as they are read (uint8, or float in [0, 1]), prefetched or not.

    A keras_ae model's train and test steps convert them inside the compiled step
    (`keras_ae.models.Autoencoder.as_images`) and take them as their own targets, so the
    pipeline neither converts them nor pairs them: a step's slice of a group is then a quarter
    of one float batch rather than two of them (`benchmarks/train_speed.py --knobs` measures
    what that gains)."""
    return raw.prefetch(tf.data.AUTOTUNE) if prefetch else raw


GROUP_BYTES = 64 * 2**20
"""The most float32 pixels one element of grouped training batches holds."""


def float_bytes(count: int, image_shape) -> int:
    """The bytes of ``count`` float32 images of ``image_shape``."""
    return 4 * count * int(np.prod(image_shape))


def _grouped_validation(validation: Split, batch_size: int, most: int) -> tf.data.Dataset:
    """The validation batches in order, stacked (all of them, or `most` at a time); kept in
    memory after the first pass where they fit in `GROUP_BYTES`, so that a pass starts and
    stops no threads."""
    group = max(1, min(-(-len(validation) // batch_size), most))
    batches = validation.grouped_batches(batch_size, group)
    if float_bytes(len(validation), validation.image_shape) <= GROUP_BYTES:
        return _as_read(batches, prefetch=False).cache()
    return _as_read(batches)


def training_data(config: Any, *, first_epoch: int = 0, batch_group: int = 1) -> TrainingData:
    """The pipelines for training on ``config.dataset`` (a `keras_ae.RunConfig` or any object with
    its data and training fields), from epoch ``first_epoch`` on.

    With ``batch_group`` > 1, `TrainingData.train` stacks that many consecutive batches in each
    element where the source can (`keras_ae.data.sources.Split.epochs`), fewer where that many
    would hold more than `GROUP_BYTES` of pixels; `TrainingData.batch_group` says how many.
    The source is opened once; images on disk are read as the pipelines run.
    """
    data = open_data(config.dataset, data_dir=config.data_dir,
                     image_size=getattr(config, "image_size", None),
                     color_mode=getattr(config, "color_mode", None),
                     skip_bad_images=getattr(config, "skip_bad_images", False))
    train = data.split("train", config.validation_fraction)
    validation = data.split("validation", config.validation_fraction)
    seed = int(np.random.default_rng().integers(2**31 - 1)) if config.seed is None else config.seed
    batch_bytes = float_bytes(config.batch_size, train.image_shape)
    steps = -(-len(train) // config.batch_size)
    group = (max(1, min(int(batch_group), steps, GROUP_BYTES // batch_bytes))
             if train.can_group else 1)
    all_epochs, _ = train.epochs(config.batch_size, seed=seed, epochs=config.epochs,
                                 first_epoch=first_epoch, group=group)
    epoch = tf.Variable(first_epoch, dtype=tf.int64, trainable=False, name="epoch")
    one_epoch, _ = train.epoch(config.batch_size, seed=seed, epoch=epoch)
    all_epochs = _as_read(all_epochs)
    if group > 1:  # a few large elements: tf.data's autotuning buys nothing, and stopping its
        # thread when training ends took up to half a second (a one-off measurement)
        options = tf.data.Options()
        options.autotune.enabled = False
        all_epochs = all_epochs.with_options(options)
    val_ds = (_grouped_validation(validation, config.batch_size, GROUP_BYTES // batch_bytes)
              if group > 1 else _as_read(validation.batches(config.batch_size)))
    return TrainingData(all_epochs, _as_read(one_epoch), epoch, val_ds, steps,
                        tuple(train.image_shape), len(train), len(validation), group,
                        group_count(len(train), config.batch_size, group),
                        _as_read(train.batches(config.batch_size, shuffle=True, seed=seed)))


__all__ = ["GROUP_BYTES", "TrainingData", "autoencoder_dataset", "epoch_pipeline", "float_bytes",
           "make_pipeline", "split_pipeline", "training_data"]
