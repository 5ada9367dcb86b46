"""The autoencoder: an encoder, a decoder and a reconstruction objective.

Denoising (corrupt the input while training) and sparsity (a penalty on the code) are options
of this objective, so every architecture gets both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from keras_ae.data.noise import NOISE_KINDS, parse_noise
from keras_ae.models.base import BaseAutoencoder
from keras_ae.models.losses import RECONSTRUCTION_LOSSES
from keras_ae.models.objective import Objective, Option, choice, optional
from keras_ae.models.sparsity import Sparsity


@keras.saving.register_keras_serializable(package="keras_ae")
class Autoencoder(BaseAutoencoder):
    """x -> encoder -> z -> decoder -> x_hat, trained to reconstruct the clean input.

    Args:
        encoder: a built model from images (H, W, C) to latent codes.
        decoder: a built model from latent codes to images of the input's shape.
        loss: per-pixel reconstruction loss, `mse` or `bce` (also the anomaly score).
        denoise: a corruption (`Noise` or `KIND:AMOUNT`) of the input, applied in training only
            (like `keras.layers.GaussianNoise`).
        sparsity: a penalty on the code (`Sparsity` or `l1:W` / `kl:RHO[:W]`).
        seed: seed of the corruption noise.

    Inputs are images as float32 in [0, 1] or uint8 in [0, 255] (divided by 255), shape
    (batch, H, W, C); any other dtype or shape is a ValueError naming it. `compile(loss=...)`
    replaces the reconstruction term in training (the anomaly score keeps `loss`).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, loss: str = "mse",
                 denoise: str | None = None, sparsity: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        self.loss_name = loss
        self.denoise = None if denoise is None else parse_noise(denoise)
        self.sparsity = Sparsity.parse(sparsity)
        super().__init__(encoder, decoder, seed=seed, **kwargs)

    @classmethod
    def loss_term_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        return super().loss_term_names(options) + (
            ("sparsity_loss",) if options.get("sparsity") else ())

    def _objective_options(self) -> dict[str, Any]:
        return {**super()._objective_options(), "sparsity": self.sparsity,
                "denoise": self.denoise}

    def loss_terms(self, x, y, outputs: Mapping[str, Any], sample_weight=None) -> dict[str, Any]:
        terms = super().loss_terms(x, y, outputs, sample_weight)
        if self.sparsity is not None:
            terms["sparsity_loss"] = self.sparsity.penalty(outputs["z"], sample_weight)
        return terms

    def get_config(self):
        return {**super().get_config(), "loss": self.loss_name,
                "denoise": None if self.denoise is None else str(self.denoise),
                "sparsity": None if self.sparsity is None else str(self.sparsity)}


# --- the objective's registry entry ------------------------------------------------------------
def _noise_spec(value: Any) -> str:
    return str(parse_noise(value))


def _sparsity_spec(value: Any) -> str:
    return str(Sparsity.parse(value))


DENOISE = Option("denoise", None, optional(_noise_spec), metavar="KIND:AMOUNT",
                 help="train on corrupted inputs: " + ", ".join(f"{k}:AMOUNT" for k in NOISE_KINDS)
                      + " (gaussian: sigma; others: pixel fraction)")


def _check(options: Mapping[str, Any], architecture: str) -> None:
    sparsity = Sparsity.parse(options.get("sparsity"))
    if architecture == "linear" and (options["loss"] == "bce" or (sparsity and sparsity.kind == "kl")):
        raise ValueError("the linear architecture has an unbounded code and output: it takes "
                         "the mse loss and l1 sparsity, not bce or kl")


def _latent_activation(options: Mapping[str, Any]) -> str | None:
    sparsity = Sparsity.parse(options.get("sparsity"))
    return sparsity.latent_activation if sparsity else None


LOSS = Option("loss", "mse", choice("loss", RECONSTRUCTION_LOSSES), choices=RECONSTRUCTION_LOSSES,
              help="per-pixel reconstruction loss (also the anomaly score)")


OBJECTIVE = Objective(
    name="autoencoder",
    model_class=Autoencoder,
    description="reconstruct the input; denoising and sparsity are options",
    options=(
        LOSS,
        DENOISE,
        Option("sparsity", None, optional(_sparsity_spec), flag="--sparse", metavar="SPEC",
               help="penalty on the code: l1:WEIGHT or kl:RHO[:WEIGHT]"),
    ),
    latent_activation=_latent_activation,
    check=_check,
    regularises=lambda options: bool(options.get("sparsity") or options.get("denoise")),
)
