"""The input contract of keras_ae's models: images as float32 in [0, 1] or uint8 in [0, 255].

`as_image_tensor` converts one batch (uint8 divided by 255, floats cast) and checks its dtype,
shape and, where values are known (eagerly), its pixels. Batches whose values are known only
when a compiled step runs (tf.data, PyDataset) are checked as they are read: `checked_input`
wraps them, `assert_pixels` is the graph op and `pixel_error` turns its failure into the
DataError an array with the same pixels gets.
"""

from __future__ import annotations

import re

import keras
import numpy as np
from keras import ops

from keras_ae.data.errors import DataError
from keras_ae.data.validate import check_pixel_values, pixel_value_problem

__all__ = ["CheckedBatches", "as_image_tensor", "as_tensor", "assert_pixels", "check_image_shape",
           "checked_input", "concrete", "float32", "is_float", "pixel_error"]


def float32(x):
    return ops.cast(x, "float32")


def concrete(x) -> bool:
    """Whether `x` holds values now: an eager tensor or array, not a symbolic one."""
    import tensorflow as tf

    return not isinstance(x, keras.KerasTensor) and tf.executing_eagerly() and x is not None


def is_float(x) -> bool:
    return "float" in keras.backend.standardize_dtype(x.dtype)


def check_image_shape(shape: tuple, expected: tuple[int, ...], owner: str) -> None:
    """ValueError unless `shape` is a batch of images of shape `expected` (None dims pass)."""
    if len(shape) != 4:
        raise ValueError(f"model {owner!r} takes a batch of images, shape (batch, "
                         f"{', '.join(map(str, expected))}), got an array of shape {shape}")
    if any(d is not None and d != e for d, e in zip(shape[1:], expected)):
        raise ValueError(f"model {owner!r} takes images of shape {expected}, got images "
                         f"of shape {shape[1:]}")


def as_tensor(x, takes: str):
    """`x` as a tensor (a symbolic KerasTensor as it is), or a ValueError "`takes` as an array,
    got a TYPE that is not one"."""
    if isinstance(x, keras.KerasTensor):
        return x
    try:
        return ops.convert_to_tensor(x)
    except (ValueError, TypeError):
        raise ValueError(f"{takes} as an array, got a {type(x).__name__} that is not one "
                         "(ragged?)") from None


def as_image_tensor(x, expected: tuple[int, ...], owner: str):
    """`x` as a float32 image tensor of shape (batch, *expected): uint8 is divided by 255,
    floats are cast; another dtype, rank or image shape is a ValueError naming it (`owner`, the
    model's name), and so are, where values are known (eagerly), an empty batch and float
    pixels that are NaN, infinite or outside [0, 1] (a DataError)."""
    x = as_tensor(x, f"model {owner!r} takes images")
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype == "uint8":
        x = float32(x) / 255.0
    elif dtype == "bool" or "float" in dtype:
        x = float32(x)
    else:
        raise ValueError(f"model {owner!r} takes images as float32 in [0, 1] or uint8 in "
                         f"[0, 255], got dtype {dtype}")
    shape = tuple(x.shape)
    check_image_shape(shape, expected, owner)
    if concrete(x):  # values are checked where they are known (not while tracing)
        if shape[0] == 0:
            raise ValueError(f"model {owner!r} got an empty batch (shape {shape})")
        if dtype != "uint8":
            check_pixel_values(np.asarray(x))
    return x


_PIXEL_CHECK = "keras_ae pixel check"
_PIXEL_STATS = re.compile(re.escape(_PIXEL_CHECK) + r"\] " + r" ".join([r"\[([^\]]*)\]"] * 5))


def assert_pixels(x):
    """A graph op that fails (InvalidArgumentError carrying the pixels' statistics) unless the
    float images `x` are finite and in [0, 1]: the range check of batches whose values are known
    only when the compiled step runs (tf.data, PyDataset). XLA drops it (`checked_input`)."""
    import tensorflow as tf

    x = tf.cast(x, "float32")
    size = tf.size(x)
    nonfinite = size - tf.math.count_nonzero(tf.math.is_finite(x), dtype=tf.int32)
    nans = tf.math.count_nonzero(tf.math.is_nan(x), dtype=tf.int32)
    lo, hi = tf.reduce_min(x), tf.reduce_max(x)
    ok = tf.logical_or(size == 0, (nonfinite == 0) & (lo >= 0.0) & (hi <= 1.0))
    return tf.debugging.Assert(ok, [_PIXEL_CHECK, nans, nonfinite, size, lo, hi])


def _checked_dataset(dataset):
    """`dataset` with the float images of each element range-checked as it is read, outside
    the compiled step (where XLA, which keras_ae uses for dense networks, keeps no assert)."""
    import tensorflow as tf

    def check(t):
        if isinstance(t, tf.Tensor) and t.dtype.is_floating and t.shape.rank == 4:
            with tf.control_dependencies([assert_pixels(t)]):
                return tf.identity(t)
        return t

    return dataset.map(lambda *e: tf.nest.map_structure(check, e if len(e) > 1 else e[0]))


def _check_batch(batch) -> None:
    """Check the float images of one batch a PyDataset gives (DataError naming the problem)."""
    for value in batch if isinstance(batch, (tuple, list)) else (batch,):
        if isinstance(value, np.ndarray) and value.ndim == 4 and value.dtype.kind == "f":
            check_pixel_values(value)


class CheckedBatches(keras.utils.PyDataset):
    """A user's PyDataset, each batch range-checked as it is read (outside the compiled step,
    where XLA keeps no assert)."""

    def __init__(self, batches: keras.utils.PyDataset):
        super().__init__(workers=batches.workers, use_multiprocessing=batches.use_multiprocessing,
                         max_queue_size=batches.max_queue_size)
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def num_batches(self):
        return self.batches.num_batches

    def __getitem__(self, index):
        batch = self.batches[index]
        _check_batch(batch)
        return batch

    def on_epoch_begin(self) -> None:
        self.batches.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()


def checked_input(data):
    """A tf.data dataset or PyDataset that checks its pixel values as it is read; other inputs
    (arrays, checked up front) as they are."""
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return _checked_dataset(data)
    return CheckedBatches(data) if isinstance(data, keras.utils.PyDataset) else data


def pixel_error(err: Exception) -> DataError | None:
    """The DataError that a failed `assert_pixels` (or a batch check raised inside the pipeline
    that reads a PyDataset) stands for, or None for another error."""
    found = _PIXEL_STATS.search(str(err))
    if found is None:
        raised = re.search(r"DataError: ([^\n]+)", str(err))
        return None if raised is None else DataError(raised.group(1).strip())
    nans, nonfinite, size = (int(v) for v in found.groups()[:3])
    lo, hi = (float(v) for v in found.groups()[3:])
    return DataError(pixel_value_problem(nans, nonfinite, size, lo, hi) or "bad pixel values")
