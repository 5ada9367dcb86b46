"""Start TensorFlow without the C++ start-up chatter a command-line user cannot act on, keep
library log lines off the command line's stderr, and keep the command line's stdout for results.
Standard library only: `import keras_ae` imports this module."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
from typing import TextIO


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
    """For the duration of a command, keep stderr for notes and one-line errors: absl's,
    TensorFlow's and tensorflow-datasets' Python loggers show errors only, and keras_ae's notes
    are written to stderr as `keras-ae: note: ...`. Everything is restored afterwards."""
    names = ("absl", "tensorflow", "tensorflow_datasets")
    levels = {name: logging.getLogger(name).level for name in names}
    logger = logging.getLogger("keras_ae")
    handler, propagate = _StderrHandler(), logger.propagate
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


class _StderrHandler(logging.StreamHandler):
    """A log handler writing to whatever `sys.stderr` is when a record is emitted."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property decides
        pass


_results: list[TextIO] = []  # the real stdout of each command running, innermost last


def results_stream() -> TextIO:
    """Where a command prints its results: the real stdout while `command_streams` lends
    sys.stdout to progress, else sys.stdout."""
    return _results[-1] if _results else sys.stdout


@contextlib.contextmanager
def command_streams():
    """For the duration of a command, stdout carries its results only: sys.stdout (where Keras's
    progress bars and other libraries' prints go) is stderr, and `results_stream()` is the real
    stdout. When stderr is not a terminal (a log file, a pipe), sys.stdout and sys.stderr are
    `PlainLines` over it: no ANSI escapes, no carriage returns."""
    stdout, stderr = sys.stdout, sys.stderr
    progress = stderr if _is_terminal(stderr) else PlainLines(stderr)
    _results.append(stdout)
    sys.stdout = sys.stderr = progress
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        _results.pop()
        if isinstance(progress, PlainLines):
            progress.end_line()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class PlainLines(io.TextIOBase):
    """A text stream writing to `stream` without ANSI escape sequences or backspaces, where a
    line rewritten in place with carriage returns (a progress bar) is written once, in its last
    state, when it ends."""

    _CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x08")

    def __init__(self, stream: TextIO):
        super().__init__()
        self._stream = stream
        self._line = ""

    def write(self, text: str) -> int:
        plain = self._CONTROL.sub("", text).replace("\r\n", "\n")
        *ended, rest = (self._line + plain).split("\n")
        self._line = rest.rsplit("\r", 1)[-1]
        for line in ended:
            self._stream.write(line.rsplit("\r", 1)[-1].rstrip() + "\n")
        if ended:
            self._stream.flush()
        return len(text)

    def end_line(self) -> None:
        """Write the line begun and not ended (a progress bar stopped midway), if any."""
        if self._line.strip():
            self.write("\n")
        self._line = ""

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")


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
