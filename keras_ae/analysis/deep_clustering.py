"""Deep embedded clustering: train a trained autoencoder's encoder further, together with k
cluster centres, so that its codes form k tight clusters (DEC, Xie et al. 2016), while the
decoder keeps reconstructing so the codes keep what the images hold (IDEC, Guo et al. 2017).

k-means on the codes places the centres. Each code's soft assignment to the centres is a
Student's t kernel (`ClusterAssignment`); its target squares the assignments and normalises by
cluster size, which sharpens confident assignments and keeps large clusters from absorbing
small ones. Training minimises KL(target ‖ assignments) · `gamma` + the reconstruction error,
through Keras `fit`; the targets are recomputed every `update_interval` steps, and training
stops when fewer than `tol` of the assignments change between updates. An `augment` layer
(random shifts and rotations, say) applied to each training batch makes the clusters hold
across small changes of the image (DEC-DA, Guo et al. 2018).

    result = deep_clustering.fit(autoencoder, images, n_clusters=10, manifold="umap")
    clusters = result.assign(held_out)        # or deep_clustering.assign(saved_model, held_out)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras
import numpy as np

from keras_ae.analysis.features import _as_model, _codes_model, _model_images, encode, fit_clusterer
from keras_ae.models import BaseAutoencoder, ClusterAssignment
from keras_ae.utils.arguments import check_int

__all__ = ["ClusterAssignment", "DeepClustering", "assign", "fit", "target_distribution"]


def target_distribution(assignments: Any) -> np.ndarray:
    """DEC's targets for soft assignments (N, k): each assignment squared and divided by its
    cluster's total, then normalised per sample (rows sum to 1)."""
    q = np.asarray(assignments, dtype="float64")
    if q.ndim != 2 or len(q) == 0 or not np.isfinite(q).all() or (q < 0).any():
        raise ValueError(f"assignments must be non-negative finite values of shape (N, k), got "
                         f"shape {q.shape}")
    weight = q ** 2 / np.maximum(q.sum(axis=0), 1e-12)
    return (weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)).astype("float32")


def _build(autoencoder: BaseAutoencoder, n_clusters: int, alpha: float) -> keras.Model:
    """images -> {"assignments", "reconstruction"}, from copies of the autoencoder's nets."""
    encoder = _codes_model(autoencoder.encoder, "copy", "encoder")
    if len(encoder.outputs[0].shape) != 2:
        raise ValueError(f"deep clustering needs a model whose codes are vectors; this model's "
                         f"codes have shape {tuple(encoder.outputs[0].shape[1:])}")
    decoder = keras.models.clone_model(autoencoder.decoder)
    decoder.set_weights(autoencoder.decoder.get_weights())
    if tuple(decoder.inputs[0].shape[1:]) != tuple(encoder.outputs[0].shape[1:]):
        raise ValueError("deep clustering needs a decoder that takes the encoder's codes")
    images = keras.Input(shape=tuple(encoder.inputs[0].shape[1:]), name="image")
    codes = encoder(images)
    outputs = {"assignments": ClusterAssignment(n_clusters, alpha, name="assignments")(codes),
               "reconstruction": keras.layers.Activation("linear", dtype="float32",
                                                         name="reconstruction")(decoder(codes))}
    return keras.Model(images, outputs, name="deep_clustering")


@dataclasses.dataclass(frozen=True)
class DeepClustering:
    """The trained model (images -> {"assignments", "reconstruction"}; save it with
    `model.save`), the number of target updates it ran, and per update the share of
    assignments that changed and the mean training loss since the previous update."""

    model: keras.Model
    updates: int
    changed: list[float]
    loss: list[float]

    def assign(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """Each image's cluster (0..k-1): its most probable centre."""
        return assign(self.model, images, batch_size)


def assign(model: keras.Model, images: Any, batch_size: int = 256) -> np.ndarray:
    """The cluster of each image under a deep clustering model (its most probable centre)."""
    return np.argmax(_assignments(model, _model_images(model, images), batch_size), axis=-1)


def _assignments(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0)["assignments"])


