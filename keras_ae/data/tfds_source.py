"""Image datasets of tensorflow-datasets, read from disk split by split.

A dataset prepared in a random-access format (``download_and_prepare(file_format=
"array_record")``) is a `TfdsSource`: example ``i`` is read through ``tfds.data_source`` and
decoded with TensorFlow, so its splits are index sets like any other source's. A dataset
prepared as TFRecord (tfds's default, and how keras_ae downloads) is read in file order with the
tf.data builder (`StreamedSplit`); its epochs are shuffled within blocks of at most 64 MiB of
consecutive images, by permutations drawn from ``(seed, epoch)``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np

from keras_ae.utils.text import first_line, plural

from .errors import DataError
from .images import conform
from .sources import IndexedSplit, Source, Split, check_batch_size, graph_only, with_batch_count
from .splits import carve_indices

_PROBE_URL = "https://storage.googleapis.com/"  # where tensorflow-datasets downloads from
_PROBE_TIMEOUT_S = 5.0
_SHUFFLE_BYTES = 64 * 2**20  # a streamed split is shuffled in blocks of at most this many bytes
_MIN_SHUFFLE = 1024


class DownloadUnavailable(DataError):
    """tensorflow-datasets cannot download a dataset that is not prepared yet."""


def _why(exc: BaseException) -> str:
    return first_line(exc, 160, with_type=True)


def tfds_name(source: str) -> str:
    """The tfds spelling of a dataset name (``fashion-mnist`` -> ``fashion_mnist``)."""
    return source.strip().lower().replace("-", "_")


def offline_message(name: str) -> str:
    return (
        f"could not download {name!r} with tensorflow-datasets (offline?); pass --data-dir DIR "
        "pointing to a folder of IDX files (train-images-idx3-ubyte.gz …) or an .npz file"
    )


_offline = False  # the probe failed once: this process counts as offline


def network_reachable(timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether tensorflow-datasets' download host answers one HTTPS request, made as tfds's
    downloads are (through the HTTPS proxy, if any), within `timeout` seconds: a proxy that
    refuses the connection counts as offline, where tfds would retry for minutes. Once it has
    not answered, the process counts as offline and the probe is not made again
    (`forget_offline` forgets it).

    Name resolution cannot be given a timeout, so the attempt runs in a daemon thread and
    counts as a failure if it has not finished in time.
    """
    global _offline
    if _offline:
        return False
    result: list[bool] = []

    def attempt() -> None:
        request = urllib.request.Request(_PROBE_URL, method="HEAD")
        try:
            # an opener of its own reads the proxy settings now (urlopen's is built once)
            with urllib.request.build_opener().open(request, timeout=timeout):
                result.append(True)
        except urllib.error.HTTPError:  # the host answered
            result.append(True)
        except (OSError, ValueError):  # no connection, a proxy's refusal, a bad proxy setting
            result.append(False)

    thread = threading.Thread(target=attempt, name="keras_ae-network-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    _offline = not (result and result[0])
    return not _offline


def forget_offline() -> None:
    """Forget that the network probe failed: the next download asks again."""
    global _offline
    _offline = False


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise DataError(f"tensorflow-datasets is not available ({_why(exc)})") from None
    return tfds


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Hide tfds's absl warnings about folders of datasets that are not prepared yet (what
    happens next, a download or the bundled digits, is said by keras_ae)."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        absl.setLevel(level)


def _builder(tfds, name: str, data_dir: str | None, **kwargs):
    try:
        with _quiet_absl():
            return tfds.builder(name, data_dir=data_dir, **kwargs)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"unknown dataset {name!r}: not an existing file or folder, and "
            "tensorflow-datasets has no dataset by that name"
        ) from None
    except Exception as exc:
        raise DataError(f"cannot open tensorflow-datasets dataset {name!r} ({_why(exc)})") from None


