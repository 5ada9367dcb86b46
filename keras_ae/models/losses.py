"""Per-sample reconstruction errors shared by training, evaluation and anomaly scores."""

from __future__ import annotations

from keras import ops

RECONSTRUCTION_LOSSES = ("mse", "bce")
EPSILON = 1e-7


def _flat(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def per_sample_mse(x, x_hat):
    """Mean squared error over the pixels of each sample: shape (batch,)."""
    return ops.mean(ops.square(_flat(x) - _flat(x_hat)), axis=-1)


def per_sample_bce(x, x_hat):
    """Mean binary cross-entropy over the pixels of each sample (x_hat are probabilities)."""
    p = ops.clip(_flat(x_hat), EPSILON, 1 - EPSILON)
    x = _flat(x)
    return -ops.mean(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=-1)


def reconstruction_error(name: str):
    """The per-sample error function called `name` (`mse` or `bce`)."""
    if name == "mse":
        return per_sample_mse
    if name == "bce":
        return per_sample_bce
    raise ValueError(f"unknown reconstruction loss {name!r}; choose one of mse, bce")
