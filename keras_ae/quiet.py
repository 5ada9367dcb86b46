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


def start_tensorflow_quietly() -> None:
    """Import TensorFlow and initialise its devices with file descriptor 2 muted.

    The messages muted are written by native code before logging is configured (oneDNN notes,
    missing CUDA drivers); Python errors raised meanwhile still propagate. Nothing is muted when
    TensorFlow is already imported or when KERAS_AE_TF_LOGS=1.
    """
    if "tensorflow" in sys.modules or os.environ.get("KERAS_AE_TF_LOGS") == "1":
        return
    with _stderr_to_devnull():
        import tensorflow as tf

        tf.config.list_logical_devices()
