"""Read inputs for a model: image files (PNG, JPEG, BMP, GIF), .npy / .npz arrays and folders of
them, as one float32 batch in [0, 1] with a name per image (`keras-ae predict`, `detect --input`).

    images, names = read_named_inputs(["digit.png", "more/"], image_shape=(28, 28, 1))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keras_ae.data import images as data_images
from keras_ae.data.arrays import read_npy, read_npz_images
from keras_ae.data.folder import files_below
from keras_ae.utils.text import first_line

IMAGE_SUFFIXES = data_images.IMAGE_SUFFIXES
ARRAY_SUFFIXES = (".npy", ".npz")


def _scale(array: np.ndarray, source: Path) -> np.ndarray:
    """Integer pixels to [0, 1]; float pixels must already be there."""
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        with np.errstate(over="ignore"):  # float64 beyond float32 becomes inf, refused below
            array = array.astype(np.float32)
        finite = np.isfinite(array)
        if not finite.all():
            bad = "NaN" if np.isnan(array).any() else "infinite"
            count = int((~finite).sum())
            raise ValueError(f"{source}: {count} pixel{'s are' if count != 1 else ' is'} {bad}; "
                             "pixels must be numbers in [0, 1]")
        if array.size and not (array.min() >= 0 and array.max() <= 1):
            raise ValueError(
                f"{source}: float pixels must be in [0, 1], got [{array.min():g}, {array.max():g}]")
        return array
    raise ValueError(f"{source}: unsupported pixel type {array.dtype} (use uint8, uint16 or float in [0, 1])")


def _read_image(source: Path) -> np.ndarray:
    """One image file (PNG, JPEG, BMP, GIF: its first frame) as (1, H, W, C) pixels as stored
    (uint8, or uint16 for 16-bit PNG), C from the file's own mode (palettes are expanded, to
    gray when every palette colour is gray), as training on a folder reads it."""
    from PIL import Image

    try:
        with Image.open(source) as image:
            image.load()
            mode = image.mode
            if mode in ("P", "PA"):  # palette indices mean nothing as pixels: expand the palette
                transparent = mode == "PA" or "transparency" in image.info
                gray = data_images.gray_palette(image)
                image = image.convert(("LA" if gray else "RGBA") if transparent else ("L" if gray else "RGB"))
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGB")
            mode = image.mode
            array = None
            if mode in ("I;16", "I;16B", "I;16L"):
                array = np.asarray(image, dtype=np.uint16)
            elif mode in ("1", "L", "LA", "RGB", "RGBA"):
                array = np.asarray(image)
    except Exception as err:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, zlib errors…
        raise ValueError(f"{source}: cannot read image: {first_line(err, with_type=True)}") from None
    if array is None:
        raise ValueError(f"{source}: unsupported image mode {mode}")
    if array.ndim == 2:
        array = array[..., None]
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    return array[None]


def _images_of(array: np.ndarray, source: Path, image_shape: tuple[int, ...] | None,
               convert: bool) -> tuple[np.ndarray, bool]:
    """An array of one image (H, W[, C]) or a batch (N, H, W[, C]) as (N, H, W, C), and whether
    it held a single image. With `image_shape` (and not `convert`) the shape must match it."""
    shape = array.shape
    if image_shape is not None and not convert:
        height, width, channels = image_shape
        if shape == tuple(image_shape):
            return array[None], True
        if channels == 1 and shape == (height, width):
            return array[None, ..., None], True
        if len(shape) == 4 and shape[1:] == tuple(image_shape):
            return array, False
        if channels == 1 and len(shape) == 3 and shape[1:] == (height, width):
            return array[..., None], False
        raise ValueError(
            f"{source}: array of shape {shape} does not hold images of shape {tuple(image_shape)} "
            "(expected (H, W, C), (N, H, W, C), or without C for one channel; resize=True / "
            "--resize converts images of another size or colour)")
    if len(shape) == 2:
        return array[None, ..., None], True
    if len(shape) == 3 and shape[-1] in (1, 3, 4):
        return array[None], True
    if len(shape) == 3:
        return array[..., None], False
    if len(shape) == 4:
        return array, False
    raise ValueError(f"{source}: array of shape {shape} is not an image or a batch of images")


def is_input_file(name: str | os.PathLike) -> bool:
    """Whether a file in a folder of inputs is read: an image file (PNG, JPEG, BMP, GIF) or a
    .npy / .npz array, not hidden."""
    base = os.path.basename(os.fspath(name))
    return data_images.is_image_file(base) or (
        not base.startswith(".") and base.lower().endswith(ARRAY_SUFFIXES))


def input_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The files `read_inputs` reads (`keras-ae predict` and `detect --input`): each file as
    given; each folder as its image files and arrays (`is_input_file`), at any depth, sorted."""
    files = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(files_below(path, keep=is_input_file))  # by path, subfolders too
        if not found:
            raise ValueError(f"{path}: folder holds no images or arrays "
                             f"({'/'.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)})")
        files.extend(map(Path, found))
    return files


