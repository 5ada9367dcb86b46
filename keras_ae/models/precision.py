"""Mixed precision: which policy fits this machine, and building a model under a policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from keras_ae.utils.machine import cpu


def mixed_precision_policy() -> str:
    """`mixed_float16` where a GPU is visible (its tensor cores need float16), else
    `mixed_bfloat16` (CPUs and TPUs)."""
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def native_bfloat16_cpu() -> bool:
    """Whether this machine's CPU has bfloat16 instructions (AVX512-BF16 or AMX), with which
    mixed_bfloat16 runs faster than float32; without them it runs slower."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu().flags)


def policy_for(mixed_precision: bool | str) -> str | None:
    """The dtype policy a run's `mixed_precision` setting asks for on this machine (None: leave
    Keras's global policy). True: `mixed_precision_policy()`; "auto": the same where the
    hardware computes it natively (GPUs with tensor cores, CPUs with bfloat16 instructions),
    else float32; under a global policy other than float32 (set by the program), that one."""
    if mixed_precision is True:
        return mixed_precision_policy()
    if mixed_precision == "auto":
        if keras.config.dtype_policy().name != "float32":
            return None  # a policy the user set for their whole program
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if (all(_has_tensor_cores(gpu) for gpu in gpus) if gpus else native_bfloat16_cpu()):
            return mixed_precision_policy()
        return "float32"
    return None


def _has_tensor_cores(gpu) -> bool:
    """Whether a GPU computes float16 natively and fast: CUDA compute capability 7.0 or more
    (what Keras's mixed precision guide asks for)."""
    import tensorflow as tf

    capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    return capability is not None and tuple(capability) >= (7, 0)


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Layers created inside use the dtype policy `name`; the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _float32_config(config):
    """`config` with every half-precision dtype and mixed dtype policy made float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_config(value) for value in config]
    return "float32" if config in ("float16", "bfloat16") else config


def _layers(layer):
    yield layer
    for sublayer in getattr(layer, "layers", ()):
        yield from _layers(sublayer)


def is_mixed(model: keras.Model) -> bool:
    """Whether any layer of `model` computes in a precision other than float32."""
    return any(layer.dtype_policy.compute_dtype != "float32" for layer in _layers(model))


def computes_in(model: keras.Model, dtype: str) -> bool:
    """Whether any layer of `model` (its nets included) computes in `dtype`."""
    return any(layer.dtype_policy.compute_dtype == dtype for layer in _layers(model))


def float32_copy(model: keras.Model) -> keras.Model:
    """`model` itself if it computes in float32, else a copy with the same weights that does
    (what exports serve: TFLite has no builtin bfloat16 kernels)."""
    if not is_mixed(model):
        return model
    config = _float32_config(keras.saving.serialize_keras_object(model))
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy
