"""keras_ae: autoencoders for Keras 3 — train, evaluate, use and export them."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_ae.quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()  # imports only: devices stay configurable

from keras_ae.config import RunConfig  # noqa: E402
from keras_ae.data.noise import Noise  # noqa: E402
from keras_ae.models import (Autoencoder, ContractiveAutoencoder, Sampling, Sparsity,  # noqa: E402
                             VariationalAutoencoder, VQVAE)
from keras_ae.presets import PRESETS, build, preset_config  # noqa: E402
from keras_ae.saving import load_model  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "PRESETS", "Autoencoder", "ContractiveAutoencoder", "Noise", "RunConfig", "Sampling",
    "Sparsity", "VQVAE", "VariationalAutoencoder", "build", "load_model", "preset_config",
]