def _prepared_builder(tfds, name: str, data_dir: str | None):
    """The builder of a prepared dataset; one that is not prepared yet is downloaded and
    prepared in tfds's default format (so that ``tfds.load`` keeps working on it), or
    DownloadUnavailable is raised."""
    builder = _builder(tfds, name, data_dir)
    with _quiet_absl():
        prepared = builder.is_prepared()
    if prepared:
        return builder
    _check_features(builder, name)
    if not network_reachable():
        raise DownloadUnavailable(offline_message(name))
    try:
        builder.download_and_prepare()
    except Exception as exc:
        raise DownloadUnavailable(f"{offline_message(name)} [{_why(exc)}]") from None
    return builder


def _check_features(builder, name: str) -> tuple[tuple, bool]:
    """The image feature's shape and whether there are labels; DataError without images."""
    try:
        features = builder.info.features
        keys = list(features.keys()) if hasattr(features, "keys") else []
    except Exception as exc:
        raise DataError(f"cannot read the features of {name!r} ({_why(exc)})") from None
    if "image" not in keys:
        raise DataError(
            f"tensorflow-datasets dataset {name!r} has no 'image' feature "
            f"(features: {', '.join(keys) or 'none'})"
        )
    return tuple(features["image"].shape), "label" in keys


def _random_access(builder) -> bool:
    try:
        fmt = builder.info.file_format
    except Exception:  # noqa: BLE001 - an unreadable info means no random access
        return False
    return getattr(fmt, "value", fmt) in ("array_record", "parquet")


def _output_shape(name: str, feature_shape: tuple, size, channels) -> tuple[int, int, int]:
    height, width, have = (tuple(feature_shape) + (None, None, None))[:3]
    if size is None and (height is None or width is None):
        raise DataError(f"tensorflow-datasets dataset {name!r} has images of varying size "
                        f"{tuple(feature_shape)}; pass --image-size HxW (image_size=(H, W))")
    if channels is None and have is None:
        raise DataError(f"tensorflow-datasets dataset {name!r} has images with a varying number of "
                        "channels; pass --color-mode (color_mode=)")
    height, width = size or (height, width)
    return int(height), int(width), int(channels or have)


class TfdsSource(Source):
    """One split of a tfds dataset prepared for random access: example ``i`` is read with
    ``tfds.data_source`` (encoded bytes) and decoded with ``tf.io.decode_image``."""

    def __init__(self, builder, name: str, split: str, image_shape, *, size, channels,
                 has_labels: bool):
        tfds = _import_tfds()
        try:
            self._data = builder.as_data_source(split, decoders={"image": tfds.decode.SkipDecoding()})
            count = len(self._data)
        except Exception as exc:
            raise DataError(f"cannot read split {split!r} of {name!r} ({_why(exc)})") from None
        self.origin = f"{name}[{split}]"
        self._count = count
        self.image_shape = image_shape
        self.dtype = np.dtype(np.uint8)
        self.size = size
        self.channels = channels
        self._has_labels = has_labels
        self._labels = None

    def __len__(self) -> int:
        return self._count

    @property
    def has_labels(self) -> bool:
        return self._has_labels

    @property
    def labels(self) -> np.ndarray | None:
        if not self._has_labels:
            return None
        if self._labels is None:
            labels = np.fromiter((int(self._data[i]["label"]) for i in range(self._count)),
                                 dtype=np.int64, count=self._count)
            labels.flags.writeable = False
            self._labels = labels
        return self._labels

    def reader(self):
        import tensorflow as tf

        data, shape = self._data, self.image_shape
        size, channels = self.size or shape[:2], self.channels or shape[2]

        def encoded(index):
            return np.asarray(data[int(index)]["image"], dtype=object)

        def read(index):
            raw = tf.numpy_function(encoded, [index], tf.string, stateful=False)
            image = tf.io.decode_image(tf.reshape(raw, []), channels=0, expand_animations=False)
            return tf.ensure_shape(conform(image, size, channels), shape)

        return read


