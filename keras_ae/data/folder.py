"""Folders of image files as a data source, with the conventions of
``keras.utils.image_dataset_from_directory``.

A folder with class subfolders gives one label per subfolder (sorted names; images anywhere
below a class folder belong to it); a flat folder of images has no labels. Files ending in
.png, .jpg, .jpeg, .bmp or .gif are read. Headers are read once with Pillow (sizes, channels,
PNG checksums); pixels are decoded only when a pipeline reads them.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_ae.utils.text import plural

from .errors import DataError
from .images import (
    ImageHeader,
    conform,
    decode_file,
    format_size,
    is_image_file,
    read_header,
)
from .sources import Source

logger = logging.getLogger(__name__)

_SCAN_PROGRESS_MIN = 5_000  # folders with at least this many images show progress while scanned


@dataclass(frozen=True)
class ImageFiles:
    """The image files of a folder in reading order, their labels and the class names."""

    root: Path
    paths: tuple[str, ...]
    labels: np.ndarray | None
    class_names: tuple[str, ...]


def files_below(folder: str | os.PathLike,
                keep: Callable[[str], bool] = is_image_file) -> list[str]:
    """The files anywhere below ``folder`` whose names ``keep`` accepts (default: image files),
    in sorted order, hidden folders left out (the command line's folders of inputs too)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if keep(f))
    return found


def has_images(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds an image file, directly or in a subfolder."""
    for _, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(is_image_file(f) for f in filenames):
            return True
    return False


def list_images(folder: str | os.PathLike) -> ImageFiles:
    """The image files of ``folder``: labelled by class subfolder, or unlabelled when flat."""
    root = Path(folder)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as err:
        raise DataError(f"cannot read folder {root}: {err.strerror or err}") from None
    classes = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    loose = [e.path for e in entries if e.is_file() and is_image_file(e.name)]
    per_class = [files_below(root / name) for name in classes]
    if any(per_class):
        if loose:
            logger.warning("%d image files directly in %s are left out: with class subfolders, "
                           "only the images inside them are read", len(loose), root)
        paths = [p for files in per_class for p in files]
        labels = np.concatenate([np.full(len(files), k, np.int64) for k, files in enumerate(per_class)])
        return ImageFiles(root, tuple(paths), labels, tuple(classes))
    if loose:
        return ImageFiles(root, tuple(loose), None, ())
    raise DataError(f"no IDX or image files found in {root}")


def _header_or_error(path: str) -> ImageHeader | str:
    try:
        return read_header(path)
    except DataError as err:
        return str(err)


def scan_headers(paths: tuple[str, ...]) -> list[ImageHeader | str]:
    """The header of every file (or the error message for a file that cannot be read)."""
    count = len(paths)
    progress = None
    if count >= _SCAN_PROGRESS_MIN:
        import keras

        print(f"checking the headers of {count} images")
        progress = keras.utils.Progbar(count, unit_name="image")
    results: list[ImageHeader | str] = []
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        for result in pool.map(_header_or_error, paths, chunksize=64):
            results.append(result)
            if progress is not None and (len(results) % 1000 == 0 or len(results) == count):
                progress.update(len(results))
    return results


def _undecodable(paths: np.ndarray) -> set[int]:
    """Positions of the files TensorFlow cannot decode (a full decoding pass, in parallel)."""
    import tensorflow as tf

    count = len(paths)
    tensor = tf.constant(paths)
    progress = None
    if count >= _SCAN_PROGRESS_MIN:
        import keras

        print(f"decoding {count} images to find damaged files")
        progress = keras.utils.Progbar(count, unit_name="image")

    def decoded(i):
        image = decode_file(tf.gather(tensor, i))
        return i, tf.shape(image)[0]

    good = set()
    ds = tf.data.Dataset.range(count).map(decoded, num_parallel_calls=tf.data.AUTOTUNE)
    for batch, _ in ds.ignore_errors().batch(1024):
        good.update(batch.numpy().tolist())
        if progress is not None:
            progress.update(max(good) + 1)
    return set(range(count)) - good


class FolderSource(Source):
    """The images of a folder, decoded from disk when read (``tf.io.decode_image``), converted
    to ``channels`` and resized to ``size`` (the images' own size when they all agree)."""

    fallible = True

    def __init__(self, files: ImageFiles, headers: list[ImageHeader], *,
                 size: tuple[int, int] | None, channels: int | None):
        self.files = files
        self.origin = str(files.root)
        self.paths = np.asarray(files.paths, dtype=object)
        self._labels = files.labels
        if size is None:
            sizes = Counter((h.height, h.width) for h in headers)
            if len(sizes) > 1:
                (common, _), (other, _) = sizes.most_common(2)
                first: dict[tuple[int, int], str] = {}
                for path, header in zip(files.paths, headers):
                    first.setdefault((header.height, header.width), path)
                raise DataError(
                    f"the images in {files.root} have {len(sizes)} different sizes "
                    f"({format_size(common)} as {first[common]}, {format_size(other)} as "
                    f"{first[other]}, …); pass --image-size HxW (image_size=(H, W)) to resize them")
            (size,) = sizes
        if channels is None:
            channels = 1 if all(h.channels <= 2 for h in headers) else 3
        self.size = size
        self.channels = channels
        self.image_shape = (size[0], size[1], channels)
        self.dtype = np.dtype(np.uint8)
        self._tensor = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labels(self) -> np.ndarray | None:
        return self._labels

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.files.class_names

    def _paths(self):
        import tensorflow as tf

        if self._tensor is None:
            self._tensor = tf.constant(self.paths.astype(str))
        return self._tensor

    def reader(self):
        import tensorflow as tf

        paths, size, channels = self._paths(), self.size, self.channels

        def read(index):
            return conform(decode_file(tf.gather(paths, index)), size, channels)

        return read

    def describe(self, index):
        import tensorflow as tf

        return tf.gather(self._paths(), index)


def _dir_signature(root: Path) -> tuple:
    """Modification times of the folder and its subfolders: they change when files come or go."""
    stamps = []
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        stamps.append((dirpath, os.stat(dirpath).st_mtime_ns))
    return tuple(stamps)


def open_folder(folder: str | os.PathLike, *, size: tuple[int, int] | None = None,
                channels: int | None = None, skip_bad_images: bool = False) -> FolderSource:
    """A `FolderSource` for ``folder``; file lists and headers are cached while the folder's
    entries stay the same.

    An unreadable or damaged image raises DataError with its path; with ``skip_bad_images``
    such files are left out (after a full decoding pass that also finds damaged pixel data)
    and their number is logged.
    """
    root = Path(folder).expanduser().resolve()
    files, headers = _scanned(str(root), bool(skip_bad_images), _dir_signature(root))
    return FolderSource(files, headers, size=size, channels=channels)


@functools.lru_cache(maxsize=4)
def _scanned(root: str, skip_bad_images: bool, signature: tuple) -> tuple[ImageFiles, list[ImageHeader]]:
    del signature  # part of the cache key only
    files = list_images(root)
    results = scan_headers(files.paths)
    bad = [(i, r) for i, r in enumerate(results) if isinstance(r, str)]
    if bad and not skip_bad_images:
        more = f" ({len(bad) - 1} more unreadable files)" if len(bad) > 1 else ""
        raise DataError(f"{bad[0][1]}{more}; pass --skip-bad-images (skip_bad_images=True) to leave them out")
    if skip_bad_images:
        keep = [i for i, r in enumerate(results) if not isinstance(r, str)]
        undecodable = _undecodable(np.asarray([files.paths[i] for i in keep], dtype=str))
        if undecodable:
            bad += [(keep[j], f"cannot decode image {files.paths[keep[j]]}") for j in sorted(undecodable)]
            keep = [i for j, i in enumerate(keep) if j not in undecodable]
        if bad:
            logger.warning("skipped %s of %d in %s (first: %s)",
                           plural(len(bad), "unreadable or damaged image"), len(results), root,
                           min(bad)[1])
        if not keep:
            raise DataError(f"no readable images in {root} ({len(bad)} unreadable)")
        labels = None if files.labels is None else files.labels[keep]
        files = ImageFiles(files.root, tuple(files.paths[i] for i in keep), labels, files.class_names)
        results = [results[i] for i in keep]
    return files, results


def clear_folder_cache() -> None:
    """Forget cached folder scans."""
    _scanned.cache_clear()


__all__ = ["FolderSource", "ImageFiles", "clear_folder_cache", "has_images", "list_images",
           "open_folder", "scan_headers"]
