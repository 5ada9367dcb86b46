"""Start TensorFlow without the C++ start-up chatter a command-line user cannot act on."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _muted() -> contextlib.AbstractContextManager:
    if os.environ.get("KERAS_AE_TF_LOGS") == "1":
        return contextlib.nullcontext()
    return _stderr_to_devnull()


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 muted (oneDNN and CUDA notes written by native
    code before logging is configured). Devices are not initialised, so a user can still
    configure them. Nothing is muted when TensorFlow is already imported or KERAS_AE_TF_LOGS=1."""
    if "tensorflow" in sys.modules:
        return
    with _muted():
        import tensorflow  # noqa: F401


def initialise_devices_quietly() -> None:
    """Initialise TensorFlow's devices with file descriptor 2 muted (for the command line, where
    the missing-driver notes of a CPU-only machine are noise)."""
    import_tensorflow_quietly()
    import tensorflow as tf

    with _muted():
        tf.config.list_logical_devices()
