"""`mixed_precision="auto"` in training, decided by measurement: a few training steps of the
run's own model in float32 and in the mixed policy, the faster one taken. The result is cached
per machine and model (`cache_dir()`), so a machine measures a model once, and recorded in the
run folder (`CHOICES_FILE`), so a resumed run computes as it started."""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from keras_ae.models.config import RunConfig
from keras_ae.models.precision import mixed_precision_policy, precision_policy
from keras_ae.models.presets import build, compile_options
from keras_ae.training.run_folder import CHOICES_FILE
from keras_ae.utils.io import atomic_write_text
from keras_ae.utils.machine import cpu

__all__ = ["CHOICES_FILE", "PrecisionChoice", "applies", "cache_dir", "choose_precision",
           "machine", "record_choice", "recorded_choice", "step_seconds"]

logger = logging.getLogger(__name__)

MODEL_FIELDS = ("preset", "architecture", "objective", "latent_dim", "hidden_units",
                "conv_filters", "latent_activation", "options", "batch_size", "jit_compile",
                "steps_per_execution")
"""The fields of a RunConfig that decide how fast a training step runs."""

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class PrecisionChoice:
    """The policy training computes in, and the measured seconds per step of each candidate;
    `measured` is False when the timings came from the cache."""

    policy: str
    seconds_per_step: dict[str, float]
    measured: bool = True

    def describe(self) -> str:
        timings = ", ".join(f"{policy} {seconds * 1000:.1f} ms"
                            for policy, seconds in self.seconds_per_step.items())
        how = "measured now" if self.measured else "measured before on this machine"
        return f"mixed precision auto: {self.policy} (per training step: {timings}; {how})"


def cache_dir() -> Path:
    """Where measurements are kept: $KERAS_AE_CACHE_DIR, else $XDG_CACHE_HOME/keras_ae, else
    ~/.cache/keras_ae."""
    if os.environ.get("KERAS_AE_CACHE_DIR"):
        return Path(os.environ["KERAS_AE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras_ae"


def machine() -> dict:
    """What a step's speed depends on besides the model: the CPU (model name and the flags that
    matter for half precision), the GPUs and TensorFlow's version."""
    import tensorflow as tf

    name, flags = cpu().model, cpu().flags
    gpus = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in tf.config.list_physical_devices("GPU")]
    return {"cpu": name, "flags": sorted(flags & set(CPU_FLAGS)), "gpus": gpus,
            "tensorflow": tf.__version__}


def step_seconds(config: RunConfig, input_shape: tuple, policy: str, steps: int = 5) -> float:
    """The median seconds of one training step of `config`'s model computing in `policy`, on
    a batch of random images, after two steps that compile it."""
    with precision_policy(policy):
        model = build(config.replace(mixed_precision=False), input_shape=input_shape)
    model.compile(optimizer=model.optimizer,
                  **{**compile_options(config), "steps_per_execution": 1})
    x = np.random.default_rng(0).integers(0, 256, (config.batch_size, *input_shape), "uint8")
    for _ in range(2):
        model.train_on_batch(x)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _key(config: RunConfig, input_shape: tuple) -> str:
    model = {field: value for field, value in config.to_dict().items() if field in MODEL_FIELDS}
    return json.dumps({"machine": machine(), "model": model, "input_shape": list(input_shape)},
                      sort_keys=True, default=str)


def choose_precision(config: RunConfig, input_shape: tuple, *,
                     timer: Callable[..., float] | None = None) -> PrecisionChoice:
    """float32 or the mixed policy (`mixed_precision_policy()`), whichever trains `config`'s
    model faster on this machine, timed by `timer` (default `step_seconds`) or taken from the
    cache of an earlier measurement."""
    path = cache_dir() / "precision.json"
    key = _key(config, input_shape)
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache, dict) and isinstance(cache.get(key), dict):
        known = cache[key]
        return PrecisionChoice(known["policy"], known["seconds_per_step"], measured=False)
    timer = timer or step_seconds
    seconds = {policy: float(timer(config, input_shape, policy))
               for policy in ("float32", mixed_precision_policy())}
    choice = PrecisionChoice(min(seconds, key=seconds.get), seconds)
    cache = cache if isinstance(cache, dict) else {}
    cache[key] = {"policy": choice.policy, "seconds_per_step": seconds}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cache, indent=1))
    except OSError as err:  # a cache that cannot be written costs a measurement next time
        logger.warning("could not keep the precision measurement in %s (%s)", path, err)
    return choice


def recorded_choice(run_dir: Path) -> PrecisionChoice | None:
    """The precision choice recorded in a run folder, if any."""
    try:
        recorded = json.loads((Path(run_dir) / CHOICES_FILE).read_text())["mixed_precision"]
        return PrecisionChoice(recorded["policy"], recorded["seconds_per_step"], measured=False)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_choice(run_dir: Path, choice: PrecisionChoice) -> None:
    """Write `choice` to the run folder's CHOICES_FILE (atomically)."""
    atomic_write_text(Path(run_dir) / CHOICES_FILE,
                      json.dumps({"mixed_precision": asdict(choice)}, indent=1) + "\n")


def applies(config: RunConfig, replicas: int) -> bool:
    """Whether training `config` on `replicas` replicas decides its precision by measurement:
    `mixed_precision="auto"`, Keras's global policy left at float32, one replica (several
    follow the hardware rule of `keras_ae.models.precision.policy_for`)."""
    return (config.mixed_precision == "auto" and keras.config.dtype_policy().name == "float32"
            and replicas == 1)
