"""The one-class autoencoder: an autoencoder of one kind of image that also remembers the images
it was trained on, and scores a new image by its distance to the nearest of them.

On the one-class benchmark (benchmarks/one_class.py: one Fashion-MNIST class normal, the nine
others anomalous) the mean distance to the 5 nearest training images, compared as blurred and
downsampled pixels, ranked anomalies above normal images better than the reconstruction error,
the distance between codes or between the encoder's feature maps (docs/anomaly-detection.md).
So `anomaly_score` is that distance (the ``neighbours`` score of `keras-ae detect`), and the
reconstruction error stays available as the ``reconstruction`` score and in error maps.

The memory is filled by `adapt(images)`, the way Keras's preprocessing layers learn from data;
`keras_ae.training.train` (and `keras-ae train`) adapts it to the training split before the
first epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import numpy as np

from keras_ae.models.autoencoder import LOSS
from keras_ae.models.base import BaseAutoencoder
from keras_ae.models.memory import NeighbourMemory, NotAdaptedError
from keras_ae.models.objective import Objective, Option, integer, number
from keras_ae.models.pixels import float32

__all__ = ["OBJECTIVE", "OneClassAutoencoder"]


@keras.saving.register_keras_serializable(package="keras_ae")
class OneClassAutoencoder(BaseAutoencoder):
    """An autoencoder trained to reconstruct its images, whose anomaly score is the mean distance
    of an image to its `neighbours` nearest remembered training images (`NeighbourMemory`: up to
    `memory_size` of them, as pixels blurred by `blur` pixels and downsampled).

    Call `adapt(normal_images)` before scoring (`train()` does); the score of a model that has
    remembered nothing is a NotAdaptedError.
    """

    default_score = "neighbours"

    def __init__(self, encoder: keras.Model, decoder: keras.Model, loss: str = "mse",
                 neighbours: int = 5, memory_size: int = 6000, blur: float = 1.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        self.loss_name = loss
        self.neighbours, self.memory_size, self.blur = neighbours, memory_size, blur
        super().__init__(encoder, decoder, seed=seed, **kwargs)

    def _create_state(self) -> None:
        self.memory = NeighbourMemory(self.memory_size, self.neighbours, self.blur, name="memory")
        self.memory.build((None, *self.image_shape))

    def adapt(self, images: np.ndarray | Iterable[Any]) -> int:
        """Remember up to `memory_size` normal images (uint8, or float in [0, 1]; an array
        (N, H, W, C) or batches of them, such as a tf.data.Dataset of batches or of (x, y)
        pairs); returns how many are held. They replace what the memory held."""

        def checked(batches):
            for batch in batches:
                if isinstance(batch, (tuple, list)):
                    batch = batch[0]
                yield self.as_images(batch)

        if hasattr(images, "shape"):  # one array or tensor of images
            images = [images]
        return self.memory.adapt(checked(images))

    @property
    def remembered(self) -> int:
        """How many training images the memory holds (0 before `adapt`)."""
        return self.memory.remembered

    def anomaly_score(self, x):
        """Mean distance of each image to its nearest remembered images: shape (batch,)."""
        if not self.memory.remembered:
            raise NotAdaptedError(
                f"model {self.name!r} has not remembered any normal images to compare with: call "
                "model.adapt(normal_images) after building it (keras-ae train does)")
        return float32(self.memory(self.as_images(x)))

    def get_config(self):
        return {**super().get_config(), "loss": self.loss_name,
                "neighbours": self.memory.neighbours, "memory_size": self.memory.size,
                "blur": self.memory.blur}


OBJECTIVE = Objective(
    name="one_class",
    model_class=OneClassAutoencoder,
    description="reconstruct one kind of image and score by the distance to the nearest "
                "training images",
    options=(
        LOSS,
        Option("neighbours", 5, integer("neighbours", minimum=1), metavar="K", cli_type=int,
               help="the anomaly score is the mean distance to the K nearest training images"),
        Option("memory_size", 6000, integer("memory size", minimum=1), metavar="N", cli_type=int,
               help="training images remembered for the anomaly score (the first N of a "
                    "shuffle, when there are more)"),
        Option("blur", 1.0, number("blur"), metavar="SIGMA", cli_type=float,
               help="Gaussian blur (pixels) of the images compared by the anomaly score"),
    ),
    check=lambda options, architecture: _check(options),
)


def _check(options) -> None:
    if options["neighbours"] > options["memory_size"]:
        raise ValueError(f"neighbours ({options['neighbours']}) cannot exceed memory_size "
                         f"({options['memory_size']})")
