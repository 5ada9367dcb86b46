"""Data loading and tf.data pipelines for autoencoders.

Sources: tensorflow-datasets names, folders of IDX files, ``.npz`` files
and in-memory arrays. Every data problem raises :class:`DataError`.
"""

from .errors import DataError
from .idx import read_idx_images, read_idx_labels
from .loading import clear_cache, load_arrays, load_dataset
from .noise import NOISE_KINDS, Noise, parse_noise
from .pipeline import autoencoder_dataset, epoch_pipeline, make_pipeline
from .splits import SPLITS
from .validate import as_float_images, validate_images, validate_labels

__all__ = [
    "DataError",
    "NOISE_KINDS",
    "Noise",
    "SPLITS",
    "as_float_images",
    "autoencoder_dataset",
    "clear_cache",
    "epoch_pipeline",
    "load_arrays",
    "load_dataset",
    "make_pipeline",
    "parse_noise",
    "read_idx_images",
    "read_idx_labels",
    "validate_images",
    "validate_labels",
]
