"""Writers of small image files for the data tests: random pixels saved as PNG, JPEG, BMP or
GIF, one file or a folder of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pixels(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def save(folder: Path, name: str, array: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return path


def write_folder(root: Path, images: np.ndarray, suffix: str = ".png") -> list[Path]:
    return [save(root, f"img{i:03d}{suffix}", image) for i, image in enumerate(images)]
