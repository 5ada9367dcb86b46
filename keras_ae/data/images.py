"""Image files and image conversion: formats, sizes, colour modes, headers, decoding, resizing.

Files are decoded with ``tf.io.decode_image`` (PNG, JPEG, BMP, GIF; the first frame of an
animation) and converted with TensorFlow ops, in a tf.data pipeline and on NumPy arrays alike, so
that training, evaluation and inference see the same pixels.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_ae.utils.text import first_line

from .errors import DataError

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
"""File name endings read as images (those of ``keras.utils.image_dataset_from_directory``)."""

COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
"""Colour mode -> number of channels."""

_FORMATS = ("PNG", "JPEG", "BMP", "GIF")  # Pillow's names of the formats tf.io.decode_image reads
_MAX_SIDE = 16384
# luminance weights of ITU-R BT.601, as Pillow's and libjpeg's grayscale conversions use them
_LUMA = (0.299, 0.587, 0.114)


def is_image_file(name: str | os.PathLike) -> bool:
    """Whether a file name ends in one of IMAGE_SUFFIXES (any case) and is not hidden."""
    base = os.path.basename(os.fspath(name))
    return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)


def parse_image_size(value: Any) -> tuple[int, int] | None:
    """``"HxW"``, ``"N"`` (square), ``N`` or ``(H, W)`` as ``(height, width)``; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×,]\s*(\d+)\s*)?", value)
        if not match:
            raise DataError(f"image size must be HxW (e.g. 64x64) or N, got {value!r}")
        height, width = int(match[1]), int(match[2] or match[1])
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        height = width = int(value)
    else:
        try:
            height, width = (int(v) for v in value)
        except (TypeError, ValueError):
            raise DataError(f"image size must be (height, width), got {value!r}") from None
    if not (0 < height <= _MAX_SIDE and 0 < width <= _MAX_SIDE):
        raise DataError(f"image size must be between 1x1 and {_MAX_SIDE}x{_MAX_SIDE}, got {height}x{width}")
    return height, width


def format_size(size: tuple[int, int]) -> str:
    """``(h, w)`` as ``"HxW"``."""
    return f"{size[0]}x{size[1]}"


def channels_of(color_mode: str | None) -> int | None:
    """The number of channels of a colour mode (None stays None)."""
    if color_mode is None:
        return None
    if color_mode not in COLOR_MODES:
        raise DataError(f"unknown color mode {color_mode!r}; choose from {', '.join(COLOR_MODES)}")
    return COLOR_MODES[color_mode]


# --- headers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: its size and its number of channels (1 to 4)."""

    height: int
    width: int
    channels: int


