"""Reader for ``.npz`` archives of images and labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_ae.utils.text import first_line

from .errors import DataError
from .splits import Pools
from .validate import validate_images, validate_labels

# (train images, train labels, test images, test labels); test keys may be absent.
_LAYOUTS = (
    ("x_train", "y_train", "x_test", "y_test"),
    ("images", "labels", None, None),
    ("x", "y", None, None),
)


def _array(archive, path: Path, key: str) -> np.ndarray:
    """One array of the archive; object (pickled) arrays are refused, never unpickled."""
    try:
        return archive[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(f"{path} [{key}] holds Python objects (a pickled object array), which "
                            "are never loaded; save numeric arrays (uint8 images)") from None
        raise


def _pair(archive, path: Path, x_key: str, y_key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        x = validate_images(_array(archive, path, x_key))
    except DataError as exc:
        raise DataError(exc if str(exc).startswith(str(path)) else f"{path} [{x_key}]: {exc}") from None
    if y_key is None or y_key not in archive.files:
        return x, None
    try:
        return x, validate_labels(_array(archive, path, y_key), len(x))
    except DataError as exc:
        raise DataError(exc if str(exc).startswith(str(path)) else f"{path} [{y_key}]: {exc}") from None


def read_npz(path: str | os.PathLike) -> Pools:
    """Read an ``.npz`` with keys x_train/y_train/x_test/y_test, images/labels or x/y."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"npz file not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile and NumPy raise many kinds for a bad file
        if "allow_pickle" in str(exc):
            raise DataError(f"{path} is not an .npz archive (neither a zip file of arrays nor an .npy file)") from None
        raise DataError(f"cannot read npz file {path} ({type(exc).__name__}: {first_line(exc, 120)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array, expected an .npz archive with named arrays")
    with archive:
        try:
            for x_key, y_key, xt_key, yt_key in _LAYOUTS:
                if x_key not in archive.files:
                    continue
                train_x, train_y = _pair(archive, path, x_key, y_key)
                if xt_key is not None and xt_key in archive.files:
                    test_x, test_y = _pair(archive, path, xt_key, yt_key)
                    return Pools(str(path), train_x, train_y, test_x, test_y)
                return Pools(
                    str(path),
                    train_x,
                    train_y,
                    no_test=f"{path} holds a single pool ('{x_key}'), not a test set; use split 'validation'",
                )
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged member: zlib, zipfile, NumPy errors
            raise DataError(f"corrupt npz file {path} ({type(exc).__name__}: {first_line(exc, 120)})") from None
    keys = ", ".join(archive.files) or "none"
    raise DataError(
        f"{path} has no image arrays: expected keys x_train/y_train/x_test/y_test, images/labels or x/y, found {keys}"
    )
