"""Finding and loading local data: IDX folders, ``.npz`` files and in-memory arrays."""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from . import idx
from .errors import DataError
from .folder import has_images
from .arrays import read_npz
from .splits import Pools
from .validate import validate_images, validate_labels

logger = logging.getLogger(__name__)

_PATH_SUFFIXES = (".npz", ".gz", ".npy", ".zip")
_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)
_TFDS_NAME = re.compile(r"[a-z][a-z0-9_]*(/[\w.-]+)?(:[\w.*]+)?")  # name[/config][:version]


def folder_names(name: str) -> list[str]:
    """Folder names a dataset may live under, e.g. fashion_mnist -> fashion-mnist."""
    base = name.strip().lower()
    names = [base, base.replace("_", "-"), base.replace("-", "_")]
    return list(dict.fromkeys(names))


def looks_like_path(source: str) -> bool:
    """True when ``source`` is meant as a file system path rather than a dataset name: it
    starts like a path (``.``, ``~``, a separator), ends in a separator or a data file suffix,
    or holds a separator and is not a tensorflow-datasets name (``name/config:version``)."""
    return (
        source.startswith((".", "~", *_SEPARATORS))
        or source.endswith(_SEPARATORS)
        or source.lower().endswith(_PATH_SUFFIXES)
        or (any(sep in source for sep in _SEPARATORS) and not _TFDS_NAME.fullmatch(source))
    )


def _no_files(folder: Path, why: str = "") -> DataError:
    return DataError(f"no IDX or image files found in {folder}{why}")


def _usable(path: Path) -> Path:
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise DataError(f"cannot read folder {path}: permission denied")
        if idx.find_idx_files(path).empty and not has_images(path):
            raise _no_files(path)
        return path
    if path.suffix.lower() in (".npz", ".zip"):
        return path
    raise DataError(f"unsupported data file {path}: expected an .npz file or a folder of IDX or image files")


def _prepared_for_tfds(root: Path, source: str) -> bool:
    """Whether ``root`` is a tensorflow-datasets data dir holding ``source``."""
    folder = root / source.strip().lower().replace("-", "_")
    return folder.is_dir() and any(folder.rglob("dataset_info.json"))


def resolve_local(source: str | os.PathLike, data_dir: str | os.PathLike | None) -> Path | None:
    """Return the local folder or .npz file for ``source``, or ``None`` to use tfds.

    ``source`` may be an existing path (an IDX folder, an image folder or an .npz file), or a
    dataset name looked up in ``data_dir``: ``data_dir`` itself when it is an .npz file or holds
    IDX files, ``data_dir/<name>/`` (``fashion_mnist`` also as ``fashion-mnist``) with IDX or image
    files, ``data_dir/<name>.npz``, a tensorflow-datasets data dir that holds the dataset, or
    ``data_dir`` itself when it holds image files. Otherwise DataError: "no IDX or image files
    found in DIR" (nothing is downloaded).
    """
    path = Path(source).expanduser()
    if path.exists():
        return _usable(path)
    if isinstance(source, os.PathLike) or looks_like_path(str(source)):
        what = "folder" if str(source).endswith(_SEPARATORS) else "file or folder"
        raise DataError(f"data source not found: {path} (no such {what})")
    if data_dir is None:
        return None
    root = Path(data_dir).expanduser()
    if root.is_file():
        return _usable(root)
    if not root.is_dir():
        raise _no_files(root, " (no such folder)")
    names = folder_names(str(source))
    for folder in [root] + [root / n for n in names]:
        if folder.is_dir() and not idx.find_idx_files(folder).empty:
            return folder
    for n in names:
        if (root / f"{n}.npz").is_file():
            return root / f"{n}.npz"
    for folder in [root / n for n in names]:
        if folder.is_dir() and has_images(folder):
            return folder
    if _prepared_for_tfds(root, str(source)):
        return None
    if has_images(root):
        return root
    raise _no_files(root)


def _signature(path: Path) -> tuple:
    files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    return tuple((f.name, st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])


def load_local_pools(path: Path) -> Pools:
    """Load the pools of a local folder/npz; repeated loads come from a cache."""
    resolved = path.resolve()
    return _cached_pools(str(resolved), _signature(resolved))


def _read_only(pools: Pools) -> Pools:
    for arr in (pools.train_x, pools.train_y, pools.test_x, pools.test_y):
        if arr is not None:
            arr.flags.writeable = False
    return pools


@functools.lru_cache(maxsize=8)
def _cached_pools(path: str, signature: tuple) -> Pools:
    del signature  # part of the cache key only: changed files are read again
    p = Path(path)
    pools = _read_idx_folder(p) if p.is_dir() else read_npz(p)
    return _read_only(pools)


def clear_local_cache() -> None:
    """Forget cached local pools."""
    _cached_pools.cache_clear()


def read_idx_pair(images: Path, labels: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    x = validate_images(idx.read_idx_images(images))
    if labels is None:
        return x, None
    y = idx.read_idx_labels(labels)
    if len(y) != len(x):
        raise DataError(f"{labels} has {len(y)} labels but {images} has {len(x)} images")
    return x, y.astype(np.int64)


def _read_idx_folder(folder: Path) -> Pools:
    files = idx.find_idx_files(folder)
    if files.empty:
        raise DataError(f"no IDX files in {folder}")
    test = None if files.test_images is None else read_idx_pair(files.test_images, files.test_labels)
    if files.train_images is not None:
        train_x, train_y = read_idx_pair(files.train_images, files.train_labels)
        if test is None:
            missing = f"{folder} has no test files (t10k-images-idx3-ubyte[.gz])"
            return Pools(str(folder), train_x, train_y, no_test=missing)
        return Pools(str(folder), train_x, train_y, test[0], test[1])
    logger.warning(
        "%s has no train files; its test files (t10k-*) are used as the train/validation pool",
        folder,
    )
    return Pools(
        str(folder),
        test[0],
        test[1],
        no_test=(
            f"{folder} has only the test files (t10k-*), which are used as the "
            "train/validation pool; evaluate on split 'validation' instead of 'test'"
        ),
    )


def array_pools(source: Any) -> Pools:
    """Pools for in-memory images, or an ``(images, labels)`` pair."""
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise DataError(f"expected an (images, labels) pair, got a sequence of length {len(source)}")
        images, labels = source
    else:
        images, labels = source, None
    x = validate_images(images)
    y = None if labels is None else validate_labels(labels, len(x))
    return Pools(
        "in-memory arrays",
        x,
        y,
        no_test="in-memory arrays are a single pool, not a test set; use split 'validation'",
    )
