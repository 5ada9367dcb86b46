"""Mixed precision: which policy fits this machine, and building a model under a policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras


def mixed_precision_policy() -> str:
    """`mixed_float16` where a GPU is visible (its tensor cores need float16), else
    `mixed_bfloat16` (CPUs and TPUs)."""
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Layers created inside use the dtype policy `name`; the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
