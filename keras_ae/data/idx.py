"""Reader for IDX files (the MNIST / Fashion-MNIST format), gzipped or not."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Read a uint8 IDX file whose magic number must equal ``magic``.

    Gzip compression is detected from the file's first bytes. Returns a
    read-only array shaped by the dimensions stored in the header.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error):
            raise DataError(f"corrupt or truncated gzip file: {path}") from None
    if len(raw) < 4:
        raise DataError(f"not an IDX file (too short, {len(raw)} bytes): {path}")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise DataError(f"wrong IDX magic number 0x{found:08x} in {path}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"truncated IDX header in {path}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(dims)  # Python ints: a forged header cannot overflow the count
    found_bytes = len(raw) - header
    if found_bytes != expected:
        problem = "truncated" if found_bytes < expected else "corrupt (trailing bytes)"
        raise DataError(f"{problem} IDX file {path}: shape {dims} needs {expected} data bytes, found {found_bytes}")
    if expected == 0:
        raise DataError(f"IDX file {path} holds no data (shape {dims})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (magic 0x00000803) as uint8 ``(N, H, W)``."""
    return read_idx(path, IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (magic 0x00000801) as uint8 ``(N,)``."""
    return read_idx(path, LABELS_MAGIC)


@dataclass(frozen=True)
class IdxFiles:
    """The IDX files found in one folder (``None`` where absent)."""

    folder: Path
    train_images: Path | None
    train_labels: Path | None
    test_images: Path | None
    test_labels: Path | None

    @property
    def empty(self) -> bool:
        return self.train_images is None and self.test_images is None


def _find(folder: Path, prefix: str, what: str, ndim: int) -> Path | None:
    for stem in (f"{prefix}-{what}-idx{ndim}-ubyte", f"{prefix}-{what}.idx{ndim}-ubyte"):
        for suffix in (".gz", ""):
            candidate = folder / (stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def find_idx_files(folder: str | os.PathLike) -> IdxFiles:
    """Locate the standard train/t10k IDX files in ``folder``."""
    folder = Path(folder)
    return IdxFiles(
        folder=folder,
        train_images=_find(folder, "train", "images", 3),
        train_labels=_find(folder, "train", "labels", 1),
        test_images=_find(folder, "t10k", "images", 3),
        test_labels=_find(folder, "t10k", "labels", 1),
    )
