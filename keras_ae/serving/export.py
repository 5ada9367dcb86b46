"""Export trained autoencoders as TensorFlow SavedModels and multi-signature TFLite files.

Both formats carry the same named signatures, each with a dynamic batch dimension:

============== ================================ ===========================================
signature      inputs                           outputs
============== ================================ ===========================================
encode         image (batch, H, W, C)           z (batch, latent); a VAE gives z_mean and
                                                z_log_var instead
decode         z (batch, latent)                image (batch, H, W, C)
reconstruct    image (batch, H, W, C)           image (batch, H, W, C)
anomaly_score  image (batch, H, W, C)           score (batch,)
sample (VAE)   noise (batch, latent)            image (batch, H, W, C): decode(noise), so
                                                N(0, I) noise gives samples of the prior
encode (VQ-VAE) image (batch, H, W, C)          indices (batch, H', W') int32: the code of
                                                each position of the encoder's feature map
decode (VQ-VAE) indices (batch, H', W') int32   image (batch, H, W, C)
is_anomaly     image (batch, H, W, C)           score (batch,) and is_anomaly (batch,) bool:
(threshold=)                                    score > the fitted threshold (analysis.detect)
============== ================================ ===========================================

Images are float32 in [0, 1]. A SavedModel runs with plain TensorFlow, without this package:
``tf.saved_model.load(path).signatures["reconstruct"](image=x)["image"]``.

TFLite files use builtin operators only (no Flex ops, so the plain LiteRT runtime runs them).
Quantisation: ``float16`` stores weights as float16; ``dynamic`` stores weights as int8 and
computes activations in float; ``int8`` quantises weights and activations to int8, calibrated on
a representative sample of images, and keeps float32 inputs and outputs so every variant is fed
and read the same way (a QUANTIZE op at the start of a signature and a DEQUANTIZE op at the end).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from keras import ops

from keras_ae.analysis.detect import Threshold, detection_outputs
from keras_ae.models import BaseAutoencoder
from keras_ae.models.objectives import OBJECTIVES
from keras_ae.models.precision import float32_copy
from keras_ae.utils.io import OutputExistsError, atomic_path
from keras_ae.utils.quiet import native_logs_muted
from keras_ae.utils.text import first_line, with_article

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
SIGNATURES = tuple(dict.fromkeys(
    [name for entry in OBJECTIVES.values() for name in entry.signatures] + ["is_anomaly"]))
REPRESENTATIVE_SAMPLES = 200
TFLITE_SUFFIX = ".tflite"


class ExportError(RuntimeError):
    """An export that cannot be done or that failed; the message is one line."""


# --- the signatures ----------------------------------------------------------------------------
def _keras_ae_model(model: Any) -> BaseAutoencoder:
    if not isinstance(model, BaseAutoencoder):
        raise ExportError(
            f"cannot export {with_article(type(model).__name__)}: expected a keras_ae Autoencoder or "
            "VariationalAutoencoder")
    return model


def signature_names(model: BaseAutoencoder, threshold: Threshold | None = None) -> tuple[str, ...]:
    """The signatures exported for `model`, as its class declares them (`SIGNATURES`), and
    `is_anomaly` with a fitted `threshold`."""
    names = tuple(_keras_ae_model(model).SIGNATURES)
    if threshold is not None and not isinstance(threshold, Threshold):
        raise ValueError(f"threshold must be a keras_ae.detect.Threshold (fit_threshold or "
                         f"load_threshold), got {type(threshold).__name__}")
    return names + (("is_anomaly",) if threshold is not None else ())


def reference_outputs(model: BaseAutoencoder, signature: str, *, threshold: Threshold | None = None,
                      **inputs: Any) -> dict[str, Any]:
    """What signature `signature` computes, with the Keras model: a dict of output tensors
    (`is_anomaly` needs the `threshold`).

    These are the functions the exported signatures trace, and the reference for parity checks.
    """
    if signature not in signature_names(model, threshold):
        raise ValueError(f"unknown signature {signature!r}; {model.name!r} has "
                         f"{', '.join(signature_names(model, threshold))}")
    if signature == "is_anomaly":
        return detection_outputs(model, threshold, inputs["image"])
    return model.serve(signature, **inputs)


def _float32(outputs: Mapping[str, Any]) -> dict[str, tf.Tensor]:
    """Float outputs as float32 tensors; boolean decisions and integer codes keep their dtype."""
    tensors = {key: ops.convert_to_tensor(value) for key, value in outputs.items()}
    return {key: value if value.dtype.is_bool or value.dtype.is_integer
            else tf.cast(value, tf.float32) for key, value in tensors.items()}


class _ServingModule(tf.Module):
    """The exported object: one `tf.function` per signature and the variables they read."""

    def __init__(self, model: BaseAutoencoder, threshold: Threshold | None = None):
        super().__init__(name="keras_ae_export")
        self.signature_names = signature_names(model, threshold)
        model = float32_copy(model)  # a mixed-precision model is served in float32
        specs = {**model.signature_inputs(), "is_anomaly": {"image": ((None, *model.image_shape),
                                                                      "float32")}}
        for name in self.signature_names:  # also callable as `loaded.reconstruct(x)` once loaded
            ((input_name, (shape, dtype)),) = specs[name].items()

            def serve(value, signature=name, input_name=input_name):
                outputs = reference_outputs(model, signature, threshold=threshold,
                                            **{input_name: value})
                return _float32(outputs)

            spec = tf.TensorSpec(shape, dtype, name=input_name)
            setattr(self, name, tf.function(serve, input_signature=[spec]))
        # Track the tf.Variables the traced functions read (Keras variables wrap them); the
        # optimizer state and training metrics of the model stay out of the export.
        used: dict[int, tf.Variable] = {}
        for function in self.concrete_functions().values():
            for variable in function.variables:
                used.setdefault(id(variable), variable)
        self.served_variables = list(used.values())

    def concrete_functions(self) -> dict[str, Any]:
        """The traced function of each signature, by name."""
        return {name: getattr(self, name).get_concrete_function() for name in self.signature_names}


# --- SavedModel --------------------------------------------------------------------------------
def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError([path])


def export_saved_model(model: BaseAutoencoder, path: str | os.PathLike, *, overwrite: bool = False,
                       threshold: Threshold | None = None) -> Path:
    """Write `model` as a SavedModel directory at `path` with the signatures of this module
    (`is_anomaly` with a fitted `threshold` from keras_ae.analysis.detect)."""
    path = Path(path)
    _refuse_existing(path, overwrite)
    replaceable = _is_saved_model(path) or (path.is_dir() and not any(path.iterdir()))
    if path.exists() and not replaceable:
        raise ExportError(f"cannot export to {path}: it exists and is not a SavedModel directory "
                          "(only a SavedModel or an empty folder is replaced)")
    module = _ServingModule(model, threshold)
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            functions = module.concrete_functions()
            # TF Serving calls `serving_default` when no signature is named: reconstruct.
            signatures = {**functions, "serving_default": functions["reconstruct"]}
            tf.saved_model.save(module, str(tmp), signatures=signatures)
    except (FileExistsError, ExportError):
        raise
    except Exception as err:  # noqa: BLE001 - any TensorFlow failure becomes one clear line
        raise ExportError(f"SavedModel export to {path} failed: {first_line(err)}") from err
    return path


def _is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").is_file()


def _load_saved_model(path: Path):
    if not path.exists():
        raise ExportError(f"no SavedModel at {path}: the path does not exist")
    if path.suffix == ".keras":
        raise ExportError(f"{path} is a .keras model file, not a SavedModel; load it with "
                          "keras_ae.load_model and export the model")
    if not _is_saved_model(path):
        raise ExportError(f"{path} is not a SavedModel directory (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"cannot load SavedModel {path}: {first_line(err)}") from err
    keys = [name for name in SIGNATURES if name in loaded.signatures]
    if not keys:
        raise ExportError(
            f"SavedModel {path} has none of the signatures {', '.join(SIGNATURES)} "
            f"(it has {', '.join(loaded.signatures) or 'none'}); export it with export_saved_model")
    return loaded, keys


# --- TFLite ------------------------------------------------------------------------------------
def _representative_dataset(loaded, keys: list[str], images: np.ndarray
                            ) -> Callable[[], Iterator[tuple[str, dict[str, np.ndarray]]]]:
    """Calibration inputs for every signature: images, their codes (what `encode` gives: `z`,
    a VAE's `z_mean`, a VQ-VAE's `indices`) and N(0, I) noise."""
    rng = np.random.default_rng(0)
    if len(images) > REPRESENTATIVE_SAMPLES:
        images = images[np.sort(rng.choice(len(images), REPRESENTATIVE_SAMPLES, replace=False))]
    encoded = loaded.signatures["encode"](image=tf.constant(images)) if "encode" in keys else {}
    codes = {name: value.numpy() for name, value in encoded.items()}
    if "z_mean" in codes:
        codes["z"] = codes["z_mean"]
    feeds: dict[str, dict[str, np.ndarray]] = {}
    for key in keys:
        spec = loaded.signatures[key].structured_input_signature[1]
        feed = {}
        for name, tensor_spec in spec.items():
            if name == "image":
                feed[name] = images
            elif name in codes and key != "sample":
                feed[name] = codes[name]
            else:
                shape = (len(images), *(int(d) for d in tensor_spec.shape[1:]))
                feed[name] = rng.standard_normal(shape).astype(np.float32)
        feeds[key] = feed

    def generate():
        for i in range(len(images)):
            for key in keys:
                yield key, {name: values[i:i + 1] for name, values in feeds[key].items()}

    return generate


def _image_shape(loaded, keys: list[str]) -> tuple[int, ...] | None:
    for key in keys:
        spec = loaded.signatures[key].structured_input_signature[1].get("image")
        if spec is not None:
            return tuple(int(d) for d in spec.shape[1:])
    return None


def _check_representative(data: Any, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """Calibration images as float32 (N, H, W, C), which must be floats in [0, 1]."""
    try:
        images = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError("representative_data must be float images in [0, 1], got "
                         f"{type(data).__name__} that is not a numeric array") from None
    if image_shape is not None and images.shape == tuple(image_shape):
        images = images[None]
    if images.ndim < 1 or images.size == 0:
        raise ValueError(f"representative_data is empty (shape {images.shape})")
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        raise ValueError(
            f"representative_data has images of shape {images.shape[1:]}, the model takes "
            f"{tuple(image_shape)}")
    if not np.isfinite(images).all():
        raise ValueError("representative_data holds NaN or infinite values")
    if not (images.min() >= 0 and images.max() <= 1):
        raise ValueError("representative_data must be float images in [0, 1] "
                         f"(got values in [{images.min():g}, {images.max():g}])")
    return images


def _conversion_error(err: BaseException) -> str:
    """One line for a converter error: the TensorFlow ops without a TFLite builtin, if that is
    the cause, else the first line of the message."""
    missing = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(err))))
    if missing:
        return f"no TFLite builtin for {', '.join(missing)} (only builtin ops are allowed)"
    return first_line(err)


def builtin_ops(tflite_model: bytes) -> list[str]:
    """The operator names a TFLite flatbuffer uses; custom ops (Flex included) by their code."""
    from ai_edge_litert import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    model = schema.Model.GetRootAs(tflite_model, 0)
    result = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.CustomCode()
            result.append("custom:" + (custom.decode() if isinstance(custom, bytes) else str(custom)))
        else:
            result.append(names.get(builtin, f"builtin:{builtin}"))
    return result


def _convert(saved_model: Path, keys: list[str], quantize: str,
             representative: Callable[[], Iterator[Any]] | None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    with warnings.catch_warnings(), native_logs_muted():  # the converter's C++ log lines
        # Calibration runs the deprecated tf.lite.Interpreter internally.
        warnings.simplefilter("ignore", UserWarning)
        return converter.convert()


def export_tflite(
    model_or_savedmodel_path: BaseAutoencoder | str | os.PathLike,
    path: str | os.PathLike,
    *,
    quantize: str = "none",
    representative_data: np.ndarray | None = None,
    overwrite: bool = False,
    threshold: Threshold | None = None,
) -> Path:
    """Write one multi-signature `.tflite` file (builtin ops only) for a model or SavedModel.

    `quantize` is `none` (float32), `float16`, `dynamic` (int8 weights) or `int8` (int8 weights
    and activations with float32 inputs/outputs, calibrated on up to 200 of the images in
    `representative_data`, which int8 requires). A fitted `threshold` (keras_ae.analysis.detect)
    adds the `is_anomaly` signature when exporting a model.
    """
    path = Path(path)
    if path.suffix != TFLITE_SUFFIX:
        raise ValueError(f"TFLite files end in {TFLITE_SUFFIX}, got {path}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantize {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if quantize == "int8" and representative_data is None:
        raise ValueError("int8 quantisation needs representative_data (images to calibrate on)")
    if quantize != "int8" and representative_data is not None:
        raise ValueError(f"representative_data is only used by int8 quantisation, not {quantize!r}")
    _refuse_existing(path, overwrite)
    if path.is_dir():
        raise ExportError(f"cannot export to {path}: it is a directory")
    from_path = isinstance(model_or_savedmodel_path, (str, os.PathLike))
    if from_path and threshold is not None:
        raise ValueError("threshold applies when exporting a model, not a SavedModel "
                         "(export the SavedModel with the threshold instead)")
    if not from_path:
        model = _keras_ae_model(model_or_savedmodel_path)
        signature_names(model, threshold)  # the threshold's type, before any work
        if quantize == "int8":  # the calibration images, before any work
            _check_representative(representative_data, model.image_shape)

    with tempfile.TemporaryDirectory(prefix="keras_ae_export.") as scratch:
        if from_path:
            saved_model = Path(model_or_savedmodel_path)
            source = f"SavedModel {saved_model}"
        else:
            saved_model = export_saved_model(model_or_savedmodel_path, Path(scratch) / "saved_model",
                                             threshold=threshold)
            source = f"model {model_or_savedmodel_path.name!r}"
        loaded, keys = _load_saved_model(saved_model)
        representative = None
        if quantize == "int8":
            images = _check_representative(representative_data, _image_shape(loaded, keys))
            representative = _representative_dataset(loaded, keys, images)
        try:
            flatbuffer = _convert(saved_model, keys, quantize, representative)
        except Exception as err:  # noqa: BLE001 - converter errors are long; keep the first line
            raise ExportError(f"TFLite conversion of {source} failed: {_conversion_error(err)}") from err
    unsupported = sorted({op for op in builtin_ops(flatbuffer) if op.startswith("custom:")})
    if unsupported:
        raise ExportError(f"TFLite conversion produced non-builtin ops: {', '.join(unsupported)}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(flatbuffer)
    return path
