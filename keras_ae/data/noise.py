"""Input corruption for denoising autoencoders."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from .errors import DataError

NOISE_KINDS = ("gaussian", "masking", "salt_pepper")
_EXAMPLE = "e.g. 'gaussian:0.5', 'masking:0.3' or 'salt_pepper:0.1'"


@dataclass(frozen=True)
class Noise:
    """A corruption: ``gaussian`` (stddev), ``masking`` or ``salt_pepper`` (pixel fraction)."""

    kind: str
    amount: float

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise DataError(f"unknown noise kind {self.kind!r}; choose from {', '.join(NOISE_KINDS)} ({_EXAMPLE})")
        try:
            amount = float(self.amount)
        except (TypeError, ValueError):
            raise DataError(f"noise amount must be a number, got {self.amount!r}") from None
        if self.kind == "gaussian":
            if not (math.isfinite(amount) and amount > 0):
                raise DataError(f"gaussian noise stddev must be > 0, got {self.amount!r}")
        elif not 0 < amount <= 1:
            raise DataError(f"{self.kind} noise fraction must be in (0, 1], got {self.amount!r}")
        object.__setattr__(self, "amount", amount)

    def __str__(self) -> str:
        return f"{self.kind}:{self.amount!r}"  # repr: the spec parses back to the same float

    def apply(self, x: Any, seed: Any = None) -> tf.Tensor:
        """Corrupt a float image tensor in [0, 1] (batched ``(B, H, W, C)`` or single).

        ``seed`` is an int or a shape-[2] integer tensor for stateless random
        ops (same seed, same noise); ``None`` draws fresh noise.
        """
        x = tf.convert_to_tensor(x, dtype=tf.float32)
        pair = _seed_pair(seed)
        # Philox, what TensorFlow picks outside XLA; XLA's own pick (ThreeFry) is ~20x slower
        if self.kind == "gaussian":
            noise = tf.random.stateless_normal(tf.shape(x), seed=pair, stddev=self.amount,
                                               alg="philox")
            return tf.clip_by_value(x + noise, 0.0, 1.0)
        pixels = tf.concat([tf.shape(x)[:-1], [1]], axis=0)
        u = tf.random.stateless_uniform(pixels, seed=pair, alg="philox")
        if self.kind == "masking":
            return x * tf.cast(u >= self.amount, tf.float32)
        salt = u < self.amount / 2
        pepper = tf.logical_and(u >= self.amount / 2, u < self.amount)
        x = tf.where(salt, tf.ones_like(x), x)
        return tf.where(pepper, tf.zeros_like(x), x)


def _seed_pair(seed: Any) -> tf.Tensor:
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    if isinstance(seed, int):
        return tf.constant([seed, 0], dtype=tf.int64)
    pair = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.reshape(pair, [2])


def parse_noise(spec: str | Noise) -> Noise:
    """Parse ``"kind:amount"`` (``gaussian:0.5``, ``masking:0.3``, ``salt_pepper:0.1``)."""
    if isinstance(spec, Noise):
        return spec
    if not isinstance(spec, str):
        raise DataError(f"noise must be a string like {_EXAMPLE}, got {type(spec).__name__}")
    kind, sep, amount = spec.strip().partition(":")
    kind = kind.strip().lower().replace("-", "_")
    if not sep or not amount.strip():
        raise DataError(f"noise spec {spec!r} needs an amount; {_EXAMPLE}; kinds: {', '.join(NOISE_KINDS)}")
    try:
        value = float(amount)
    except ValueError:
        raise DataError(f"noise amount in {spec!r} is not a number; {_EXAMPLE}") from None
    return Noise(kind, value)
