"""Writers of small IDX datasets for the data tests: an IDX file, an MNIST-style folder of
them, random digits, and row hashes to compare images as multisets."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    """Write a uint8 array as an IDX file (magic 0x0800 | ndim, big-endian dims)."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_digits(n: int, seed: int, h: int = 28, w: int = 28) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, h, w), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_idx_folder(folder: Path, *, train: int | None, test: int | None, gz: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    out = {}
    for prefix, n, seed in (("train", train, 1), ("t10k", test, 2)):
        if n is None:
            continue
        x, y = make_digits(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", x, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", y, gz=gz)
        out[prefix] = (x, y)
    return out


def row_hashes(x: np.ndarray) -> list[str]:
    return [hashlib.sha1(row.tobytes()).hexdigest() for row in x]
