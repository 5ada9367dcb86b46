"""Per-sample reconstruction errors and the reductions every objective's loss goes through.

Reductions follow Keras's own (`sum_over_batch_size`): a batch's loss is the sum of its
per-sample values times their sample weights, divided by the batch size. Under a distribution
strategy each replica's loss is divided by the number of replicas before the gradient, so the
summed gradients equal the single-device gradient of the global batch.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

RECONSTRUCTION_LOSSES = ("mse", "bce")
EPSILON = 1e-7


def _flat(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def per_sample_mse(x, x_hat):
    """Mean squared error over the pixels of each sample: shape (batch,)."""
    x, x_hat = ops.cast(x, "float32"), ops.cast(x_hat, "float32")
    return ops.mean(ops.square(_flat(x) - _flat(x_hat)), axis=-1)


def per_sample_bce(x, x_hat):
    """Mean binary cross-entropy over the pixels of each sample (x_hat are probabilities)."""
    x, x_hat = ops.cast(x, "float32"), ops.cast(x_hat, "float32")
    p = ops.clip(_flat(x_hat), EPSILON, 1 - EPSILON)
    x = _flat(x)
    return -ops.mean(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=-1)


def reconstruction_error(name: str) -> Callable:
    """The per-sample error function called `name` (`mse` or `bce`)."""
    if name == "mse":
        return per_sample_mse
    if name == "bce":
        return per_sample_bce
    raise ValueError(f"unknown reconstruction loss {name!r}; choose one of mse, bce")


def per_sample_keras_loss(loss) -> Callable:
    """A Keras loss (name, function or `keras.losses.Loss`) as a per-sample error: the loss's
    unreduced values averaged over every axis but the batch axis."""
    function = keras.losses.get(loss)
    if function is None:
        raise ValueError(f"unknown loss {loss!r}")
    unreduced = function.call if isinstance(function, keras.losses.Loss) else function

    def error(y, y_pred):
        values = ops.cast(unreduced(ops.cast(y, "float32"), ops.cast(y_pred, "float32")), "float32")
        return ops.mean(_flat(values), axis=-1) if len(values.shape) > 1 else values

    return error


def weighted_mean(values, sample_weight=None):
    """Keras's `sum_over_batch_size` of per-sample `values` (batch,): sum(values * weight) / batch."""
    values = ops.cast(values, "float32")
    if sample_weight is None:  # 0 for an empty batch (a replica's share of a short last batch)
        return ops.divide_no_nan(ops.sum(values), ops.cast(ops.shape(values)[0], "float32"))
    weight = ops.reshape(ops.cast(sample_weight, "float32"), ops.shape(values))
    return ops.divide_no_nan(ops.sum(values * weight), ops.cast(ops.shape(values)[0], "float32"))


def replicas_in_sync() -> int:
    """How many replicas compute one global batch together (1 outside a distribution strategy)."""
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_for_replicas(loss):
    """Divide a replica's loss by the number of replicas, as Keras's own losses do."""
    replicas = replicas_in_sync()
    return loss if replicas == 1 else loss * (1.0 / replicas)
