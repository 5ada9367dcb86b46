"""Index-addressable data sources, and the splits and tf.data pipelines built on them.

A `Source` is a pool of examples that knows its length and reads example ``i``: arrays in
memory (`ArraySource`), image files (`keras_ae.data.folder.FolderSource`) or a prepared
tensorflow-datasets split (`keras_ae.data.tfds_source.TfdsSource`). A split is a set of indices
into a source (`IndexedSplit`); a pipeline maps an order of indices to decoded images in
parallel, so memory does not grow with the dataset. Epoch ``e`` of training is ordered by a
permutation drawn from ``(seed, e)`` alone, so a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

import abc
import contextlib
import re
from collections.abc import Callable, Iterator

import numpy as np

from .errors import DataError
from .images import conform_array

_UNREADABLE = "keras_ae: cannot decode image"
_UNREADABLE_RE = re.compile(re.escape(_UNREADABLE) + r"\] \[(.*)\]\s*$", re.MULTILINE)
_PROGRESS_MIN = 20_000  # materialising at least this many images shows a progress bar


def graph_only(function: Callable) -> Callable:
    """`function` marked as plain graph code for tf.data: autograph leaves it as it is (it has no
    Python control flow on tensors; converting the pipeline's functions cost seconds per run)."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(function)



def _seed(seed: int | None) -> int:
    """``seed``, or a random one for None."""
    return int(np.random.default_rng().integers(2**31 - 1)) if seed is None else int(seed)


def check_batch_size(batch_size: int) -> int:
    """Return ``batch_size`` as an int, or raise DataError unless it is a positive integer."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


class Source(abc.ABC):
    """A pool of images that knows its length and reads image ``i``.

    Subclasses set `origin` (for messages), `image_shape` ``(H, W, C)``, `dtype` (``uint8``, or
    ``float32`` in [0, 1]) and `labels` (int64 per example, or None), and implement `reader`.
    `batched` readers map a vector of indices to a batch at once; the others map one index to
    one image and run in parallel. `fallible` sources read files whose decoding may fail; a
    failure stops the pipeline with an error naming the file (see `reading_errors`).
    """

    origin: str = ""
    image_shape: tuple[int, int, int]
    dtype: np.dtype
    batched: bool = False
    fallible: bool = False

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of examples."""

    @property
    def labels(self) -> np.ndarray | None:
        """int64 labels of every example, or None."""
        return None

    @property
    def has_labels(self) -> bool:
        """Whether the examples have labels (without reading them)."""
        return self.labels is not None

    @abc.abstractmethod
    def reader(self) -> Callable:
        """A TensorFlow function from an int64 index (a vector of them when `batched`) to the
        image (batch) in `image_shape` and `dtype`. Built once per pipeline."""

    def describe(self, index):
        """A string tensor naming example ``index`` in error messages (fallible sources)."""
        import tensorflow as tf

        return tf.strings.as_string(index)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """The images at ``indices`` as one NumPy array."""
        split = IndexedSplit(self, np.asarray(indices, dtype=np.int64), "read")
        return split.images()


class ArraySource(Source):
    """Images held in memory (IDX, npz or user arrays), optionally resized / recoloured on read."""

    batched = True

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None, *,
                 origin: str = "in-memory arrays", size: tuple[int, int] | None = None,
                 channels: int | None = None):
        self.array = images
        self._labels = labels
        self.origin = origin
        self.size = size
        self.channels = channels
        height, width, have = images.shape[1:]
        if channels is not None and have not in (1, 2, 3, 4):
            raise DataError(f"images of {origin} have {have} channels and cannot be converted "
                            f"to {channels} channels")
        self.image_shape = (*(size or (height, width)), channels or have)
        self.dtype = images.dtype
        self._tensor = None

    def __len__(self) -> int:
        return len(self.array)

    @property
    def labels(self) -> np.ndarray | None:
        return self._labels

    def reader(self) -> Callable:
        import tensorflow as tf

        from .images import conform

        if self._tensor is None:
            self._tensor = tf.constant(self.array)
        pixels, size, channels = self._tensor, self.size, self.channels

        def read(indices):
            return conform(tf.gather(pixels, indices), size, channels)

        return read

    def read(self, indices: np.ndarray) -> np.ndarray:
        return conform_array(self.array[np.asarray(indices, dtype=np.int64)], self.size, self.channels)


