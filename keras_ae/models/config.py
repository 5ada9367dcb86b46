"""One dataclass describes a run: the model (architecture x objective), the data and training."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keras_ae.data.images import channels_of, parse_image_size
from keras_ae.models.objectives import all_options, get_objective
from keras_ae.utils.io import atomic_write_text

ARCHITECTURES = ("dense", "conv", "linear")


@dataclasses.dataclass
class RunConfig:
    """Everything needed to build, train and reproduce one model.

    Model: `architecture` (dense | conv | linear), `objective` (a name in
    `keras_ae.models.objectives.OBJECTIVES`), `latent_dim`, `hidden_units` (dense layer sizes,
    encoder side; the decoder mirrors them), `conv_filters` (conv layers, encoder side),
    `latent_activation` (None = linear, or as the objective needs) and `options`: the objective's
    own options (e.g. `loss`, `denoise`, `sparsity` of the autoencoder; `beta`, `likelihood` of
    the VAE), validated by the objective, with its defaults filled in.
    Data: `dataset` (tfds name, IDX or image folder, or .npz), `data_dir`, `validation_fraction`,
    `image_size` ((height, width) to resize to; None = the images' own), `color_mode`
    (grayscale | rgb | rgba; None = the source's own), `skip_bad_images` (leave out unreadable
    image files instead of stopping).
    Training: `epochs`, `batch_size`, `learning_rate`, `seed`, `early_stopping` (patience in
    epochs, None = off), `mixed_precision` (True: float16 on a GPU, bfloat16 on a CPU; "auto":
    so where the hardware computes it natively, a GPU or a CPU with bfloat16 instructions, else
    float32, or Keras's global policy when the program set one; "on" and "off" mean true and
    false; False leaves Keras's global policy), `jit_compile` and `steps_per_execution`
    (Keras's compile options; None = what is fastest for the architecture, see
    `keras_ae.models.presets.compile_options`).

    `replace(beta=4)` and `preset_config("vae", beta=4)` take objective options by name, beside
    the fields; an option of another objective is a ValueError naming the objective.
    """

    preset: str = "seed"
    architecture: str = "dense"
    objective: str = "autoencoder"
    latent_dim: int = 32
    hidden_units: tuple[int, ...] = (128, 64)
    conv_filters: tuple[int, ...] = (32, 64)
    latent_activation: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    dataset: str = "mnist"
    data_dir: str | None = None
    validation_fraction: float = 0.1
    image_size: tuple[int, int] | None = None
    color_mode: str | None = None
    skip_bad_images: bool = False
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int | None = 0
    early_stopping: int | None = None
    mixed_precision: bool | str = False
    jit_compile: bool | None = None
    steps_per_execution: int | None = None

    def __post_init__(self) -> None:
        for name in ("hidden_units", "conv_filters"):
            value = getattr(self, name)
            if (isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable)
                    or not all(_is_int(u) and u >= 1 for u in value)):
                raise ValueError(f"hidden_units and conv_filters are lists of integers >= 1, "
                                 f"got {name}={value!r}")
            setattr(self, name, tuple(int(u) for u in value))
        if isinstance(self.mixed_precision, str):
            self.mixed_precision = _MIXED_PRECISION.get(self.mixed_precision, self.mixed_precision)
        if not isinstance(self.options, dict):
            raise ValueError(f"options is a JSON object of the objective's options, got {self.options!r}")
        if self.image_size is not None:
            self.image_size = parse_image_size(self.image_size)
        self.validate()

    @property
    def objective_spec(self):
        """The registry entry of this config's objective."""
        return get_objective(self.objective)

    def validate(self) -> None:
        """Raise ValueError naming the first option that is out of range; fill in the
        objective's defaults."""
        try:
            self._validate()
        except TypeError as err:  # e.g. null or a list where a number belongs
            raise ValueError(f"bad config value: {err}") from None

    def _validate(self) -> None:
        _check_types(self)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
        self.options = self.objective_spec.resolve(self.options, self.architecture)
        for name in _INTEGERS:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise ValueError(f"early_stopping (patience) must be >= 1, got {self.early_stopping}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not 0 < self.learning_rate < math.inf:
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if not (isinstance(self.mixed_precision, bool) or self.mixed_precision == "auto"):
            raise ValueError("mixed_precision is true (\"on\"), false (\"off\") or \"auto\", got "
                             f"{self.mixed_precision!r}")
        if not (self.jit_compile is None or isinstance(self.jit_compile, bool)):
            raise ValueError(f"jit_compile is true, false or null (auto), got {self.jit_compile!r}")
        if self.steps_per_execution is not None and self.steps_per_execution < 1:
            raise ValueError("steps_per_execution must be >= 1 or null (auto), got "
                             f"{self.steps_per_execution!r}")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if self.latent_activation is not None:
            import keras

            try:
                keras.activations.get(self.latent_activation)
            except ValueError:
                raise ValueError(f"unknown latent_activation {self.latent_activation!r} (a Keras "
                                 "activation name such as relu or sigmoid)") from None
        if self.color_mode is not None:
            channels_of(self.color_mode)
        if not isinstance(self.skip_bad_images, bool):
            raise ValueError(f"skip_bad_images must be true or false, got {self.skip_bad_images!r}")

    def differences(self, other: "RunConfig", *, ignore: Iterable[str] = ()) -> list[str]:
        """One phrase per option that differs from `other` ("option X differs: run has A,
        command gives B", this config being the run's), objective options by their own name."""
        mine, theirs = self._flat(), other._flat()
        skip = set(ignore)
        return [f"option {key} differs: run has {_shown(mine.get(key))}, command gives "
                f"{_shown(theirs.get(key))}"
                for key in dict.fromkeys([*mine, *theirs])
                if key not in skip and mine.get(key) != theirs.get(key)]

    def _flat(self) -> dict[str, Any]:
        data = self.to_dict()
        return {**{k: v for k, v in data.items() if k != "options"}, **data["options"]}

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with `changes` applied (None values are ignored): fields by name, and the
        objective's options by name. Changing the objective starts from its default options."""
        changes = {k: v for k, v in changes.items() if v is not None}
        fields = {f.name for f in dataclasses.fields(self)}
        known = [*fields, *all_options()]
        for key in changes:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = (f"did you mean {close[0]!r}?" if close else
                        f"the fields: {', '.join(sorted(fields))}; the objectives' options: "
                        f"{', '.join(sorted(all_options()))}")
                raise ValueError(f"unknown option {key!r}; {hint}")
        options = {k: changes.pop(k) for k in list(changes) if k not in fields}
        objective = changes.get("objective", self.objective)
        base = dict(changes.get("options", self.options if objective == self.objective else {}))
        return dataclasses.replace(self, **{**changes, "options": {**base, **options}})

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden_units"] = list(self.hidden_units)
        data["conv_filters"] = list(self.conv_filters)
        if self.image_size is not None:
            data["image_size"] = list(self.image_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        if not isinstance(data, dict):
            raise ValueError(f"a config is a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            names = ", ".join(k if k.isidentifier() else repr(k) for k in unknown)
            raise ValueError(f"unknown config keys: {names} (objective options go under "
                             "\"options\")")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> None:
        """Write the config as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RunConfig":
        """The config in a config.json; ValueError naming the file and the problem."""
        try:
            data = json.loads(Path(path).read_bytes())
        except (OSError, ValueError, RecursionError) as err:  # JSON and UTF-8 errors are ValueErrors
            reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
            raise ValueError(f"cannot read config {path}: {reason}") from None
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"config {path}: {err}") from None


_MIXED_PRECISION = {"on": True, "off": False}  # the command line's words for true and false

# --- field types -------------------------------------------------------------------------------
_INTEGERS = ("latent_dim", "epochs", "batch_size")
_OPTIONAL_INTEGERS = ("seed", "early_stopping", "steps_per_execution")
_NUMBERS = ("validation_fraction", "learning_rate")
_STRINGS = ("preset", "architecture", "objective", "dataset")
_OPTIONAL_STRINGS = ("data_dir", "latent_activation", "color_mode")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_types(config: RunConfig) -> None:
    """TypeError naming the first field whose value has the wrong type (a JSON string where a
    number belongs, a float epoch count, ...)."""
    def wrong(name: str, kind: str):
        return TypeError(f"{name} must be {kind}, got {getattr(config, name)!r}")

    for name in _INTEGERS + _OPTIONAL_INTEGERS:
        value = getattr(config, name)
        if not (_is_int(value) or (value is None and name in _OPTIONAL_INTEGERS)):
            raise wrong(name, "an integer" + (" or null" if name in _OPTIONAL_INTEGERS else ""))
    for name in _NUMBERS:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise wrong(name, "a number")
    for name in _STRINGS + _OPTIONAL_STRINGS:
        value = getattr(config, name)
        if not (isinstance(value, str) or (value is None and name in _OPTIONAL_STRINGS)):
            raise wrong(name, "a string" + (" or null" if name in _OPTIONAL_STRINGS else ""))
    if not config.dataset.strip():
        raise ValueError("dataset must name a dataset, a folder or an .npz file, got ''")


def _shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value) if isinstance(value, str) else repr(value)
