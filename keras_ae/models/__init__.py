"""Autoencoder models: reconstruction objectives (plain, denoising, sparse) and the VAE."""

from keras_ae.models.autoencoder import Autoencoder
from keras_ae.models.sparsity import Sparsity
from keras_ae.models.vae import Sampling, VariationalAutoencoder, gaussian_kl

__all__ = ["Autoencoder", "Sampling", "Sparsity", "VariationalAutoencoder", "gaussian_kl"]
