"""Opening any supported source, choosing a named split, and loading it as arrays.

`open_data` resolves a source (tfds name, IDX folder, image folder, ``.npz`` file or arrays)
once; its ``split(name, validation_fraction)`` gives a `Split` whose pipelines read from disk
where the source is on disk. `open_split` does both in one call; `load_arrays` reads a split
into memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_ae.utils.text import plural

from . import bundled
from .errors import DataError
from .folder import clear_folder_cache, open_folder
from .idx import find_idx_files
from .images import channels_of, parse_image_size
from .local import array_pools, clear_local_cache, load_local_pools, resolve_local
from .sources import ArraySource, IndexedSplit, Source, Split
from .splits import SPLITS, Pools, carve_indices, check_fraction
from .tfds_source import DownloadUnavailable, TfdsData, forget_offline, tfds_name

DataSource = Any
"""A tfds name, a path (IDX folder, image folder or .npz), an image array or an (images, labels) pair."""


@dataclass
class LocalData:
    """A source with a train pool and an optional test pool, both index-addressable."""

    origin: str
    train: Source
    test: Source | None = None
    no_test: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.image_shape)

    @property
    def splits(self) -> tuple[str, ...]:
        """The named splits it has (``test`` only where it has a test pool)."""
        return tuple(s for s in SPLITS if s != "test" or self.test is not None)

    def split(self, split: str, validation_fraction: float = 0.1) -> Split:
        """``train`` / ``validation``: the deterministic carve of the train pool (seed
        independent); ``test``: the test pool; ``all``: both pools."""
        fraction = check_fraction(validation_fraction)
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
        if split in ("train", "validation"):
            train_idx, val_idx = carve_indices(len(self.train), fraction)
            indices = train_idx if split == "train" else val_idx
            if indices.size == 0:
                raise DataError(f"{split} split is empty: validation_fraction={validation_fraction} "
                                f"of {plural(len(self.train), 'image')}")
            return IndexedSplit(self.train, indices, split)
        if split == "test":
            if self.test is None:
                raise DataError(self.no_test or f"{self.origin} has no test set; use split 'validation'")
            return IndexedSplit(self.test, np.arange(len(self.test)), split)
        if self.test is None:
            return IndexedSplit(self.train, np.arange(len(self.train)), split)
        joined = _joined(self.origin, self.train, self.test)
        return IndexedSplit(joined, np.arange(len(joined)), split)


def _joined(origin: str, train: Source, test: Source) -> Source:
    if not (isinstance(train, ArraySource) and isinstance(test, ArraySource)):
        raise DataError(f"cannot join the train and test pools of {origin}")
    if test.array.shape[1:] != train.array.shape[1:]:
        raise DataError(
            f"cannot join train {train.array.shape[1:]} and test {test.array.shape[1:]} images of {origin}")
    if test.array.dtype != train.array.dtype:
        raise DataError(
            f"cannot join train ({train.array.dtype}) and test ({test.array.dtype}) images of {origin}")
    labels = None
    if train.labels is not None and test.labels is not None:
        labels = np.concatenate([train.labels, test.labels])
    return ArraySource(np.concatenate([train.array, test.array]), labels, origin=origin,
                       size=train.size, channels=train.channels)


def _from_pools(pools: Pools, size, channels) -> LocalData:
    def source(x, y):
        return None if x is None else ArraySource(x, y, origin=pools.origin, size=size, channels=channels)

    return LocalData(pools.origin, source(pools.train_x, pools.train_y),
                     source(pools.test_x, pools.test_y), pools.no_test)


def open_data(
    source: DataSource,
    *,
    data_dir: str | os.PathLike | None = None,
    image_size: Any = None,
    color_mode: str | None = None,
    skip_bad_images: bool = False,
) -> LocalData | TfdsData:
    """Open a data source; its ``split(name, validation_fraction)`` gives a `Split`.

    ``image_size`` (``(H, W)`` or ``"HxW"``) resizes every image and ``color_mode``
    (``grayscale``, ``rgb``, ``rgba``) converts its channels; by default an image folder keeps
    its images' own size (when they all agree) and is grayscale when they all are, otherwise
    RGB. ``skip_bad_images`` leaves out unreadable image files instead of raising DataError.

    ``--dataset mnist`` without ``data_dir``, when tensorflow-datasets cannot download it, opens
    the MNIST test digits bundled with keras_ae (with a warning).
    """
    size, channels = parse_image_size(image_size), channels_of(color_mode)
    if isinstance(source, (np.ndarray, tuple, list)):
        _check_skip(skip_bad_images, "an in-memory array")
        return _from_pools(array_pools(source), size, channels)
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(
            f"unsupported data source of type {type(source).__name__}: pass a dataset name, "
            "a path, an image array or an (images, labels) pair"
        )
    if isinstance(source, str) and not source.strip():
        raise DataError("empty data source name")
    local = resolve_local(source, data_dir)
    if local is not None and local.is_dir() and find_idx_files(local).empty:  # image files
        folder = open_folder(local, size=size, channels=channels, skip_bad_images=skip_bad_images)
        single = f"{folder.origin} is a single pool of images, not a test set; use split 'validation'"
        return LocalData(folder.origin, folder, None, single)
    _check_skip(skip_bad_images, str(local or source))
    if local is not None:
        return _from_pools(load_local_pools(local), size, channels)
    try:
        return TfdsData(str(source), None if data_dir is None else str(data_dir), size=size,
                        channels=channels)
    except DownloadUnavailable:
        if data_dir is not None or tfds_name(str(source)) != "mnist":
            raise
    bundled.announce_fallback()
    return _from_pools(bundled.bundled_mnist(), size, channels)


def _check_skip(skip_bad_images: bool, source: str) -> None:
    if skip_bad_images:
        raise DataError("skip_bad_images / --skip-bad-images leaves damaged files out of a folder "
                        f"of images, and {source} is not one")


def open_split(
    source: DataSource,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    validation_fraction: float = 0.1,
    image_size: Any = None,
    color_mode: str | None = None,
    skip_bad_images: bool = False,
    with_labels: bool = True,
) -> Split:
    """One split of a source (see `open_data`): ``train``, ``validation`` (a fixed share of the
    train pool, the same whatever the training seed), ``test`` or ``all``; tfds sources also
    take tfds split strings such as ``"train[:10%]"``. ``with_labels`` is accepted for the
    signature of `load_arrays`; a split reads its labels only when asked for them."""
    del with_labels
    fraction = check_fraction(validation_fraction)
    if not isinstance(split, str):
        raise DataError(f"split must be a string, got {type(split).__name__}")
    data = open_data(source, data_dir=data_dir, image_size=image_size, color_mode=color_mode,
                     skip_bad_images=skip_bad_images)
    return data.split(split, fraction)


def load_arrays(
    source: DataSource,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    validation_fraction: float = 0.1,
    with_labels: bool = True,
    image_size: Any = None,
    color_mode: str | None = None,
    skip_bad_images: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a split into memory as ``(images, labels)``.

    Images are uint8 ``(N, H, W, C)`` (float32 in [0, 1] when the source arrays are float);
    labels are int64, or ``None`` when ``with_labels`` is False or the source has none. Splits
    and options as in `open_split`. Large sources on disk are better used through `open_split`
    and its pipelines, which never hold a whole split in memory.
    """
    chosen = open_split(source, split, data_dir=data_dir, validation_fraction=validation_fraction,
                        image_size=image_size, color_mode=color_mode, skip_bad_images=skip_bad_images)
    images = chosen.images()
    return images, (chosen.labels if with_labels else None)