def _conformed(batch: np.ndarray, source: Path, shape: tuple[int, ...] | None,
               convert: bool) -> np.ndarray:
    """Pixels as float32 in [0, 1], converted to `shape` (size and channels) when `convert`,
    the way training converts them (uint8 images are resized before scaling)."""
    if convert and shape is not None and batch.shape[1:] != shape:
        if batch.shape[-1] not in (1, 2, 3, 4):
            raise ValueError(f"{source}: images with {batch.shape[-1]} channels cannot be converted")
        if batch.dtype != np.uint8:
            batch = _scale(batch, source)
        batch = data_images.conform_array(batch, shape[:2], shape[2])
    return _scale(batch, source)


def read_named_inputs(paths: str | os.PathLike | Sequence[str | os.PathLike], *,
                      image_shape: Sequence[int] | None = None,
                      resize: bool = False) -> tuple[np.ndarray, list[str]]:
    """`read_inputs`, plus a unique name per image: the file stem, with `_INDEX` for the images
    of a batch file (for `write_outputs(names=...)`)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no input files given")
    shape = None if image_shape is None else tuple(int(d) for d in image_shape)
    if shape is not None and len(shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {shape}")
    if resize and shape is None:
        raise ValueError("resize needs the image_shape to convert to")
    batches, names = [], []
    for source in input_files(paths):
        if not source.is_file():
            raise FileNotFoundError(f"no input file {source}")
        suffix = source.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            raw, single = _read_image(source), True
        elif suffix in ARRAY_SUFFIXES:
            array = read_npz_images(source) if suffix == ".npz" else read_npy(source)
            raw, single = _images_of(array, source, shape, resize)
        else:
            raise ValueError(f"{source}: unsupported input type {suffix or '(none)'}; use "
                             f"{', '.join(ARRAY_SUFFIXES + IMAGE_SUFFIXES)} or a folder of images")
        batch = _conformed(raw, source, shape, resize)
        if shape is None:
            shape = batch.shape[1:]
        if batch.shape[1:] != shape:
            raise ValueError(
                f"{source}: image shape {batch.shape[1:]} does not match {shape} "
                "(pass resize=True / --resize to convert images to the model's size and colour)")
        batches.append(batch)
        names.extend([source.stem] if single else [f"{source.stem}_{i}" for i in range(len(batch))])
    return np.concatenate(batches, axis=0).astype(np.float32, copy=False), _unique(names)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name}_{count}")
    return result if len(set(result)) == len(result) else [f"{i:04d}_{n}" for i, n in enumerate(names)]


def read_inputs(paths: str | os.PathLike | Sequence[str | os.PathLike], *,
                image_shape: Sequence[int] | None = None, resize: bool = False) -> np.ndarray:
    """Read .npy / .npz arrays, image files (PNG, JPEG, BMP, GIF) and folders of images into one
    float32 (N, H, W, C) batch in [0, 1].

    uint8 / uint16 pixels are scaled to [0, 1]; float pixels must already be in [0, 1]. An
    image whose shape differs from `image_shape` (or, without it, from the first file's) is an
    error naming the file and the expected shape, unless `resize`: then every image is resized
    (bilinear) and converted to `image_shape`'s channels (grayscale by luminance, gray to RGB by
    repetition, alpha dropped or opaque) the way training converts images.
    """
    return read_named_inputs(paths, image_shape=image_shape, resize=resize)[0]
