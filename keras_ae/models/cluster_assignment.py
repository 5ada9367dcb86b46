"""The soft cluster assignment of deep embedded clustering (see
`keras_ae.analysis.deep_clustering`), registered so that a saved clustering model loads wherever
keras_ae is imported."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_ae.utils.arguments import check_int


@keras.saving.register_keras_serializable(package="keras_ae")
class ClusterAssignment(keras.layers.Layer):
    """Soft assignments of codes (batch, d) to `n_clusters` trainable centres: a Student's t
    kernel with `alpha` degrees of freedom, normalised over the centres (rows sum to 1).
    Computed in float32."""

    def __init__(self, n_clusters: int, alpha: float = 1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.n_clusters = check_int(n_clusters, "n_clusters", minimum=2)
        if not (isinstance(alpha, (int, float)) and alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        self.alpha = float(alpha)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"cluster assignment needs codes of shape (batch, d), got "
                             f"{tuple(input_shape)}")
        self.centers = self.add_weight(shape=(self.n_clusters, int(input_shape[-1])),
                                       initializer="glorot_uniform", name="centers")

    def call(self, codes):
        codes = ops.cast(codes, "float32")
        squared = ops.sum(ops.square(ops.expand_dims(codes, 1) - self.centers), axis=-1)
        kernel = ops.power(1.0 + squared / self.alpha, -(self.alpha + 1.0) / 2.0)
        return kernel / ops.sum(kernel, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_clusters)

    def get_config(self):
        return {**super().get_config(), "n_clusters": self.n_clusters, "alpha": self.alpha}
