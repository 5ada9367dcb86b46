"""Named configurations and `build()`, which turns a config into a compiled model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from keras_ae.utils.backend import require_tensorflow

require_tensorflow()  # before Keras is imported

import keras  # noqa: E402

from keras_ae.models import nets
from keras_ae.models import BaseAutoencoder
from keras_ae.models.config import RunConfig
from keras_ae.models.objectives import OBJECTIVES
from keras_ae.models.precision import policy_for, precision_policy

MNIST_SHAPE = (28, 28, 1)

PRESETS: dict[str, dict[str, Any]] = {
    # The classic MNIST net: 784-128-64-32 ReLU encoder, mirrored decoder with sigmoid, MSE.
    "seed": {},
    "dense": {"hidden_units": (256, 128)},
    "denoising": {"hidden_units": (256, 128), "denoise": "gaussian:0.5"},
    "sparse": {"hidden_units": (256, 128), "latent_dim": 64, "sparsity": "l1:1e-4"},
    "overcomplete": {"hidden_units": (1024,), "latent_dim": 1024, "sparsity": "l1:1e-5"},
    # The DEC paper's autoencoder (dense 500-500-2000, a 10-d code): the codes to cluster.
    "dec": {"hidden_units": (500, 500, 2000), "latent_dim": 10},
    # Conv 32/64 as plain Keras writes it, trained in batches of 64 and, where the hardware
    # computes bfloat16 or float16 natively, in mixed precision: faster and better (docs/speed.md).
    "conv": {"architecture": "conv", "conv_filters": (32, 64), "batch_size": 64,
             "mixed_precision": "auto"},
    # The same network the way plain Keras trains it (float32, batches of 128): the baseline.
    "conv_plain": {"architecture": "conv", "conv_filters": (32, 64)},
    "linear": {"architecture": "linear"},
    "vae": {"objective": "vae", "hidden_units": (512, 256), "latent_dim": 16},
    "conv_vae": {"objective": "vae", "architecture": "conv", "conv_filters": (32, 64),
                 "hidden_units": (256,), "latent_dim": 2, "mixed_precision": "auto"},
    # The keras.io example VAE (conv 32/64, dense 16, latent 2): the baseline for conv_vae.
    "keras_io_vae": {"objective": "vae", "architecture": "conv", "conv_filters": (32, 64),
                     "hidden_units": (16,), "latent_dim": 2},
    # Contractive: dense 256-128, ReLU code, penalty 1e-4 * ||dz/dx||^2 (autodiff Jacobian).
    "contractive": {"objective": "contractive", "hidden_units": (256, 128)},
    # VQ-VAE: conv 32-64 to a 7x7 map of 16-d vectors, each one of 128 codes (343 bits a digit).
    "vq_vae": {"objective": "vq_vae", "architecture": "conv", "conv_filters": (32, 64),
               "latent_dim": 16},
    # Anomaly detection on one kind of image: the conv net, scored by the mean distance to the
    # 5 nearest training images as blurred pixels (docs/anomaly-detection.md, the one-class table).
    "one_class": {"objective": "one_class", "architecture": "conv", "conv_filters": (32, 64),
                  "batch_size": 64, "mixed_precision": "auto", "epochs": 10},
}


def preset_config(name: str, **overrides: Any) -> RunConfig:
    """The RunConfig of preset `name`, with `overrides` (fields or the objective's options; None
    values ignored) applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    return RunConfig(preset=name).replace(**PRESETS[name]).replace(**overrides)


