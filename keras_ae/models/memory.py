"""A memory of normal images and the distance of new images to their nearest ones.

`NeighbourMemory` is a Keras layer whose state comes from data through `adapt`, as Keras's
preprocessing layers (`keras.layers.Normalization`) get theirs: it remembers up to `size`
images as blurred, downsampled pixels, and its call gives each image's mean Euclidean
distance to its `neighbours` nearest remembered ones (the k-nearest-neighbour score of
one-class anomaly detection). The rows live in a non-trainable weight, so a saved model and its
SavedModel and TFLite exports carry them.

    memory = NeighbourMemory(size=6000, neighbours=5, blur=1.0)
    memory.adapt(normal_images)          # float32 (N, H, W, C) in [0, 1], or batches of them
    distances = memory(images)           # (batch,)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = ["GRID", "NeighbourMemory", "NotAdaptedError", "gaussian_kernel"]

GRID = 14
"""The remembered pixels: the blurred image averaged over cells, at most GRID x GRID of them."""


class NotAdaptedError(ValueError):
    """A memory (or a model holding one) was asked for distances before it saw any image."""


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 2-D Gaussian of standard deviation `sigma` pixels, radius ceil(3 sigma):
    float32 (2r + 1, 2r + 1); sigma 0 is the identity (a 1x1 kernel of 1)."""
    radius = math.ceil(3 * sigma)
    if radius == 0:
        return np.ones((1, 1), np.float32)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    kernel = np.outer(g, g)
    return (kernel / kernel.sum()).astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_ae")
class NeighbourMemory(keras.layers.Layer):
    """Remembered images (`adapt`) and each new image's mean distance to its `neighbours`
    nearest remembered ones (`call`: images (batch, H, W, C) float32 to (batch,)).

    Images are compared as their pixels blurred by a Gaussian of `blur` pixels and averaged over
    square cells so that at most `GRID` x `GRID` remain (28 x 28 images: 2 x 2 cells, 14 x 14
    values a channel). `adapt` keeps the first `size` images it is given; it computes in float32
    whatever the dtype policy.
    """

    def __init__(self, size: int = 6000, neighbours: int = 5, blur: float = 1.0,
                 **kwargs: Any) -> None:
        kwargs["dtype"] = "float32"  # distances of float32 pixels, under any policy
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"the memory size must be a positive number of images, got {size!r}")
        if isinstance(neighbours, bool) or not isinstance(neighbours, int) or not 1 <= neighbours <= size:
            raise ValueError(f"neighbours must be a whole number from 1 to the memory size "
                             f"({size}), got {neighbours!r}")
        if isinstance(blur, bool) or not isinstance(blur, (int, float)) or not 0 <= blur < math.inf:
            raise ValueError(f"blur must be a finite number of pixels >= 0, got {blur!r}")
        self.size, self.neighbours, self.blur = size, neighbours, float(blur)

    def build(self, input_shape) -> None:
        height, width, channels = (int(d) for d in input_shape[1:])
        self.cell = max(1, math.ceil(max(height, width) / GRID))
        self.width = -(-height // self.cell) * -(-width // self.cell) * channels
        kernel = gaussian_kernel(self.blur)[:, :, None, None]
        self._kernel = np.repeat(kernel, channels, axis=2)  # (k, k, channels, 1): per channel
        self.rows = self.add_weight(shape=(self.size, self.width), initializer="zeros",
                                    trainable=False, name="rows")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, name="count")

    def features(self, images):
        """The remembered form of float32 images (batch, H, W, C): (batch, width) float32."""
        x = ops.cast(images, "float32")
        if self._kernel.shape[0] > 1:
            x = ops.depthwise_conv(x, ops.convert_to_tensor(self._kernel), padding="same")
        if self.cell > 1:
            x = ops.average_pool(x, self.cell, strides=self.cell, padding="same")
        return ops.reshape(x, (ops.shape(x)[0], self.width))

    @property
    def remembered(self) -> int:
        """How many images the memory holds (read eagerly, even while a function is traced)."""
        import tensorflow as tf

        with tf.init_scope():
            return int(ops.convert_to_numpy(self.count))

    def adapt(self, images: np.ndarray | Iterable[Any]) -> int:
        """Remember the first `size` of `images`: an array (N, H, W, C) of float32 pixels in [0, 1]
        or an iterable of such batches (a tf.data.Dataset, read until the memory is full).
        Replaces what it held; returns how many it holds. Fewer images than `neighbours` is a
        ValueError (nothing changes)."""
        batches = [images] if isinstance(images, np.ndarray) else images
        kept, held = [], 0
        for batch in batches:
            batch = batch[: self.size - held]
            if not self.built:
                self.build((None, *tuple(batch.shape[1:])))
            for start in range(0, len(batch), 512):
                kept.append(ops.convert_to_numpy(self.features(batch[start:start + 512])))
            held += len(batch)
            if held >= self.size:
                break
        if held < self.neighbours:
            raise ValueError(f"a memory of {self.neighbours} nearest neighbours needs at least "
                             f"{self.neighbours} images, got {held}")
        rows = np.zeros((self.size, self.width), np.float32)
        rows[:held] = np.concatenate(kept)
        self.rows.assign(rows)
        self.count.assign(held)
        return held

    def call(self, images):
        f = self.features(images)
        rows = ops.convert_to_tensor(self.rows)
        squared = (ops.sum(ops.square(f), axis=1, keepdims=True) - 2.0 * ops.matmul(f, ops.transpose(rows))
                   + ops.sum(ops.square(rows), axis=1)[None, :])  # (batch, size)
        held = ops.arange(self.size, dtype="int32") < ops.convert_to_tensor(self.count)
        squared = ops.where(held[None, :], ops.maximum(squared, 0.0), np.float32(np.inf))
        nearest, _ = ops.top_k(-squared, self.neighbours, sorted=False)
        return ops.mean(ops.sqrt(-nearest), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "neighbours": self.neighbours,
                "blur": self.blur}
