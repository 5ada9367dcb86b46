"""Run exported models (SavedModel directories and `.tflite` files) and move data in and out.

    exported = load_exported("model.tflite")        # or a SavedModel directory
    exported.signatures                             # ('anomaly_score', 'decode', 'encode', ...)
    images, names = read_named_inputs(["digit.png"], image_shape=exported.image_shape)
    outputs = exported.run("reconstruct", image=images)     # {'image': array (1, 28, 28, 1)}
    write_outputs(outputs, "out", names=names)      # out/image.npy, out/image/digit.png
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_ae.data import images as data_images
from keras_ae.data.folder import files_below
from keras_ae.utils.io import atomic_path
from keras_ae.utils.quiet import native_logs_muted
from keras_ae.utils.text import first_line

if TYPE_CHECKING:
    from keras_ae.models import Autoencoder

IMAGE_SUFFIXES = data_images.IMAGE_SUFFIXES
ARRAY_SUFFIXES = (".npy", ".npz")
NPY_MAGIC = b"\x93NUMPY"
Shape = tuple[int | None, ...]


# --- exported models ---------------------------------------------------------------------------
class ExportedModel(abc.ABC):
    """An exported model's signatures, run on numpy arrays; see `load_exported`."""

    format = ""

    def __init__(self, path: Path, specs: dict[str, tuple[dict[str, Shape], tuple[str, ...]]],
                 dtypes: dict[str, dict[str, str]] | None = None):
        self.path = path
        self._specs = specs
        self._dtypes = dtypes or {}

    @property
    def signatures(self) -> tuple[str, ...]:
        """The signature names, sorted."""
        return tuple(sorted(self._specs))

    def inputs(self, signature: str) -> dict[str, Shape]:
        """Input name -> shape (None for the dynamic batch dimension) of `signature`."""
        return dict(self._spec(signature)[0])

    def input_dtypes(self, signature: str) -> dict[str, str]:
        """Input name -> dtype (`float32`, or `int32` for a VQ-VAE's code indices)."""
        self._spec(signature)
        return {name: self._dtypes.get(signature, {}).get(name, "float32")
                for name in self.inputs(signature)}

    def outputs(self, signature: str) -> tuple[str, ...]:
        """The output names of `signature`, sorted."""
        return self._spec(signature)[1]

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """(height, width, channels) of the `image` input, or None if no signature takes one."""
        for signature in self.signatures:
            shape = self._specs[signature][0].get("image")
            if shape is not None:
                return tuple(int(d) for d in shape[1:])
        return None

    def _spec(self, signature: str):
        if signature not in self._specs:
            raise ValueError(
                f"{self.path} has no signature {signature!r}; it has {', '.join(self.signatures)}")
        return self._specs[signature]

    def _check(self, signature: str, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        expected = self.inputs(signature)
        if set(inputs) != set(expected):
            raise ValueError(
                f"signature {signature!r} takes inputs {', '.join(sorted(expected))}, "
                f"got {', '.join(sorted(inputs)) or 'none'}")
        dtypes = self.input_dtypes(signature)
        arrays = {}
        for name, value in inputs.items():
            try:
                array = np.asarray(value)
            except Exception:  # noqa: BLE001 - ragged nested lists and the like
                raise ValueError(f"input {name!r} of {signature!r} is not an array") from None
            array = _as_input(array, name, signature, dtypes[name])
            shape = expected[name]
            if array.ndim != len(shape) or any(
                    want is not None and want != got for want, got in zip(shape, array.shape)):
                wanted = "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"
                raise ValueError(
                    f"input {name!r} of {signature!r} must have shape {wanted}, got {array.shape}")
            if array.shape[0] == 0:
                raise ValueError(f"input {name!r} of {signature!r} is an empty batch")
            if not np.isfinite(array).all():
                raise ValueError(f"input {name!r} of {signature!r} holds NaN or infinite values")
            if name == "image" and not (array.min() >= 0 and array.max() <= 1):
                raise ValueError(f"input 'image' of {signature!r} must be images in [0, 1], got "
                                 f"values in [{array.min():g}, {array.max():g}]")
            arrays[name] = array
        return arrays

    batch_size = 256
    """Inputs are run in batches of this many (one call per batch, outputs concatenated)."""

    def run(self, signature: str, **inputs: Any) -> dict[str, np.ndarray]:
        """Run `signature` on float32 arrays with a leading batch dimension; outputs by name."""
        arrays = self._check(signature, inputs)
        count = len(next(iter(arrays.values())))
        parts = [self._run_batch(signature, {k: v[start:start + self.batch_size]
                                             for k, v in arrays.items()})
                 for start in range(0, count, self.batch_size)]
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    @abc.abstractmethod
    def _run_batch(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run `signature` on one batch of checked arrays."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, signatures={self.signatures})"


def _as_input(array: np.ndarray, name: str, signature: str, dtype: str) -> np.ndarray:
    """`array` as the contiguous float32 or int32 array input `name` takes."""
    if dtype == "int32":
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"input {name!r} of {signature!r} must be integers (code indices), "
                             f"got {array.dtype}")
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            raise ValueError(f"input {name!r} of {signature!r} has values outside int32")
        return np.ascontiguousarray(array, dtype=np.int32)
    if not (np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_):
        raise ValueError(
            f"input {name!r} of {signature!r} must be float32 (images in [0, 1]), got {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float32)


class SavedModelRunner(ExportedModel):
    """A SavedModel directory, run with TensorFlow."""

    format = "savedmodel"

    def __init__(self, path: Path):
        import tensorflow as tf

        try:
            self._loaded = tf.saved_model.load(str(path))
        except Exception as err:  # noqa: BLE001 - TensorFlow raises many kinds here
            raise ValueError(f"cannot load SavedModel {path}: {first_line(err)}") from err
        specs, dtypes = {}, {}
        for name, function in self._loaded.signatures.items():
            if name == "serving_default":  # an alias of reconstruct, for TF Serving
                continue
            arguments = function.structured_input_signature[1]
            inputs = {key: tuple(spec.shape.as_list()) for key, spec in arguments.items()}
            dtypes[name] = {key: spec.dtype.name for key, spec in arguments.items()}
            specs[name] = (inputs, tuple(sorted(function.structured_outputs)))
        super().__init__(path, specs, dtypes)

    def _run_batch(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        outputs = self._loaded.signatures[signature](**{k: tf.constant(v) for k, v in arrays.items()})
        return {key: value.numpy() for key, value in outputs.items()}


class TFLiteRunner(ExportedModel):
    """A `.tflite` file, run with the LiteRT interpreter (XNNPACK; inputs are resized to each
    batch)."""

    format = "tflite"

    def __init__(self, path: Path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.num_threads = num_threads
        try:
            with native_logs_muted():  # LiteRT's INFO line about its CPU delegate
                self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                signatures = self._interpreter.get_signature_list()
                runners = {name: self._interpreter.get_signature_runner(name) for name in signatures}
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"cannot load TFLite model {path}: {first_line(err)}") from err
        self._runners = {}
        specs, dtypes = {}, {}
        for name, runner in runners.items():
            self._runners[name] = runner
            details = runner.get_input_details()
            inputs = {key: tuple(None if d < 0 else int(d) for d in detail["shape_signature"])
                      for key, detail in details.items()}
            dtypes[name] = {key: np.dtype(detail["dtype"]).name for key, detail in details.items()}
            specs[name] = (inputs, tuple(sorted(runner.get_output_details())))
        if not specs:
            raise ValueError(f"{path} has no signatures; export it with keras_ae.export.export_tflite")
        super().__init__(path, specs, dtypes)

    def _run_batch(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with native_logs_muted():
            outputs = self._runners[signature](**arrays)
        return {key: np.array(value, copy=True) for key, value in outputs.items()}


def load_exported(path: str | os.PathLike, *, num_threads: int | None = None) -> ExportedModel:
    """Open a SavedModel directory or a `.tflite` file for `run(signature, **inputs)`.

    `num_threads` applies to TFLite files (None: every core of this machine).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no exported model at {path}")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ValueError(f"{path} is a directory without saved_model.pb, not a SavedModel")
        return SavedModelRunner(path)
    if path.suffix == ".tflite":
        return TFLiteRunner(path, num_threads=num_threads or os.cpu_count())
    raise ValueError(f"{path} is neither a SavedModel directory nor a .tflite file")


# --- parity ------------------------------------------------------------------------------------
def signature_inputs(model: Autoencoder, signature: str, images: np.ndarray, *,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """The inputs of `signature` derived from `images`: the images, their codes for `decode`
    (`model.encode`: a VAE's posterior mean, a VQ-VAE's int32 code indices), or seeded N(0, I)
    noise for `sample`, each named and typed as the model's `signature_inputs()` declares."""
    images = np.asarray(images, dtype=np.float32)
    if signature not in ("decode", "sample"):
        return {"image": images}
    ((name, (shape, dtype)),) = model.signature_inputs()[signature].items()
    if signature == "decode":
        return {name: np.asarray(model.encode(images), dtype=dtype)}
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal((len(images), *shape[1:])).astype(dtype)}


def parity(model: Autoencoder, path: str | os.PathLike, images: np.ndarray, *,
           seed: int = 0, threshold: Any = None) -> dict[str, float]:
    """Max abs difference between an exported model (.tflite or SavedModel) and the Keras
    `model`, per signature, on `images` (and their codes / seeded noise, see `signature_inputs`);
    `is_anomaly` is compared with the Keras model and `threshold` (a decision counts as 0 or 1).
    A mixed-precision model is compared in float32, as its exports serve it."""
    from keras_ae.models.precision import float32_copy
    from keras_ae.serving.export import reference_outputs

    model = float32_copy(model)
    exported = load_exported(path)
    result = {}
    for signature in exported.signatures:
        inputs = signature_inputs(model, signature, images, seed=seed)
        expected = reference_outputs(model, signature, threshold=threshold, **inputs)
        got = exported.run(signature, **inputs)
        if set(got) != set(expected):
            raise ValueError(
                f"signature {signature!r} of {path} has outputs {', '.join(sorted(got))}, "
                f"the model gives {', '.join(sorted(expected))}")
        result[signature] = max(
            float(np.max(np.abs(np.asarray(got[key], dtype=np.float32)
                                - np.asarray(expected[key], dtype=np.float32))))
            for key in got)
    return result


# --- reading inputs ----------------------------------------------------------------------------
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


def _read_npy(source: Path) -> np.ndarray:
    with open(source, "rb") as f:
        magic = f.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        raise ValueError(f"{source}: not a NumPy .npy file (it does not start with the .npy "
                         "header); save arrays with numpy.save")
    try:
        array = np.load(source, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - NumPy raises many kinds for a damaged header
        if "allow_pickle" in str(err):
            raise ValueError(f"{source}: holds Python objects (a pickled object array), which "
                             "are never loaded; save a numeric array") from None
        raise ValueError(f"{source}: cannot read array: {first_line(err)}") from None
    return _non_empty(array, source)


def _non_empty(array: np.ndarray, source: Path) -> np.ndarray:
    if array.size == 0:
        raise ValueError(f"{source}: the array is empty (shape {array.shape})")
    return array


_NPZ_KEYS = ("images", "x", "x_test", "x_train")


def _read_npz(source: Path) -> tuple[np.ndarray, str]:
    """The images of an .npz archive: its 'images', 'x', 'x_test' or 'x_train' array (the first
    present), or its only array; and the key used."""
    try:
        with np.load(source, allow_pickle=False) as archive:
            keys = list(archive.files)
            key = next((k for k in _NPZ_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ValueError(f"{source}: no images array (expected one of {', '.join(_NPZ_KEYS)} "
                                 f"or a single array; found {', '.join(keys) or 'none'})")
            return _non_empty(archive[key], source), key
    except Exception as err:  # noqa: BLE001 - zipfile and NumPy raise many kinds for a bad file
        if isinstance(err, ValueError) and str(err).startswith(str(source)):
            raise
        if "allow_pickle" in str(err):
            raise ValueError(f"{source}: holds Python objects (a pickled object array), which "
                             "are never loaded; save numeric arrays") from None
        raise ValueError(f"{source}: cannot read npz archive: {first_line(err)}") from None


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
            array = _read_npz(source)[0] if suffix == ".npz" else _read_npy(source)
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


# --- writing outputs ---------------------------------------------------------------------------
def is_image_batch(array: np.ndarray) -> bool:
    """Whether `array` looks like (N, H, W, C) images with 1, 3 or 4 channels."""
    return array.ndim == 4 and array.shape[-1] in (1, 3, 4)


def _to_png(array: np.ndarray, target: Path) -> None:
    from PIL import Image

    pixels = np.round(np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0).astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    with atomic_path(target) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def _safe_name(name: str) -> str:
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
    arrays = {_safe_name(key): np.asarray(value) for key, value in outputs.items()}
    if not arrays:
        raise ValueError("no outputs to write")
    batch = {len(a) if a.ndim else 1 for a in arrays.values()}
    if names is not None:
        names = [_safe_name(n) for n in names]
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
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise FileExistsError(f"{existing[0]}{more} already exist (pass overwrite to replace)")
    for target, value in plan:
        if target.suffix == ".npy":
            with atomic_path(target) as tmp:
                np.save(tmp, value)
        else:
            _to_png(value, target)
    return [target for target, _ in plan]