class StreamedSplit(Split):
    """A split of a tfds dataset prepared as TFRecord, read in file order with the tf.data
    builder. Train/validation keep the deterministic carve (filtered by position); shuffling
    permutes blocks of at most 64 MiB of consecutive images (all of them when they fit)."""

    def __init__(self, builder, name: str, tfds_split: str, keep: np.ndarray | None, count: int,
                 split_name: str, image_shape, *, size, channels, has_labels: bool):
        self._builder = builder
        self._tfds_split = tfds_split
        self._keep = keep
        self._count = count
        self.name = split_name
        self.origin = f"{name}[{tfds_split}]"
        self._shape = image_shape
        self._size = size or image_shape[:2]
        self._channels = channels or image_shape[2]
        self._has_labels = has_labels

    def __len__(self) -> int:
        return self._count if self._keep is None else len(self._keep)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self._shape)

    def _examples(self, with_labels: bool, decode_images: bool = True):
        import tensorflow as tf

        tfds = _import_tfds()
        decoders = None if decode_images else {"image": tfds.decode.SkipDecoding()}
        try:
            ds = self._builder.as_dataset(split=self._tfds_split, shuffle_files=False, decoders=decoders)
        except Exception as exc:
            raise DataError(f"cannot read {self.origin} ({_why(exc)})") from None
        if with_labels and not self._has_labels:
            raise DataError(f"{self.origin} has no labels")
        if self._keep is not None:
            mask = np.zeros(self._count, dtype=bool)
            mask[self._keep] = True
            mask = tf.constant(mask)
            ds = ds.enumerate().filter(lambda i, _: tf.gather(mask, i)).map(lambda _, ex: ex)
        size, channels, shape = self._size, self._channels, self._shape

        def pick(example):
            image = example["image"]
            if decode_images:
                image = tf.ensure_shape(conform(image, size, channels), shape)
            return (image, example["label"]) if with_labels else image

        return ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE)

    def _block(self) -> int:
        per_image = int(np.prod(self._shape))
        return int(min(len(self), max(_MIN_SHUFFLE, _SHUFFLE_BYTES // per_image)))

    def _shuffled(self, examples, seed_pair):
        """``examples`` shuffled block by block (blocks of `_block` examples in file order), each
        block by a stateless permutation drawn from ``seed_pair`` and the block's number."""
        import tensorflow as tf

        def shuffle_block(number, block):
            count = tf.shape(tf.nest.flatten(block)[0], out_type=tf.int64)[0]
            block_seed = tf.stack([seed_pair[0], seed_pair[1] * 1_000_003 + number])
            order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=block_seed)
            shuffled = tf.nest.map_structure(lambda t: tf.gather(t, order), block)
            return tf.data.Dataset.from_tensor_slices(shuffled)

        return examples.batch(self._block()).enumerate().flat_map(shuffle_block)

    @property
    def has_labels(self) -> bool:
        return self._has_labels

    @property
    def labels(self) -> np.ndarray | None:
        if not self._has_labels:
            return None
        labels = [batch[1].numpy() for batch in self._examples(True, decode_images=False).batch(4096)]
        return np.concatenate(labels).astype(np.int64)

    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int | None = None,
                with_labels: bool = False, drop_remainder: bool = False):
        """Batches in file order, or shuffled within blocks of at most 64 MiB of images, anew on
        each pass (reproducible with ``seed``)."""
        import tensorflow as tf

        batch_size = check_batch_size(batch_size)
        examples = self._examples(with_labels)
        if not shuffle:
            ds = examples.batch(batch_size, drop_remainder=drop_remainder)
        else:

            def one_pass(draw):
                seed_pair = tf.stack([draw, tf.constant(0, tf.int64)])
                return self._shuffled(examples, seed_pair).batch(
                    batch_size, drop_remainder=drop_remainder)

            ds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1).flat_map(one_pass)
        return with_batch_count(ds, len(self), batch_size, drop_remainder)

    def _epoch_reader(self, batch_size: int, seed: int, group: int = 1):
        """Epoch ``e`` is shuffled (within blocks of at most 64 MiB of images) with permutations
        drawn from ``(seed, e)`` alone, so a resumed run sees the same batches."""
        import tensorflow as tf

        examples = self._examples(False)

        @graph_only
        def one_epoch(epoch):
            seed_pair = tf.stack([tf.constant(seed, tf.int64), epoch])
            return self._shuffled(examples, seed_pair).batch(batch_size)

        return one_epoch, lambda ds: ds, -(-len(self) // batch_size)


class TfdsData:
    """A tfds image dataset: `split(name, validation_fraction)` gives its splits."""

    def __init__(self, name: str, data_dir: str | None, *, size=None, channels=None):
        tfds = _import_tfds()
        self.name = tfds_name(name)
        self.origin = self.name
        self._builder = _prepared_builder(tfds, self.name, data_dir)
        feature_shape, self._has_labels = _check_features(self._builder, self.name)
        self.image_shape = _output_shape(self.name, feature_shape, size, channels)
        self._size, self._channels = size, channels
        self._random_access = _random_access(self._builder)

    @property
    def splits(self) -> tuple[str, ...]:
        """The named splits it has: the carved ``train`` and ``validation``, tfds's other
        splits (``test``, …) and ``all``."""
        own = [name for name in self._builder.info.splits if name not in ("train", "validation")]
        return ("train", "validation", *own, "all")

    def _count(self, tfds_split: str) -> int:
        try:
            return int(self._builder.info.splits[tfds_split].num_examples)
        except Exception:  # noqa: BLE001 - split infos are missing for some builders
            ds = self._builder.as_dataset(split=tfds_split, shuffle_files=False)
            count = int(ds.cardinality())
            return count if count >= 0 else int(ds.reduce(0, lambda n, _: n + 1))

    def split(self, split: str, validation_fraction: float = 0.1, *, carve: bool = True) -> Split:
        """``train`` / ``validation`` are carved from tfds's train split (the same carve as every
        source's); ``test``, ``all`` and any tfds split string (``"train[:10%]"``) are tfds's.
        With ``carve=False`` every name is tfds's own split."""
        if not isinstance(split, str) or not split.strip():
            raise DataError(f"split must be a non-empty string, got {split!r}")
        carved = carve and split in ("train", "validation")
        tfds_split = "train" if carved else split
        options = dict(size=self._size, channels=self._channels, has_labels=self._has_labels)
        try:
            if self._random_access:
                source = TfdsSource(self._builder, self.name, tfds_split, self.image_shape, **options)
                count = len(source)
            else:
                source, count = None, self._count(tfds_split)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"cannot read split {split!r} of {self.name!r} ({_why(exc)})") from None
        if count == 0:
            raise DataError(f"split {split!r} of {self.name!r} is empty")
        indices = None
        if carved:
            train_idx, val_idx = carve_indices(count, validation_fraction)
            indices = train_idx if split == "train" else val_idx
            if indices.size == 0:
                raise DataError(f"{split} split is empty: validation_fraction={validation_fraction} "
                                f"of {plural(count, 'image')}")
        if source is not None:
            return IndexedSplit(source, np.arange(count) if indices is None else indices, split)
        return StreamedSplit(self._builder, self.name, tfds_split, indices, count, split,
                             self.image_shape, **options)


def load_tfds(name: str, split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One tfds split (any tfds split string) as uint8 images ``(N, H, W, C)`` and labels.

    Downloads the dataset if it is not prepared yet; raises DataError when that is impossible.
    """
    chosen = TfdsData(name, None if data_dir is None else str(data_dir)).split(split, carve=False)
    return chosen.images(), chosen.labels


__all__ = ["DownloadUnavailable", "StreamedSplit", "TfdsData", "TfdsSource", "forget_offline",
           "load_tfds", "network_reachable", "offline_message", "tfds_name"]