def _nets(config: RunConfig, input_shape: Sequence[int]) -> tuple[keras.Model, keras.Model]:
    objective = config.objective_spec
    heads = objective.encoder_heads
    latent_activation = config.latent_activation or objective.latent_activation(config.options)
    output_activation = "sigmoid"
    if objective.code == "map":  # a feature map of latent_dim channels (conv only)
        encoder = nets.conv_map_encoder(input_shape, config.latent_dim, config.conv_filters)
        decoder = nets.conv_map_decoder(encoder.outputs[0].shape[1:], input_shape,
                                        config.conv_filters[::-1],
                                        output_activation=output_activation)
        return encoder, decoder
    if config.architecture == "linear":
        return (nets.linear_encoder(input_shape, config.latent_dim),
                nets.linear_decoder(config.latent_dim, input_shape))
    if config.architecture == "dense":
        encoder = nets.dense_encoder(input_shape, config.latent_dim, config.hidden_units,
                                     latent_activation=latent_activation, heads=heads)
        decoder = nets.dense_decoder(config.latent_dim, input_shape, config.hidden_units[::-1],
                                     output_activation=output_activation)
        return encoder, decoder
    encoder = nets.conv_encoder(input_shape, config.latent_dim, config.conv_filters,
                                dense_units=config.hidden_units if heads == 2 else (),
                                latent_activation=latent_activation, heads=heads)
    decoder = nets.conv_decoder(config.latent_dim, input_shape, config.conv_filters[::-1],
                                output_activation=output_activation)
    return encoder, decoder


def build(
    config: RunConfig | str = "seed",
    input_shape: Sequence[int] = MNIST_SHAPE,
    *,
    compile: bool = True,
    **overrides: Any,
) -> BaseAutoencoder:
    """Build (and compile with Adam) the model described by `config` or a preset name.

    It compiles as Keras does by default (`build_compile_options`): one step per call, Keras's
    own choice of XLA; `keras_ae.training.train` compiles it again for speed (`compile_options`).

    With `config.mixed_precision` the layers compute in float16 on a GPU, bfloat16 on a CPU;
    otherwise Keras's global dtype policy applies. Losses, metrics, inputs and outputs stay
    float32 under any policy.

    >>> model = build("conv_vae", latent_dim=2)
    """
    if isinstance(config, str):
        config = preset_config(config, **overrides)
    elif not isinstance(config, RunConfig):
        raise TypeError(f"build takes a preset name ({', '.join(PRESETS)}) or a RunConfig, got "
                        f"{config!r}")
    elif overrides:
        config = config.replace(**overrides)
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    _check_regularised(config, input_shape)
    _check_size(config, input_shape)
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    policy = policy_for(config.mixed_precision)
    with precision_policy(policy) if policy else nullcontext():  # else Keras's global policy
        encoder, decoder = _nets(config, input_shape)
        model = config.objective_spec.build(encoder, decoder, config.options, seed=config.seed,
                                            name=config.preset)
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      **build_compile_options(config))
        model.optimizer.build(model.trainable_variables)  # saved files then always hold its state
    return model


STEPS_PER_EXECUTION = 32
"""Training steps per call of the compiled training function (`keras_ae.training.train` reads
them from memory as one group of batches: `keras_ae.models.batch_groups`)."""


def build_compile_options(config: RunConfig) -> dict[str, Any]:
    """Keras's `jit_compile` and `steps_per_execution` that `build` compiles with: as set in
    `config`, else Keras's defaults ("auto", 1), without XLA for an objective that refuses it."""
    xla = "auto" if OBJECTIVES[config.objective].xla else False
    return {"jit_compile": xla if config.jit_compile is None else config.jit_compile,
            "steps_per_execution": config.steps_per_execution or 1}


def compile_options(config: RunConfig) -> dict[str, Any]:
    """Keras's `jit_compile` and `steps_per_execution` that `keras_ae.training.train` compiles
    with: as set in `config`, or what trains its architecture fastest on a CPU (benchmarks/train_speed.py): 32 steps per call for every
    network, so that Python's per-step work is paid once per 32 steps; XLA for dense and linear
    networks, not for convolutions, which XLA compiles slower than oneDNN runs them, nor for an
    objective that refuses it (the contractive penalty)."""
    xla = config.architecture in ("dense", "linear") and OBJECTIVES[config.objective].xla
    return {"jit_compile": xla if config.jit_compile is None else config.jit_compile,
            "steps_per_execution": config.steps_per_execution or STEPS_PER_EXECUTION}


