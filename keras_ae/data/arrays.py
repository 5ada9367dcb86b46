"""Readers of NumPy files: ``.npz`` archives (training pools, one batch of images, labelled
images) and ``.npy`` arrays. Every problem is a :class:`DataError` naming the file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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
IMAGE_KEYS = ("images", "x", "x_test", "x_train")
"""The keys of an archive's batch of images for a model, in the order they are looked for."""


@contextlib.contextmanager
def open_npz(path: str | os.PathLike) -> Iterator[np.lib.npyio.NpzFile]:
    """The open archive of an ``.npz`` file (closed on exit); a missing file, a file that is not
    a zip of arrays and a damaged member are each one `DataError`."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"npz file not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile and NumPy raise many kinds for a bad file
        if "allow_pickle" in str(exc):
            raise DataError(f"{path} is not an .npz archive (neither a zip file of arrays nor "
                            "an .npy file)") from None
        raise DataError(f"cannot read npz file {path} ({type(exc).__name__}: "
                        f"{first_line(exc, 120)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array, expected an .npz archive with named arrays")
    with archive:
        try:
            yield archive
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged member: zlib, zipfile, NumPy errors
            raise DataError(f"corrupt npz file {path} ({type(exc).__name__}: "
                            f"{first_line(exc, 120)})") from None


def member(archive: np.lib.npyio.NpzFile, path: str | os.PathLike, key: str) -> np.ndarray:
    """One array of an open archive; object (pickled) arrays are refused, never unpickled."""
    try:
        return archive[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(f"{path} [{key}] holds Python objects (a pickled object array), which "
                            "are never loaded; save numeric arrays (uint8 images)") from None
        raise


def _pair(archive, path: Path, x_key: str, y_key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        x = validate_images(member(archive, path, x_key))
    except DataError as exc:
        raise DataError(exc if str(exc).startswith(str(path)) else f"{path} [{x_key}]: {exc}") from None
    if y_key is None or y_key not in archive.files:
        return x, None
    try:
        return x, validate_labels(member(archive, path, y_key), len(x))
    except DataError as exc:
        raise DataError(exc if str(exc).startswith(str(path)) else f"{path} [{y_key}]: {exc}") from None


def read_npz(path: str | os.PathLike) -> Pools:
    """The training pools of an ``.npz`` with keys x_train/y_train/x_test/y_test, images/labels
    or x/y."""
    path = Path(path)
    with open_npz(path) as archive:
        for x_key, y_key, xt_key, yt_key in _LAYOUTS:
            if x_key not in archive.files:
                continue
            train_x, train_y = _pair(archive, path, x_key, y_key)
            if xt_key is not None and xt_key in archive.files:
                test_x, test_y = _pair(archive, path, xt_key, yt_key)
                return Pools(str(path), train_x, train_y, test_x, test_y)
            return Pools(str(path), train_x, train_y,
                         no_test=f"{path} holds a single pool ('{x_key}'), not a test set; use "
                                 "split 'validation'")
        keys = ", ".join(archive.files) or "none"
    raise DataError(f"{path} has no image arrays: expected keys x_train/y_train/x_test/y_test, "
                    f"images/labels or x/y, found {keys}")


def _non_empty(array: np.ndarray, path: Path) -> np.ndarray:
    if array.size == 0:
        raise DataError(f"{path}: the array is empty (shape {array.shape})")
    return array


def read_npz_images(path: str | os.PathLike) -> np.ndarray:
    """The batch of images of an ``.npz`` for a model: its 'images', 'x', 'x_test' or 'x_train'
    array (the first present), or its only array; as stored (not yet checked as pixels)."""
    path = Path(path)
    with open_npz(path) as archive:
        keys = list(archive.files)
        key = next((k for k in IMAGE_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            raise DataError(f"{path}: no images array (expected one of {', '.join(IMAGE_KEYS)} "
                            f"or a single array; found {', '.join(keys) or 'none'})")
        return _non_empty(member(archive, path, key), path)


def read_npz_arrays(path: str | os.PathLike, keys: tuple[str, ...], what: str) -> tuple[np.ndarray, ...]:
    """The arrays `keys` of an ``.npz`` (`what` names the file's purpose in the message when one
    is missing)."""
    path = Path(path)
    with open_npz(path) as archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise DataError(f"{path} has no {' and no '.join(missing)} array (it has "
                            f"{', '.join(archive.files) or 'none'}); {what}")
        return tuple(member(archive, path, key) for key in keys)


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """The non-empty array of an ``.npy`` file; pickled object arrays are refused."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(len(np.lib.format.MAGIC_PREFIX))
    except FileNotFoundError:
        raise DataError(f"npy file not found: {path}") from None
    if magic != np.lib.format.MAGIC_PREFIX:
        raise DataError(f"{path}: not a NumPy .npy file (it does not start with the .npy "
                        "header); save arrays with numpy.save")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - NumPy raises many kinds for a damaged header
        if "allow_pickle" in str(err):
            raise DataError(f"{path}: holds Python objects (a pickled object array), which "
                            "are never loaded; save a numeric array") from None
        raise DataError(f"{path}: cannot read array: {first_line(err)}") from None
    return _non_empty(array, path)
