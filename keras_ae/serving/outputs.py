"""Write a model's outputs: each as `KEY.npy`, and the images of image outputs as PNG files,
atomically and never over a user's own files (`keras-ae predict --output`).

    write_outputs({"image": reconstructions}, "out", names=names)   # out/image.npy, out/image/*.png
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_ae.utils.io import OutputExistsError, atomic_path

def is_image_batch(array: np.ndarray) -> bool:
    """Whether `array` looks like (N, H, W, C) images with 1, 3 or 4 channels."""
    return array.ndim == 4 and array.shape[-1] in (1, 3, 4)


def write_png(array: np.ndarray, target: Path) -> None:
    """One (H, W, C) image of floats in [0, 1] as an 8-bit PNG file, written atomically."""
    from PIL import Image

    pixels = np.round(np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0).astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    with atomic_path(target) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def safe_name(name: str) -> str:
    """`name` as a file name: runs of other characters than letters, digits, `.`, `_`, `-` become
    `_`; a name with none of those is a ValueError."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    if not cleaned:
        raise ValueError(f"output name {name!r} has no usable characters")
    return cleaned


def _foreign_entries(out_dir: Path) -> list[str]:
    """Entries of `out_dir` that `write_outputs` does not write (anything but `.npy` files and
    folders of `.png` images), so that predictions never mix with a user's own files."""
    if not out_dir.is_dir():
        return []
    foreign = []
    for entry in sorted(out_dir.iterdir()):
        if entry.is_file() and entry.suffix == ".npy":
            continue
        if entry.is_dir() and all(p.is_file() and p.suffix == ".png" for p in entry.iterdir()):
            continue
        foreign.append(entry.name + ("/" if entry.is_dir() else ""))
    return foreign


def write_outputs(outputs: Mapping[str, Any], out_dir: str | os.PathLike, *,
                  names: Sequence[str] | None = None, png: bool = True,
                  overwrite: bool = False) -> list[Path]:
    """Write each output as `out_dir/KEY.npy` and, with `png`, each image of an image output as
    `out_dir/KEY/NAME.png` (NAME from `names`, default the sample index). Returns the paths.

    Nothing is written if any target exists and `overwrite` is False, or if `out_dir` holds
    anything else than earlier outputs (`.npy` files and folders of `.png` images).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output {out_dir} is a file, not a folder")
    foreign = _foreign_entries(out_dir)
    if foreign:
        raise ValueError(f"output folder {out_dir} holds files that predictions are not "
                         f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
                         "choose a new or empty folder")
    arrays = {safe_name(key): np.asarray(value) for key, value in outputs.items()}
    if not arrays:
        raise ValueError("no outputs to write")
    batch = {len(a) if a.ndim else 1 for a in arrays.values()}
    if names is not None:
        names = [safe_name(n) for n in names]
        if len(set(names)) != len(names):
            raise ValueError("output names must be unique")
        if batch != {len(names)}:
            raise ValueError(f"{len(names)} names for outputs of batch size {', '.join(map(str, sorted(batch)))}")
    plan: list[tuple[Path, Any]] = []
    for key, array in arrays.items():
        plan.append((out_dir / f"{key}.npy", array))
        if png and is_image_batch(array):
            labels = names or [f"{i:0{max(4, len(str(len(array) - 1)))}d}" for i in range(len(array))]
            plan.extend((out_dir / key / f"{label}.png", image) for label, image in zip(labels, array))
    if not overwrite:
        existing = [target for target, _ in plan if target.exists()]
        if existing:
            raise OutputExistsError(existing)
    for target, value in plan:
        if target.suffix == ".npy":
            with atomic_path(target) as tmp:
                np.save(tmp, value)
        else:
            write_png(value, target)
    return [target for target, _ in plan]
