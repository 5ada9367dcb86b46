"""Data sources and tf.data pipelines for autoencoders.

Sources: folders of images (PNG, JPEG, BMP, GIF), tensorflow-datasets names, folders of IDX
files, ``.npz`` files and in-memory arrays. Sources on disk are index-addressable and read as
the pipelines run. Every data problem raises :class:`DataError`.
"""

from .batches import in_batches
from .errors import DataError
from .idx import read_idx_images, read_idx_labels
from .images import COLOR_MODES, IMAGE_SUFFIXES, parse_image_size
from .loading import clear_cache, load_arrays, load_dataset, open_data, open_split
from .noise import NOISE_KINDS, Noise, parse_noise
from .pipeline import (
    TrainingData,
    autoencoder_dataset,
    epoch_pipeline,
    make_pipeline,
    split_pipeline,
    training_data,
)
from .sources import ArraySource, Source, Split, reading_errors
from .splits import SPLITS
from .validate import as_float_images, validate_images, validate_labels

__all__ = [
    "COLOR_MODES",
    "ArraySource",
    "DataError",
    "IMAGE_SUFFIXES",
    "NOISE_KINDS",
    "Noise",
    "SPLITS",
    "Source",
    "Split",
    "TrainingData",
    "as_float_images",
    "in_batches",
    "autoencoder_dataset",
    "clear_cache",
    "epoch_pipeline",
    "load_arrays",
    "load_dataset",
    "make_pipeline",
    "open_data",
    "open_split",
    "parse_image_size",
    "parse_noise",
    "read_idx_images",
    "read_idx_labels",
    "reading_errors",
    "split_pipeline",
    "training_data",
    "validate_images",
    "validate_labels",
]
