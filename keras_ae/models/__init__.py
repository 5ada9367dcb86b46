"""Autoencoder models on one base (`BaseAutoencoder`): reconstruction objectives (plain,
denoising, sparse), the VAE, the contractive autoencoder, the VQ-VAE and the one-class autoencoder; the cluster assignment
layer of deep clustering."""

from keras_ae.utils.backend import require_tensorflow

require_tensorflow()  # before Keras is imported

from keras_ae.models.autoencoder import Autoencoder  # noqa: E402
from keras_ae.models.base import BaseAutoencoder, check_autoencoder
from keras_ae.models.cluster_assignment import ClusterAssignment
from keras_ae.models.contractive import ContractiveAutoencoder
from keras_ae.models.image_encoder import ImageEncoder
from keras_ae.models.memory import NeighbourMemory, NotAdaptedError
from keras_ae.models.objective import Objective, Option
from keras_ae.models.one_class import OneClassAutoencoder
from keras_ae.models.sparsity import Sparsity
from keras_ae.models.vae import Sampling, VariationalAutoencoder, gaussian_kl
from keras_ae.models.vq_vae import VQVAE, VectorQuantizer

__all__ = ["Autoencoder", "BaseAutoencoder", "ClusterAssignment", "ContractiveAutoencoder",
           "ImageEncoder", "NeighbourMemory", "NotAdaptedError", "Objective",
           "OneClassAutoencoder", "Option", "Sampling", "Sparsity", "VQVAE",
           "VariationalAutoencoder", "VectorQuantizer", "check_autoencoder", "gaussian_kl"]
