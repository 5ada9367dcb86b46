"""The latent space as features: the trained encoder as a Keras model, k-means clustering of the
codes, and few-label probes (logistic regression on the codes, a fine-tuned encoder), each beside
the baseline it has to beat (raw pixels, PCA, the same classifier trained from scratch).

    encoder = features.encoder_layer(model, trainable=False)   # images -> codes, for your model
    result = features.cluster(features.encode(model, images), labels)
    print(result.accuracy, result.nmi)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any

import keras
import numpy as np

from keras_ae.analysis.baselines import SINGLE_THREAD_NUMBERS, few_threads, fit_pca
from keras_ae.analysis.projection import note_umap
from keras_ae.data import as_float_images, validate_images, validate_labels
from keras_ae.models import BaseAutoencoder
from keras_ae.models.image_encoder import ImageEncoder
from keras_ae.models.saving import load_model
from keras_ae.utils.arguments import check_int

logger = logging.getLogger(__name__)

__all__ = [
    "Clusterer", "Clustering", "FineTuned", "MANIFOLDS", "classifier", "cluster",
    "clustering_accuracy", "compare_clustering", "compare_probes", "encode", "encoder_layer",
    "few_labels", "fine_tune", "fit_clusterer", "linear_probe", "score_clusters",
]


# --- the encoder ----------------------------------------------------------------------------------
def _as_model(model: BaseAutoencoder | str | os.PathLike) -> BaseAutoencoder:
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, compile=False)
    if not isinstance(model, BaseAutoencoder):
        raise ValueError(f"expected a keras_ae autoencoder, got {type(model).__name__}")
    return model


def _codes_model(encoder: keras.Model, weights: str, name: str) -> keras.Model:
    """`encoder` with its first output only (a VAE's posterior mean); `weights` is "share" (the
    same layers), "copy" (new layers holding the trained weights) or "fresh" (new layers, newly
    initialised)."""
    if weights != "share":
        clone = keras.models.clone_model(encoder)  # clone_model initialises anew
        if weights == "copy":
            clone.set_weights(encoder.get_weights())
        encoder = clone
    return ImageEncoder.of(encoder, outputs=encoder.outputs[0], name=name)


def encoder_layer(model: BaseAutoencoder | str | os.PathLike, *, trainable: bool = True,
                  copy: bool = True, name: str = "pretrained_encoder") -> keras.Model:
    """The trained encoder as a functional `keras.Model` from images to codes, to use as a layer
    of your own model (a VAE's gives the posterior mean). It takes images as the autoencoder
    does: uint8 divided by 255, or floats in [0, 1].

    `model` is a keras_ae autoencoder, a `.keras` file or a run folder. With `copy` (the default)
    the weights are copied, so training your model leaves the autoencoder as it was; with
    `trainable=False` the encoder is frozen (a feature extractor).
    """
    layer = _codes_model(_as_model(model).encoder, "copy" if copy else "share", name)
    layer.trainable = trainable
    return layer


def _model_images(model: keras.Model, images: Any) -> np.ndarray:
    """`images` as float32 in [0, 1], checked against the shape the model (an autoencoder, whose
    encoder takes the images, or any model of one image input) takes."""
    x = as_float_images(validate_images(images))
    expected = tuple(getattr(model, "encoder", model).inputs[0].shape[1:])
    if x.shape[1:] != expected:
        raise ValueError(f"images have shape {x.shape[1:]} but the model expects {expected}")
    return x


def encode(model: BaseAutoencoder | str | os.PathLike, images: Any, *,
           batch_size: int = 256) -> np.ndarray:
    """The latent codes of `images` (uint8 or float in [0, 1]) as flat float32 vectors
    `(N, n)`, in batches: `model.features` (the code itself, a VAE's posterior means, a VQ-VAE's
    quantised map flattened)."""
    model = _as_model(model)
    x = _model_images(model, images)
    batch_size = check_int(batch_size, "batch_size")
    return np.concatenate([np.asarray(model.features(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def _flat(features: Any, what: str) -> np.ndarray:
    arr = np.asarray(features, dtype="float64")
    if arr.ndim < 2 or len(arr) == 0:
        raise ValueError(f"{what} must have shape (N, features...), got {arr.shape}")
    arr = arr.reshape(len(arr), -1)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or inf values")
    return arr


def _standardized(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)


# --- clustering -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Clustering:
    """A k-means clustering scored against the labels: accuracy under the best one-to-one
    matching of clusters to classes, NMI, the number of clusters, the number of features
    clustered and each sample's cluster."""

    accuracy: float
    nmi: float
    k: int
    dims: int
    clusters: np.ndarray

    def as_dict(self) -> dict[str, float | int]:
        """The scores, without the per-sample clusters (as JSON takes them)."""
        return {"accuracy": self.accuracy, "nmi": self.nmi, "k": self.k, "dims": self.dims}


def clustering_accuracy(labels: Any, clusters: Any) -> float:
    """The share of samples whose cluster maps to their label, under the one-to-one mapping of
    clusters to labels that maximises it (the Hungarian algorithm). Cluster names do not matter:
    a clustering that equals the labels up to renaming scores 1."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics.cluster import contingency_matrix

    labels = validate_labels(labels, len(np.asarray(labels)))
    clusters = validate_labels(clusters, len(labels))
    counts = contingency_matrix(labels, clusters)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def score_clusters(labels: Any, clusters: Any, dims: int, k: int | None = None) -> Clustering:
    """`clusters` (one per sample) scored against `labels` by clustering accuracy and NMI;
    `dims` is the number of features that were clustered, `k` the number of clusters asked for
    (by default the number found)."""
    from sklearn.metrics import normalized_mutual_info_score

    labels = validate_labels(labels, len(np.asarray(labels)))
    clusters = validate_labels(clusters, len(labels))
    return Clustering(accuracy=clustering_accuracy(labels, clusters),
                      nmi=float(normalized_mutual_info_score(labels, clusters)),
                      k=len(np.unique(clusters)) if k is None else int(k), dims=int(dims),
                      clusters=clusters)


def _check_k(k: Any, samples: int) -> int:
    k = check_int(k, "k")
    if not 1 <= k <= samples:
        raise ValueError(f"k must be between 1 and the number of samples ({samples}), got {k}")
    return k


def cluster(codes: Any, labels: Any, k: int | None = None, seed: int = 0, *,
            standardize: bool = False, n_init: int = 10) -> Clustering:
    """k-means on `codes` (k = the number of distinct labels unless given), scored against
    `labels` by clustering accuracy and normalised mutual information. `standardize` scales each
    feature to zero mean and unit variance first. The labels are used for scoring only."""
    from sklearn.cluster import KMeans

    x = _flat(codes, "codes")
    labels = validate_labels(labels, len(x))
    k = _check_k(len(np.unique(labels)) if k is None else k, len(x))
    if standardize:
        x = _standardized(x)
    with few_threads(x):
        clusters = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
    return score_clusters(labels, clusters, x.shape[1], k)


MANIFOLDS = ("umap",)


def _check_manifold(manifold: str | None) -> None:
    if manifold is not None and manifold not in MANIFOLDS:
        raise ValueError(f"unknown manifold {manifold!r}; choose umap or None")


@dataclasses.dataclass(frozen=True)
class Clusterer:
    """k-means fitted on training codes of `features` features, on their UMAP embedding when
    `reducer` is set (N2D): `predict` assigns new codes to the clusters found."""

    kmeans: Any
    features: int
    reducer: Any = None

    @property
    def dims(self) -> int:
        """The number of features k-means clusters."""
        return int(self.kmeans.cluster_centers_.shape[1])

    def predict(self, codes: Any) -> np.ndarray:
        """The cluster of each code."""
        x = _flat(codes, "codes")
        if x.shape[1] != self.features:
            raise ValueError(f"codes have {x.shape[1]} features but the clusterer was fitted on "
                             f"{self.features}")
        return self.kmeans.predict(x if self.reducer is None else self.reducer.transform(x))


def fit_clusterer(codes: Any, k: int, *, manifold: str | None = None, dims: int = 10,
                  neighbors: int = 10, seed: int = 0, n_init: int = 20,
                  verbose: int = 0) -> Clusterer:
    """k-means with `k` clusters fitted on (training) `codes`. With `manifold="umap"`, k-means
    runs on a `dims`-dimensional UMAP embedding of the codes (`neighbors` nearest neighbours,
    minimum distance 0; at most as many dimensions as the codes have), which follows the curved
    clusters an autoencoder's codes form (N2D, McConville et al. 2020; needs umap-learn)."""
    from sklearn.cluster import KMeans

    x = _flat(codes, "codes")
    k = _check_k(k, len(x))
    reducer, features = None, x.shape[1]
    _check_manifold(manifold)
    if manifold is not None:
        dims, neighbors = check_int(dims, "dims"), check_int(neighbors, "neighbors", minimum=2)
        dims = min(dims, x.shape[1])  # an embedding never needs more dimensions than the codes
        if len(x) <= neighbors:
            raise ValueError(f"a UMAP embedding with {neighbors} neighbours needs more than "
                             f"{neighbors} codes, got {len(x)}")
        from keras_ae.utils.extras import require

        umap = require("umap", "manifold 'umap'")
        if verbose:
            note_umap(len(x))
        reducer = umap.UMAP(n_components=dims, n_neighbors=neighbors, min_dist=0.0,
                            random_state=seed, n_jobs=1).fit(x)  # its own log is not ours
        x = reducer.embedding_
    with few_threads(x):
        kmeans = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return Clusterer(kmeans, features, reducer)


def _pca_codes(train_images: np.ndarray, images: np.ndarray, n_components: int, seed: int):
    train = as_float_images(train_images).reshape(len(train_images), -1)
    pca = fit_pca(train, n_components, seed=seed)
    rows = as_float_images(images).reshape(len(images), -1)
    with few_threads(rows):
        return pca.transform(rows)


def _manifold_clustering(model: BaseAutoencoder, images: np.ndarray, labels: Any, fit_on: np.ndarray,
                         k: int | None, manifold: str, seed: int, *,
                         fitted: Any = lambda: None, verbose: int = 0) -> Clustering:
    """k-means on a UMAP embedding fitted on the codes of `fit_on`, applied to `images`;
    `fitted()` is called once the embedding and k-means are fitted (`verbose`: with a note
    meanwhile)."""
    labels = validate_labels(labels, len(images))
    k = len(np.unique(labels)) if k is None else k
    clusterer = fit_clusterer(encode(model, fit_on), k, manifold=manifold, seed=seed,
                              verbose=verbose)
    fitted()
    return score_clusters(labels, clusterer.predict(encode(model, images)), clusterer.dims, k)


def compare_clustering(model: BaseAutoencoder, images: Any, labels: Any, *,
                       train_images: Any = None, k: int | None = None, seed: int = 0,
                       standardize: bool = False, manifold: str | None = None,
                       verbose: int = 0) -> dict[str, Clustering]:
    """k-means on the model's codes of `images`, on their raw pixels and on PCA with as many
    components as the latent size (fitted on `train_images`, else on `images`).

    `standardize` applies to the codes and the PCA features alike (raw pixels stay as they are;
    standardised PCA components are whitened ones). `manifold="umap"` adds `codes_umap`:
    k-means fitted on a 10-d UMAP embedding of the codes of `train_images` (else `images`),
    assigning the codes of `images` (see `fit_clusterer`).
    Returns `{"codes": ..., "pixels": ..., "pca": ...}`; `verbose=1` shows progress.
    """
    model = _as_model(model)
    images = validate_images(images)
    fit_on = images if train_images is None else validate_images(train_images)
    _check_manifold(manifold)  # before any long step
    steps = [
        ("codes", lambda: cluster(encode(model, images), labels, k, seed, standardize=standardize)),
        ("pixels", lambda: cluster(as_float_images(images), labels, k, seed)),
        ("pca", lambda: cluster(_pca_codes(fit_on, images, model.latent_dim, seed), labels, k,
                                seed, standardize=standardize)),
    ]
    if manifold is not None:
        steps.append((f"codes_{manifold}", lambda: _manifold_clustering(
            model, images, labels, fit_on, k, manifold, seed, fitted=lambda: bar.add(1),
            verbose=verbose)))  # the bar stands still while UMAP fits: its note says why
    names = [name for name, _ in steps]
    # one unit per clustering, and one more for the embedding, fitted before it assigns
    bar = keras.utils.Progbar(len(steps) + (manifold is not None), stateful_metrics=names,
                              verbose=verbose)
    results: dict[str, Clustering] = {}
    for name, step in steps:
        results[name] = step()
        bar.add(1, values=[(name, results[name].accuracy)])
    return results


# --- few-label probes -----------------------------------------------------------------------------
def few_labels(labels: Any, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `per_class` samples of each class, drawn at random with `seed` (all of a
    class's samples when it has fewer)."""
    labels = validate_labels(labels, len(np.asarray(labels)))
    per_class = check_int(per_class, "per_class")
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picked))


def linear_probe(train_features: Any, train_labels: Any, test_features: Any, test_labels: Any,
                 *, max_iter: int = 2000) -> float:
    """Test accuracy of logistic regression (on standardised features) fitted on the training
    features and labels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, x_test = _flat(train_features, "features"), _flat(test_features, "features")
    y_train = validate_labels(train_labels, len(x_train))
    y_test = validate_labels(test_labels, len(x_test))
    if len(np.unique(y_train)) < 2:
        raise ValueError("a probe needs training labels of at least two classes")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with few_threads(x_train):
        probe.fit(x_train, y_train)
        return float(np.mean(probe.predict(x_test) == y_test))


def classifier(model: BaseAutoencoder | str | os.PathLike, num_classes: int, *,
               pretrained: bool = True, name: str = "classifier") -> keras.Model:
    """The model's encoder with a softmax head of `num_classes` units (uncompiled); a feature
    map code (a VQ-VAE's encoder output) is flattened before the head.

    `pretrained` starts the encoder from the trained weights; otherwise it is the same
    architecture freshly initialised (draws from Keras's global seed).
    """
    model = _as_model(model)
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    encoder = _codes_model(model.encoder, "copy" if pretrained else "fresh", "encoder")
    inputs = keras.Input(shape=tuple(encoder.inputs[0].shape[1:]), name="image")
    codes = encoder(inputs)
    if len(codes.shape) > 2:  # a feature map (a VQ-VAE's encoder output): one vector per image
        codes = keras.layers.Flatten(name="flat_codes")(codes)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="classes")(codes)
    return keras.Model(inputs, probabilities, name=name)


@dataclasses.dataclass(frozen=True)
class FineTuned:
    """A trained classifier, its accuracy on the test images and its training history
    (`keras.callbacks.History.history`: the loss per epoch)."""

    accuracy: float
    classifier: keras.Model
    history: dict


def fine_tune(model: BaseAutoencoder | str | os.PathLike, train_images: Any, train_labels: Any,
              test_images: Any, test_labels: Any, *, pretrained: bool = True, epochs: int = 30,
              batch_size: int = 32, learning_rate: float = 1e-3, seed: int | None = 0,
              verbose: int = 0, callbacks: list | None = None) -> FineTuned:
    """Train `classifier(model)` (encoder + softmax) on the labelled images with Adam and report
    its test accuracy; `pretrained=False` trains the same classifier from scratch.

    A `seed` makes the run reproducible through `keras.utils.set_random_seed` (process-wide, as
    for `keras_ae.build`). Each epoch's steps run in one compiled call; `callbacks` (Keras
    callbacks) follow the training.
    """
    model = _as_model(model)
    x_train, x_test = _model_images(model, train_images), _model_images(model, test_images)
    y_train = validate_labels(train_labels, len(x_train))
    y_test = validate_labels(test_labels, len(x_test))
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise ValueError("fine-tuning needs training labels of at least two classes")
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    net = classifier(model, len(classes), pretrained=pretrained)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss="sparse_categorical_crossentropy",
                steps_per_execution=math.ceil(len(x_train) / batch_size))  # the same steps, faster
    history = net.fit(x_train, np.searchsorted(classes, y_train), batch_size=batch_size,
                      epochs=epochs, shuffle=True, verbose=verbose, callbacks=callbacks)
    # called eagerly in batches: a `predict` per new classifier would trace a new function each time
    probabilities = np.concatenate([np.asarray(net(x_test[i:i + 256], training=False))
                                    for i in range(0, len(x_test), 256)])
    predicted = classes[np.argmax(probabilities, axis=-1)]
    return FineTuned(accuracy=float(np.mean(predicted == y_test)), classifier=net,
                     history=history.history)


def compare_probes(model: BaseAutoencoder | str | os.PathLike, train_images: Any, train_labels: Any,
                   test_images: Any, test_labels: Any, *, per_class: int = 100, epochs: int = 30,
                   seed: int = 0, verbose: int = 0) -> dict[str, float | int]:
    """With `per_class` labelled training images per class (all of a class's, where it has
    fewer): test accuracy of logistic regression on the codes and on the raw pixels, of the
    encoder fine-tuned with a softmax head, and of the same classifier trained from scratch.
    `labels_per_class` and `fewest_labels_of_a_class` say how many a class had at most and
    at least."""
    model = _as_model(model)
    train_images, test_images = validate_images(train_images), validate_images(test_images)
    train_labels = validate_labels(train_labels, len(train_images))
    test_labels = validate_labels(test_labels, len(test_images))
    picked = few_labels(train_labels, per_class, seed)
    x, y = train_images[picked], train_labels[picked]
    epochs = check_int(epochs, "epochs")
    names = ("probe_codes", "probe_pixels", "fine_tuned", "from_scratch")
    # one unit per probe and per epoch of each classifier, so the bar moves as they train
    bar = keras.utils.Progbar(2 + 2 * epochs, stateful_metrics=names, verbose=verbose)
    each_epoch = [keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: bar.add(1))]
    steps = (
        lambda: linear_probe(encode(model, x), y, encode(model, test_images), test_labels),
        lambda: linear_probe(as_float_images(x), y, as_float_images(test_images), test_labels),
        lambda: fine_tune(model, x, y, test_images, test_labels, epochs=epochs, seed=seed,
                          callbacks=each_epoch).accuracy,
        lambda: fine_tune(model, x, y, test_images, test_labels, pretrained=False, epochs=epochs,
                          seed=seed, callbacks=each_epoch).accuracy,
    )
    counts = np.unique(y, return_counts=True)[1]  # fewer than per_class where a class lacks them
    results: dict[str, float | int] = {"labels_per_class": int(counts.max()),
                                       "fewest_labels_of_a_class": int(counts.min()),
                                       "labelled_images": int(len(picked))}
    for name, step in zip(names, steps):
        results[name] = step()
        bar.add(int(name.startswith("probe")), values=[(name, results[name])])
    return results