def _check_regularised(config: RunConfig, input_shape: Sequence[int]) -> None:
    """An overcomplete autoencoder (code larger than the input) can learn the identity, so it
    must have a regulariser: sparsity, denoising or the VAE's KL term."""
    size = 1
    for d in input_shape:
        size *= d
    if config.latent_dim >= size and not config.objective_spec.regularises(config.options):
        raise ValueError(
            f"latent_dim {config.latent_dim} >= input size {size} makes an overcomplete autoencoder "
            "that can copy its input; add a regulariser (sparsity= or denoise=; on the command "
            "line --sparse or --denoise)")


def parameter_count(config: RunConfig, input_shape: Sequence[int] = MNIST_SHAPE) -> int:
    """The number of weights of the encoder and decoder of `build(config, input_shape)`,
    computed without building anything (an objective's own weights, such as a VQ-VAE's
    codebook, come on top)."""
    height, width, channels = (int(d) for d in input_shape)
    pixels, latent = height * width * channels, config.latent_dim
    heads = config.objective_spec.encoder_heads

    def dense(sizes):  # a chain of Dense layers with biases
        return sum(a * b + b for a, b in zip(sizes, sizes[1:]))

    kernel = 3 * 3
    filters = list(config.conv_filters)
    if objective_code(config) == "map":  # conv_map_encoder / conv_map_decoder
        encoder, fan_in = 0, channels
        for f in filters:
            encoder += kernel * fan_in * f + f
            fan_in = f
        encoder += fan_in * latent + latent  # the 1x1 convolution to the code
        decoder, fan_in = 0, latent
        for f in filters[::-1]:
            decoder += kernel * fan_in * f + f
            fan_in = f
        return encoder + decoder + kernel * fan_in * channels + channels
    if config.architecture == "linear":
        return 2 * pixels * latent
    if config.architecture == "dense":
        units = list(config.hidden_units)
        last = units[-1] if units else pixels
        return (dense([pixels, *units]) + heads * dense([last, latent])
                + dense([latent, *units[::-1], pixels]))
    dense_units = list(config.hidden_units) if heads == 2 else []
    encoder, fan_in, h, w = 0, channels, height, width
    for f in filters:
        encoder += kernel * fan_in * f + f
        fan_in, h, w = f, -(-h // 2), -(-w // 2)
    flat = h * w * fan_in
    encoder += dense([flat, *dense_units]) + heads * dense([dense_units[-1] if dense_units else flat, latent])
    scale = 2 ** len(filters)
    first = filters[-1] if filters else channels
    decoder = dense([latent, -(-height // scale) * -(-width // scale) * first])
    fan_in = first
    for f in filters[::-1]:
        decoder += kernel * fan_in * f + f
        fan_in = f
    return encoder + decoder + kernel * fan_in * channels + channels


def objective_code(config: RunConfig) -> str:
    """The shape of the objective's code: "vector" or "map" (a feature map)."""
    return getattr(config.objective_spec, "code", "vector")


BYTES_PER_PARAMETER = 16  # float32 weights, gradients and Adam's two moments


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_size(config: RunConfig, input_shape: Sequence[int]) -> None:
    """Refuse, before any weight is allocated, a model whose training state cannot fit in this
    machine's memory (a mistyped latent_dim or hidden_units)."""
    count = parameter_count(config, input_shape)
    needed, memory = count * BYTES_PER_PARAMETER, _memory_bytes() or 2**31 * BYTES_PER_PARAMETER
    if needed > memory:
        raise ValueError(
            f"the model would have {count:,} parameters, about {needed / 1e9:,.1f} GB to train "
            f"(float32 weights, gradients and Adam's state), more than this machine's "
            f"{memory / 1e9:,.1f} GB of memory; lower latent_dim, hidden_units or conv_filters")
