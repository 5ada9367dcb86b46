"""Which backend Keras runs on, read without importing Keras: keras_ae needs TensorFlow's."""

from __future__ import annotations

import json
import os
import sys

__all__ = ["keras_backend", "require_tensorflow"]


def keras_backend() -> str:
    """The backend Keras runs on (`keras.backend.backend()` once Keras is imported), else the one
    it will choose, as Keras chooses it: KERAS_BACKEND, then `backend` in keras.json, then
    tensorflow."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "backend"):
        return sys.modules["keras"].backend.backend()
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.join(os.path.expanduser(home), "keras.json")) as file:
            config = json.load(file)
    except (OSError, ValueError):
        return "tensorflow"
    return config.get("backend", "tensorflow") if isinstance(config, dict) else "tensorflow"


def require_tensorflow() -> None:
    """RuntimeError in one line unless Keras runs (or will run) on TensorFlow."""
    backend = keras_backend()
    if backend != "tensorflow":
        raise RuntimeError("keras_ae needs the TensorFlow backend of Keras "
                           f"(KERAS_BACKEND=tensorflow); Keras runs on {backend}")