def clear_cache() -> None:
    """Forget every cached dataset (and that tensorflow-datasets found no network) so the next
    load reads the source again."""
    clear_local_cache()
    clear_folder_cache()
    bundled.forget()
    forget_offline()


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
    image_size: Any = None,
    color_mode: str | None = None,
    skip_bad_images: bool = False,
):
    """A split as an unbatched ``tf.data.Dataset`` of float32 images in [0, 1], read from disk
    where the source is on disk.

    Elements are ``(H, W, C)`` images, or ``(image, label)`` pairs when ``with_labels`` is True.
    """
    import tensorflow as tf

    chosen = open_split(source, split, data_dir=data_dir, validation_fraction=validation_fraction,
                        image_size=image_size, color_mode=color_mode, skip_bad_images=skip_bad_images)
    if with_labels and not chosen.has_labels:
        raise DataError(f"data source has no labels (split {split!r})")
    ds = chosen.batches(256, with_labels=with_labels).unbatch()
    if with_labels:
        ds = ds.map(lambda img, label: (to_float(img), label), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.apply(tf.data.experimental.assert_cardinality(len(chosen)))


__all__ = ["SPLITS", "DataSource", "LocalData", "clear_cache", "load_arrays", "load_dataset",
           "open_data", "open_split", "to_float"]