class Split(abc.ABC):
    """A split of a data source: its length, image shape, labels and tf.data pipelines.

    `batches` gives raw batches (uint8, or float32 in [0, 1]) in index order or shuffled anew
    on each pass; `epochs` gives the batches of a training run; `images` reads them into memory.
    """

    origin: str
    name: str

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of examples."""

    @property
    @abc.abstractmethod
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of every image."""

    @property
    @abc.abstractmethod
    def labels(self) -> np.ndarray | None:
        """int64 labels of the split's examples in index order, or None."""

    @property
    @abc.abstractmethod
    def has_labels(self) -> bool:
        """Whether the examples have labels (without reading them)."""

    @abc.abstractmethod
    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int | None = None,
                with_labels: bool = False, drop_remainder: bool = False):
        """A tf.data.Dataset of raw image batches (or ``(images, labels)``)."""

    def epochs(self, batch_size: int, *, seed: int | None, epochs: int, first_epoch: int = 0,
               group: int = 1):
        """The raw batches of epochs ``first_epoch .. epochs - 1`` in one dataset, and the number
        of batches per epoch. Epoch ``e``'s order depends on ``(seed, e)`` alone.

        With ``group`` > 1 (where `can_group`), each element stacks up to ``group`` consecutive
        full batches of an epoch (``[k, batch_size, H, W, C]``) and an epoch's last, smaller
        batch comes alone (``[1, rest, H, W, C]``): the same batches in the same order, in
        `group_count` elements per epoch."""
        import tensorflow as tf

        group = int(group)
        if group < 1 or (group > 1 and not self.can_group):
            raise ValueError(f"{self.origin} cannot give its batches in groups of {group}")
        batch_size = check_batch_size(batch_size)
        one_epoch, finish, steps = self._epoch_reader(batch_size, _seed(seed), group)
        ds = finish(tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch))
        per_epoch = group_count(len(self), batch_size, group)
        return ds.apply(tf.data.experimental.assert_cardinality(
            max(0, epochs - first_epoch) * per_epoch)), steps

    def epoch(self, batch_size: int, *, seed: int, epoch):
        """The raw batches of one epoch, whose number is read from ``epoch`` (a ``tf.Variable``)
        each time the dataset is iterated, and the number of batches. Iterating it once per epoch
        (with the variable set first) gives exactly the batches of `epochs`."""
        import tensorflow as tf

        one_epoch, finish, steps = self._epoch_reader(check_batch_size(batch_size), seed)
        ds = finish(tf.data.Dataset.from_tensors(0).flat_map(
            graph_only(lambda _: one_epoch(epoch.read_value()))))
        return ds.apply(tf.data.experimental.assert_cardinality(steps)), steps

    @property
    def can_group(self) -> bool:
        """Whether `epochs` can stack consecutive batches into one element."""
        return False

    @abc.abstractmethod
    def _epoch_reader(self, batch_size: int, seed: int, group: int = 1):
        """``(one_epoch, finish, steps)``: a function from an epoch number (int64 tensor) to that
        epoch's raw batches (in groups of ``group``, as `epochs` describes), a function finishing
        the batches of any number of epochs, and the batches per epoch."""

    def images(self, limit: int | None = None) -> np.ndarray:
        """The split's first ``limit`` (default: all) images as one array, in index order."""
        n = len(self) if limit is None else min(int(limit), len(self))
        parts, seen = [], 0
        progress = _progress(n, f"reading {n} images of {self.origin}")
        with reading_errors():
            for batch in self.batches(256).take(-(-n // 256)):
                batch = batch.numpy()[: n - seen]
                parts.append(batch)
                seen += len(batch)
                if progress is not None:
                    progress.update(seen)
        return np.concatenate(parts) if parts else np.zeros((0, *self.image_shape), np.uint8)


class IndexedSplit(Split):
    """The examples of a `Source` at sorted ``indices``."""

    def __init__(self, source: Source, indices: np.ndarray, name: str):
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        self.name = name
        self.origin = source.origin

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.source.image_shape)

    @property
    def labels(self) -> np.ndarray | None:
        labels = self.source.labels
        return None if labels is None else labels[self.indices]

    @property
    def has_labels(self) -> bool:
        return self.source.has_labels

    def images(self, limit: int | None = None) -> np.ndarray:
        if isinstance(self.source, ArraySource):
            return self.source.read(self.indices[:limit])
        return super().images(limit)

    def _reading(self, batch_size: int, with_labels: bool, drop_remainder: bool):
        """A function from an order (int64 source indices) to a dataset of its batches, and the
        function that finishes the batches (checking the reads of fallible sources)."""
        import tensorflow as tf

        source = self.source
        read = source.reader()
        labels = None
        if with_labels:
            if source.labels is None:
                raise DataError(f"{source.origin} has no labels")
            labels = tf.constant(source.labels)

        @graph_only

        def item(index):
            image = read(index)
            return image if labels is None else (image, tf.gather(labels, index))

        @graph_only

        def batches_of(order):
            indices = tf.data.Dataset.from_tensor_slices(order)
            if source.batched:
                items = indices.batch(batch_size, drop_remainder=drop_remainder)
                return items.map(item, num_parallel_calls=tf.data.AUTOTUNE)
            if source.fallible:
                items = _tracked(indices, item, source, with_labels)
            else:
                items = indices.map(item, num_parallel_calls=tf.data.AUTOTUNE)
            return items.batch(batch_size, drop_remainder=drop_remainder)

        def finish(ds):
            return ds.map(_checker(source)) if source.fallible else ds

        return batches_of, finish

    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int | None = None,
                with_labels: bool = False, drop_remainder: bool = False):
        """Raw image batches (or ``(images, labels)``): in index order, or with ``shuffle`` in a
        new order on every pass over the dataset (reproducible with ``seed``)."""
        import tensorflow as tf

        batch_size = check_batch_size(batch_size)
        batches_of, finish = self._reading(batch_size, with_labels, drop_remainder)
        indices = tf.constant(self.indices)
        count = len(self.indices)
        if not shuffle:
            ds = batches_of(indices)
        else:

            @graph_only

            def shuffled(draw):
                seed_pair = tf.stack([draw, tf.constant(0, tf.int64)])
                positions = tf.range(count, dtype=tf.int64)
                order = tf.random.experimental.stateless_shuffle(positions, seed=seed_pair)
                return batches_of(tf.gather(indices, order))

            ds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1).flat_map(shuffled)
        return with_batch_count(finish(ds), count, batch_size, drop_remainder)

    @property
    def can_group(self) -> bool:
        return not self.source.fallible  # the checks of fallible reads go batch by batch

    def _epoch_reader(self, batch_size: int, seed: int, group: int = 1):
        import tensorflow as tf

        batches_of, finish = self._reading(batch_size, False, False)
        indices = tf.constant(self.indices)
        count = len(self.indices)

        @graph_only
        def one_epoch(epoch):
            seed_pair = tf.stack([tf.constant(seed, tf.int64), epoch])
            order = tf.gather(indices, tf.random.experimental.stateless_shuffle(
                tf.range(count, dtype=tf.int64), seed=seed_pair))
            if group == 1:
                return batches_of(order)
            return self._groups(order, batches_of, batch_size, group)

        return one_epoch, finish, -(-count // batch_size)

    def grouped_batches(self, batch_size: int, group: int):
        """Raw image batches in index order, stacked as `Split.epochs` stacks them, in
        `group_count` elements (where `can_group`)."""
        import tensorflow as tf

        if not self.can_group:
            raise ValueError(f"{self.origin} cannot give its batches in groups")
        batch_size = check_batch_size(batch_size)
        batches_of, _ = self._reading(batch_size, False, False)
        ds = self._groups(tf.constant(self.indices), batches_of, batch_size, int(group))
        return ds.apply(tf.data.experimental.assert_cardinality(
            group_count(len(self), batch_size, int(group))))

    def _groups(self, order, batches_of, batch_size: int, group: int):
        """The batches of ``order`` (source indices), full ones ``group`` at a time, the last,
        smaller one alone."""
        import tensorflow as tf

        full = len(self.indices) // batch_size * batch_size  # the examples of the full batches
        head = order[:full]
        if not self.source.batched:
            grouped = batches_of(head).batch(group)
        else:  # one read of a whole group
            read, span = self.source.reader(), group * batch_size
            grouped = tf.data.Dataset.range(0, full, span).map(graph_only(
                lambda start: _stacked(read(head[start:start + span]), batch_size)))
        return grouped if full == len(self.indices) else grouped.concatenate(
            batches_of(order[full:]).batch(1))


def group_count(count: int, batch_size: int, group: int) -> int:
    """The elements of an epoch of ``count`` examples in batches of ``batch_size``, grouped
    ``group`` batches at a time (`Split.epochs`)."""
    full, rest = divmod(count, batch_size)
    return -(-full // group) + (rest > 0)


def _stacked(images, batch_size: int):
    """``[k * batch_size, H, W, C]`` images as ``k`` stacked batches."""
    import tensorflow as tf

    return tf.reshape(images, tf.concat([[-1, batch_size], tf.shape(images)[1:]], axis=0))


def with_batch_count(ds, count: int, batch_size: int, drop_remainder: bool = False):
    """``ds`` with its known number of batches of ``count`` examples, so that Keras knows where
    an epoch of it ends (rather than running it dry and warning)."""
    import tensorflow as tf

    batches = count // batch_size if drop_remainder else -(-count // batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(batches))


def _tracked(indices, item, source: Source, with_labels: bool):
    """Map ``indices`` to ``(index wanted, index read, item)`` in parallel, for `_checker`.

    A read that fails is dropped (`ignore_errors`), so the indices read no longer match the
    indices wanted from there on; a sentinel (index -1) at the end catches a failed last read.
    """
    import tensorflow as tf

    got = indices.map(lambda i: (i, item(i)), num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    blank_shape, dtype = tuple(source.image_shape), tf.as_dtype(source.dtype)

    @graph_only

    def sentinel(index):
        blank = tf.zeros(blank_shape, dtype)
        return index, ((blank, tf.constant(0, tf.int64)) if with_labels else blank)

    # (a mapped range rather than from_tensors: a constant dataset concatenated inside flat_map
    # makes op determinism run the maps after the flat_map sequentially)
    got = got.concatenate(tf.data.Dataset.range(-1, 0).map(sentinel))
    return tf.data.Dataset.zip((indices, got)).map(lambda want, pair: (want, pair[0], pair[1]))


def _checker(source: Source):
    """A map over batches of `_tracked` items that stops with an error naming the first example
    that could not be read, and otherwise returns the items.

    It runs after the per-epoch ``flat_map``, outside the function that builds each epoch.
    """
    import tensorflow as tf

    @graph_only

    def check(wanted, read, items):
        same = tf.equal(wanted, read)
        first = tf.argmin(tf.cast(same, tf.int32))
        culprit = source.describe(tf.gather(wanted, first))
        ok = tf.debugging.Assert(tf.reduce_all(same), [_UNREADABLE, culprit])
        with tf.control_dependencies([ok]):
            return tf.nest.map_structure(tf.identity, items)

    return check


@contextlib.contextmanager
def reading_errors() -> Iterator[None]:
    """Turn a failed image read inside a tf.data pipeline (e.g. during ``model.fit``) into a
    one-line DataError naming the file."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.InvalidArgumentError as err:
        match = _UNREADABLE_RE.search(err.message or "")
        if match is None:
            raise
        raise DataError(f"cannot decode image {match[1]}; it may be truncated or damaged "
                        "(skip_bad_images / --skip-bad-images leaves such files out)") from None


def _progress(count: int, title: str):
    if count < _PROGRESS_MIN:
        return None
    import keras

    print(title)
    return keras.utils.Progbar(count, unit_name="image")


__all__ = ["ArraySource", "IndexedSplit", "Source", "Split", "check_batch_size", "group_count",
           "reading_errors", "with_batch_count"]