def _training_data(x: np.ndarray, targets: np.ndarray, batch_size: int, seed: int,
                   augment: keras.layers.Layer | None):
    """Shuffled, repeated batches of (image, {assignments: target, reconstruction: image}),
    each image moved by `augment` (input and reconstruction target alike)."""
    import tensorflow as tf

    data = (tf.data.Dataset.from_tensor_slices((x, targets))
            .shuffle(len(x), seed=seed).repeat().batch(batch_size))

    def pair(images, target):
        if augment is not None:
            images = tf.clip_by_value(augment(images, training=True), 0.0, 1.0)
        return images, {"assignments": target, "reconstruction": images}

    return data.map(pair).prefetch(tf.data.AUTOTUNE)


def fit(autoencoder: BaseAutoencoder | str, images: Any, n_clusters: int, *, gamma: float = 0.1,
        alpha: float = 1.0, update_interval: int = 140, max_updates: int = 100,
        tol: float = 0.001, batch_size: int = 256, learning_rate: float = 1e-3,
        augment: keras.layers.Layer | None = None, manifold: str | None = None,
        n_init: int = 20, seed: int = 0, verbose: int = 0) -> DeepClustering:
    """Deep embedded clustering of `images` into `n_clusters` clusters, starting from a trained
    autoencoder (a model, `.keras` file or run folder; it is not changed: the clustering model
    holds copies of its encoder and decoder).

    `gamma` weighs the clustering loss against reconstruction (IDEC); `update_interval` steps
    of Adam at `learning_rate` run between target updates, at most `max_updates` times, stopping
    early once fewer than `tol` of the assignments change. `augment` is a Keras layer applied
    to each training batch. The centres start at the mean codes of k-means clusters of the
    codes, or with `manifold="umap"` of their UMAP embedding (`features.fit_clusterer`). `seed`
    fixes the initial clusters, the batch order and Keras's global seed.
    """
    autoencoder = _as_model(autoencoder)
    x = _model_images(autoencoder, images)
    n_clusters = check_int(n_clusters, "n_clusters", minimum=2)
    if n_clusters > len(x):
        raise ValueError(f"n_clusters ({n_clusters}) exceeds the number of images ({len(x)})")
    for name, value in (("gamma", gamma), ("learning_rate", learning_rate)):
        if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (isinstance(tol, (int, float)) and 0 <= tol < 1):
        raise ValueError(f"tol must be a number in [0, 1), got {tol!r}")
    update_interval = check_int(update_interval, "update_interval")
    max_updates = check_int(max_updates, "max_updates")
    batch_size = check_int(batch_size, "batch_size")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a Keras layer, got {type(augment).__name__}")

    keras.utils.set_random_seed(seed)
    model = _build(autoencoder, n_clusters, alpha)
    codes = encode(autoencoder, x, batch_size=batch_size)
    previous = fit_clusterer(codes, n_clusters, manifold=manifold, seed=seed,
                             n_init=n_init).kmeans.labels_
    centres = np.stack([codes[previous == c].mean(axis=0) for c in range(n_clusters)])
    model.get_layer("assignments").centers.assign(centres.astype("float32"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={"assignments": keras.losses.KLDivergence(),
                        "reconstruction": keras.losses.MeanSquaredError()},
                  loss_weights={"assignments": float(gamma), "reconstruction": 1.0})

    changed: list[float] = []
    losses: list[float] = []
    bar = keras.utils.Progbar(max_updates, stateful_metrics=["changed", "loss"], verbose=verbose)
    for update in range(max_updates):
        q = _assignments(model, x, batch_size)
        clusters = np.argmax(q, axis=-1)
        changed.append(float(np.mean(clusters != previous)))
        previous = clusters
        if update > 0 and changed[-1] < tol:
            break
        history = model.fit(_training_data(x, target_distribution(q), batch_size, seed + update,
                                           augment),
                            steps_per_epoch=update_interval, epochs=1, shuffle=False, verbose=0)
        losses.append(float(history.history["loss"][-1]))
        bar.update(update + 1, values=[("changed", changed[-1]), ("loss", losses[-1])])
    return DeepClustering(model=model, updates=len(losses), changed=changed, loss=losses)
