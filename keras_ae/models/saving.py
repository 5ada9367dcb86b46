"""Saving and loading models as `.keras` files, atomically."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from keras_ae.utils.backend import require_tensorflow

require_tensorflow()  # before Keras is imported

import keras  # noqa: E402

from keras_ae.models.base import BaseAutoencoder
from keras_ae.utils.io import atomic_path
from keras_ae.utils.text import first_line

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
    """Load a keras_ae model from a `.keras` file or a run folder (safe mode, no Lambda layers).

    A file that is not a `.keras` archive, or holds a model that is not a keras_ae autoencoder
    (a plain Keras model), is a ValueError naming the file.
    """
    if str(path).endswith((".h5", ".hdf5")):
        raise ValueError(f"{path} is not a .keras model file: legacy HDF5 (.h5) is not "
                         "supported; keras_ae models are saved and loaded as .keras files")
    path = resolve_model_path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path} is not a .keras model file (expected a .keras file or a run folder)")
    if not zipfile.is_zipfile(path):
        size = path.stat().st_size
        what = "an empty file" if size == 0 else f"a {size}-byte file that is not a zip archive"
        raise ValueError(f"{path} is not a .keras model file: it is {what}")
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds for a damaged archive
        raise ValueError(f"cannot load model {path}: {first_line(err)}") from err
    if not isinstance(model, BaseAutoencoder):
        raise ValueError(f"{path} holds a plain Keras model ({type(model).__name__}), not a "
                         "keras_ae autoencoder: train one with keras-ae train or keras_ae.build")
    return model
