"""Autoencoder models: reconstruction objectives (plain, denoising, sparse) and the VAE."""

from keras_ae.models.autoencoder import Autoencoder
from keras_ae.models.objective import Objective, Option
from keras_ae.models.sparsity import Sparsity
from keras_ae.models.vae import Sampling, VariationalAutoencoder, gaussian_kl

__all__ = ["Autoencoder", "Objective", "Option", "Sampling", "Sparsity", "VariationalAutoencoder",
           "gaussian_kl"]
