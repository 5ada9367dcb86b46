"""Run exported models (SavedModel directories and `.tflite` files) without Keras; check an
export against its model (`parity`). Inputs are read by `keras_ae.data.inputs`, outputs written by
`keras_ae.serving.outputs`.

    exported = load_exported("model.tflite")        # or a SavedModel directory
    exported.signatures                             # ('anomaly_score', 'decode', 'encode', ...)
    images, names = read_named_inputs(["digit.png"], image_shape=exported.image_shape)
    outputs = exported.run("reconstruct", image=images)     # {'image': array (1, 28, 28, 1)}
    write_outputs(outputs, "out", names=names)      # out/image.npy, out/image/digit.png
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_ae.utils.quiet import native_logs_muted
from keras_ae.utils.text import first_line

if TYPE_CHECKING:
    from keras_ae.models import BaseAutoencoder

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
def signature_inputs(model: BaseAutoencoder, signature: str, images: np.ndarray, *,
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


def parity(model: BaseAutoencoder, path: str | os.PathLike, images: np.ndarray, *,
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
