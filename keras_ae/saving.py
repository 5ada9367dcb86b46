"""Saving and loading models as `.keras` files, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from keras_ae.io import atomic_path

MODEL_FILE = "model.keras"


def save_model(model: keras.Model, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save `model` to a `.keras` file without ever leaving a half-written file at `path`."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files end in .keras, got {path}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        model.save(tmp)
    return path


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A `.keras` file, or a run folder holding `model.keras`."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no model at {path} (expected a .keras file or a run folder)")
    return path


def load_model(path: str | os.PathLike, *, compile: bool = True) -> keras.Model:
    """Load a keras_ae model from a `.keras` file or a run folder (safe mode, no Lambda layers)."""
    path = resolve_model_path(path)
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (ValueError, OSError, KeyError) as err:
        raise ValueError(f"cannot load model {path}: {str(err).splitlines()[0]}") from err
