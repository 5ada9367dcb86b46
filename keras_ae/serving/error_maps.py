"""Per-pixel error maps written beside each other: `DIR/NAME.npy` (float32 (H, W), the error of
each pixel, channels averaged: `analysis.detect.error_maps`) and `DIR/NAME.png` (the map scaled
so that its largest error is white), for `keras-ae detect --maps`.

A maps folder holds nothing else: one that holds anything but earlier maps (pairs of NAME.npy
and NAME.png) is refused, so maps never mix with a user's files, and an earlier map is replaced
only with `overwrite`. Every file is written atomically, after every check.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_ae.serving.outputs import safe_name, write_png
from keras_ae.utils.io import OutputExistsError, atomic_path

__all__ = ["check_maps_folder", "write_error_maps"]


def check_maps_folder(out_dir: str | os.PathLike) -> Path:
    """`out_dir` as a folder maps may be written to: new, empty, or holding earlier maps only."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"maps folder {out_dir} is a file, not a folder")
    if not out_dir.is_dir():
        existing = next((p for p in out_dir.parents if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise ValueError(f"cannot write maps into {out_dir}: {existing} is not a folder")
        return out_dir
    entries = sorted(out_dir.iterdir())
    foreign = [p.name + ("/" if p.is_dir() else "") for p in entries
               if not (p.is_file() and p.suffix in (".npy", ".png")
                       and all((out_dir / f"{p.stem}{end}").is_file() for end in (".npy", ".png")))]
    if foreign:
        raise ValueError(f"maps folder {out_dir} holds files that error maps are not "
                         f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
                         "choose a new or empty folder")
    return out_dir


def write_error_maps(maps: Any, names: Sequence[str], out_dir: str | os.PathLike, *,
                     overwrite: bool = False) -> list[Path]:
    """Write each (H, W) map of `maps` as `out_dir/NAME.npy` and `out_dir/NAME.png`; returns the
    `.npy` paths. Nothing is written when the folder is refused (`check_maps_folder`) or a
    target exists and `overwrite` is False."""
    out_dir = check_maps_folder(out_dir)
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"error maps have shape (N, H, W), got {maps.shape}")
    names = [safe_name(name) for name in names]
    if len(names) != len(maps) or len(set(names)) != len(names):
        raise ValueError(f"{len(maps)} maps need as many unique names, got {len(names)}")
    targets = [(out_dir / f"{name}.npy", out_dir / f"{name}.png") for name in names]
    existing = [path for pair in targets for path in pair if path.exists()]
    if existing and not overwrite:
        raise OutputExistsError(existing)
    for error_map, (npy, png) in zip(maps, targets):
        with atomic_path(npy) as tmp:
            np.save(tmp, error_map)
        top = float(error_map.max())
        viewed = np.clip(error_map / top, 0.0, 1.0) if top > 0 else np.zeros_like(error_map)
        write_png(viewed[..., None], png)
    return [npy for npy, _ in targets]
