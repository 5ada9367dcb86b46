"""Images in float32 batches, from an array or from a `Split` read from disk as it goes."""

from __future__ import annotations

import numpy as np

from keras_ae.data.sources import Split, reading_errors
from keras_ae.data.validate import as_float_images


def _batches(images: np.ndarray, batch_size: int):
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def in_batches(images: np.ndarray | Split, batch_size: int):
    """float32 batches of an array, or of a `keras_ae.data.Split` read from disk as it goes."""
    if not isinstance(images, Split):
        yield from _batches(as_float_images(images), batch_size)
        return
    with reading_errors():
        for batch in images.batches(batch_size):
            yield as_float_images(batch.numpy())
