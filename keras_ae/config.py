"""One dataclass describes a run: the model (architecture x objective), the data and training."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

ARCHITECTURES = ("dense", "conv", "linear")
OBJECTIVES = ("autoencoder", "vae")


@dataclasses.dataclass
class RunConfig:
    """Everything needed to build, train and reproduce one model.

    Model: `architecture` (dense | conv | linear), `objective` (autoencoder | vae), `latent_dim`,
    `hidden_units` (dense layer sizes, encoder side; the decoder mirrors them), `conv_filters`
    (conv layers, encoder side), `latent_activation` (None = linear, or as the sparsity needs),
    `loss` (mse | bce, autoencoders), `denoise` (`KIND:AMOUNT`), `sparsity` (`l1:W` | `kl:RHO[:W]`),
    `beta`, `likelihood` (bernoulli | gaussian) and `sigma` (VAE).
    Data: `dataset` (tfds name, IDX or image folder, or .npz), `data_dir`, `validation_fraction`,
    `image_size` ((height, width) to resize to; None = the images' own), `color_mode`
    (grayscale | rgb | rgba; None = the source's own), `skip_bad_images` (leave out unreadable
    image files instead of stopping).
    Training: `epochs`, `batch_size`, `learning_rate`, `seed`, `early_stopping` (patience in
    epochs, None = off).
    """

    preset: str = "seed"
    architecture: str = "dense"
    objective: str = "autoencoder"
    latent_dim: int = 32
    hidden_units: tuple[int, ...] = (128, 64)
    conv_filters: tuple[int, ...] = (32, 64)
    latent_activation: str | None = None
    loss: str = "mse"
    denoise: str | None = None
    sparsity: str | None = None
    beta: float = 1.0
    likelihood: str = "bernoulli"
    sigma: float = 0.1
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

    def __post_init__(self) -> None:
        try:
            self.hidden_units = tuple(int(u) for u in self.hidden_units)
            self.conv_filters = tuple(int(f) for f in self.conv_filters)
        except (TypeError, ValueError):
            raise ValueError("hidden_units and conv_filters are lists of integers, got "
                             f"{self.hidden_units!r} and {self.conv_filters!r}") from None
        if self.image_size is not None:
            from keras_ae.data.images import parse_image_size

            self.image_size = parse_image_size(self.image_size)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first option that is out of range."""
        try:
            self._validate()
        except TypeError as err:  # e.g. null or a list where a number belongs
            raise ValueError(f"bad config value: {err}") from None

    def _validate(self) -> None:
        from keras_ae.data.images import channels_of
        from keras_ae.data.noise import parse_noise
        from keras_ae.models.losses import RECONSTRUCTION_LOSSES
        from keras_ae.models.sparsity import Sparsity
        from keras_ae.models.vae import LIKELIHOODS

        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}")
        if self.loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(RECONSTRUCTION_LOSSES)}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")
        for name in ("latent_dim", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.early_stopping is not None and int(self.early_stopping) < 1:
            raise ValueError(f"early_stopping (patience) must be >= 1, got {self.early_stopping}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        for name in ("learning_rate", "sigma"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a finite number > 0, got {getattr(self, name)}")
        if not 0 <= self.beta < math.inf:
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta}")
        if self.denoise is not None:
            parse_noise(self.denoise)
        if self.color_mode is not None:
            channels_of(self.color_mode)
        if not isinstance(self.skip_bad_images, bool):
            raise ValueError(f"skip_bad_images must be true or false, got {self.skip_bad_images!r}")
        sparsity = Sparsity.parse(self.sparsity)
        if self.architecture == "linear" and (self.loss == "bce" or (sparsity and sparsity.kind == "kl")):
            raise ValueError("the linear architecture has an unbounded code and output: it takes "
                             "the mse loss and l1 sparsity, not bce or kl")
        if self.objective == "vae" and self.sparsity:
            raise ValueError("sparsity applies to autoencoders, not to the VAE (its KL term regularises the code)")
        if self.objective == "vae" and self.architecture == "linear":
            raise ValueError("the linear architecture is for plain autoencoders; use dense or conv for a VAE")

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with `changes` applied (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

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
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> None:
        """Write the config as JSON, atomically."""
        from keras_ae.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RunConfig":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read config {path}: {err}") from err
