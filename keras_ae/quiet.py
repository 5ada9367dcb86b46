"""Start TensorFlow without the C++ start-up chatter a command-line user cannot act on, and keep
library log lines off the command line's stderr."""

from __future__ import annotations

import contextlib
import logging
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


def native_logs_muted() -> contextlib.AbstractContextManager:
    """A context that mutes file descriptor 2 (TensorFlow's, LiteRT's and the converter's
    C++ log lines, which a user cannot act on), unless KERAS_AE_TF_LOGS=1."""
    if os.environ.get("KERAS_AE_TF_LOGS") == "1":
        return contextlib.nullcontext()
    return _stderr_to_devnull()


@contextlib.contextmanager
def quiet_python_logs():
    """For the duration of a command, keep stderr for its one-line errors: absl's, TensorFlow's
    and tensorflow-datasets' Python loggers show errors only, and keras_ae's notes go to stdout.
    Everything is restored afterwards."""
    names = ("absl", "tensorflow", "tensorflow_datasets")
    levels = {name: logging.getLogger(name).level for name in names}
    logger = logging.getLogger("keras_ae")
    handler, propagate = _StdoutHandler(), logger.propagate
    handler.setFormatter(logging.Formatter("keras-ae: note: %(message)s"))
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class _StdoutHandler(logging.StreamHandler):
    """A log handler writing to whatever `sys.stdout` is when a record is emitted."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property decides
        pass


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 muted (oneDNN and CUDA notes written by native
    code before logging is configured). Devices are not initialised, so a user can still
    configure them. Nothing is muted when TensorFlow is already imported or KERAS_AE_TF_LOGS=1."""
    if "tensorflow" in sys.modules:
        return
    with native_logs_muted():
        import tensorflow  # noqa: F401


def initialise_devices_quietly() -> None:
    """Initialise TensorFlow's devices with file descriptor 2 muted (for the command line, where
    the missing-driver notes of a CPU-only machine are noise)."""
    import_tensorflow_quietly()
    import tensorflow as tf

    with native_logs_muted():
        tf.config.list_logical_devices()