def gray_palette(image) -> bool:
    """Whether a palette image's colours are all gray (read from the header, no decoding)."""
    palette = getattr(image, "palette", None)
    if palette is None or getattr(palette, "rawmode", None) or palette.mode not in ("RGB", "RGBA"):
        return False
    colours = np.frombuffer(bytes(palette.palette), np.uint8)
    step = len(palette.mode)
    colours = colours[: len(colours) // step * step].reshape(-1, step)
    return bool(len(colours)) and bool((colours[:, 0] == colours[:, 1]).all()
                                       and (colours[:, 1] == colours[:, 2]).all())


def _channels_of_pil(image) -> int:
    mode = image.mode
    if mode in ("1", "L", "I", "F") or mode.startswith("I;"):
        return 1
    if mode in ("LA", "La"):
        return 2
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in image.info
        gray = gray_palette(image)
        return (2 if gray else 4) if alpha else (1 if gray else 3)
    if mode in ("RGBA", "RGBa"):
        return 4
    return 3


def read_header(path: str | os.PathLike) -> ImageHeader:
    """Read an image file's header (no decoding) and check its PNG checksums.

    Raises DataError naming the file when it is not a PNG, JPEG, BMP or GIF image, or when its
    header (or, for PNG, any chunk) is damaged.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.format not in _FORMATS:
                raise DataError(f"unsupported image format {image.format} in {path} "
                                f"(expected {', '.join(_FORMATS)})")
            width, height = image.size
            header = ImageHeader(int(height), int(width), _channels_of_pil(image))
            if image.format == "PNG":
                image.verify()  # every chunk's CRC: finds truncated and damaged files
    except DataError:
        raise
    except Image.DecompressionBombError:
        raise DataError(f"image {path} is too large to decode") from None
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except Exception as err:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError, ...
        reason = first_line(err, 120) or "not an image"
        raise DataError(f"cannot read image {path}: {reason}") from None
    if header.height < 1 or header.width < 1:
        raise DataError(f"image {path} is empty ({header.width}x{header.height})")
    return header


# --- conversion with TensorFlow ops ------------------------------------------------------------
def decode_file(path):
    """Decode one image file (a string tensor) as uint8 ``(H, W, C)`` with its own channels."""
    import tensorflow as tf

    return tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False,
                              dtype=tf.uint8)


def _luminance(rgb):
    import tensorflow as tf

    weights = tf.constant(_LUMA, tf.float32)
    gray = tf.reduce_sum(tf.cast(rgb, tf.float32) * weights, axis=-1, keepdims=True)
    if rgb.dtype == tf.uint8:
        return tf.cast(tf.clip_by_value(tf.round(gray), 0.0, 255.0), tf.uint8)
    return tf.clip_by_value(gray, 0.0, 1.0)


def _from_channels(images, have: int, want: int):
    """Convert images with `have` channels (1 to 4, gray, gray+alpha, RGB, RGBA) to `want`."""
    import tensorflow as tf

    if have == want:
        return images
    opaque = 255 if images.dtype == tf.uint8 else 1.0
    gray = images[..., :1] if have <= 2 else _luminance(images[..., :3])
    if want == 1:
        return gray
    rgb = tf.concat([gray] * 3, axis=-1) if have <= 2 else images[..., :3]
    if want == 3:
        return rgb
    alpha = images[..., have - 1:] if have in (2, 4) else tf.ones_like(gray) * tf.cast(opaque, images.dtype)
    return tf.concat([rgb, alpha], axis=-1)


def convert_channels(images, channels: int | None):
    """Images (``(H, W, C)`` or ``(N, H, W, C)``, uint8 or float in [0, 1]) with `channels`
    channels: grayscale by BT.601 luminance, gray to RGB by repetition, alpha dropped or opaque."""
    import tensorflow as tf

    if channels is None:
        return images
    have = images.shape[-1]
    if have is not None:
        if have not in (1, 2, 3, 4):
            raise DataError(f"images with {have} channels cannot be converted to {channels} channels")
        return _from_channels(images, int(have), channels)
    branches = [lambda c=c: _from_channels(images, c, channels) for c in (1, 2, 3, 4)]
    return tf.switch_case(tf.clip_by_value(tf.shape(images)[-1], 1, 4) - 1, branches)


def resize(images, size: tuple[int, int] | None):
    """Images resized to ``size`` (bilinear, antialiased when shrinking); uint8 stays uint8
    (rounded), floats stay in [0, 1]. Images that already have that size are unchanged."""
    import tensorflow as tf

    if size is None:
        return images
    height, width = size
    static = images.shape[-3:-1]
    if static[0] == height and static[1] == width:
        return images

    def scaled():
        out = tf.image.resize(images, (height, width), method="bilinear", antialias=True)
        if images.dtype == tf.uint8:
            return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)
        return tf.cast(tf.clip_by_value(out, 0.0, 1.0), images.dtype)

    if None not in static:
        return scaled()
    shape = tf.shape(images)
    same = tf.logical_and(tf.equal(shape[-3], height), tf.equal(shape[-2], width))
    return tf.cond(same, lambda: tf.identity(images), scaled)


def conform(images, size: tuple[int, int] | None, channels: int | None):
    """`convert_channels` then `resize`, with the static shape set where it is known."""
    out = resize(convert_channels(images, channels), size)
    if size is not None or channels is not None:
        height, width = size if size is not None else (None, None)
        out.set_shape(out.shape[:-3].concatenate([height, width, channels]))
    return out


def conform_array(images: np.ndarray, size: tuple[int, int] | None, channels: int | None,
                  *, chunk: int = 1024) -> np.ndarray:
    """`conform` for a NumPy batch ``(N, H, W, C)``, in chunks; returns a new array."""
    import tensorflow as tf

    if size is None and (channels is None or channels == images.shape[-1]):
        return images
    parts = [conform(tf.constant(images[start:start + chunk]), size, channels).numpy()
             for start in range(0, len(images), chunk)]
    return np.concatenate(parts) if parts else images


__all__ = [
    "COLOR_MODES", "IMAGE_SUFFIXES", "ImageHeader", "channels_of", "conform", "conform_array",
    "convert_channels", "decode_file", "format_size", "gray_palette", "is_image_file",
    "parse_image_size", "read_header", "resize",
]
