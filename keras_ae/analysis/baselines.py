"""The baselines a trained model is measured against, on raw pixels: PCA with as many
components as the code (reconstructions and projections), scikit-learn's IsolationForest and
the mean distance to the nearest training images; and the thread setting scikit-learn runs
them with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from keras_ae.data import as_float_images
from keras_ae.utils.arguments import check_int

__all__ = ["SINGLE_THREAD_NUMBERS", "few_threads", "fit_pca", "flat_pixels",
           "isolation_forest_scores", "knn_distances", "knn_scores", "pca_reconstructions",
           "pca_scores"]

SINGLE_THREAD_NUMBERS = 2**24
"""scikit-learn works on one thread on data of up to this many numbers (20,000 MNIST images
are 15.7 million): on such small problems OpenMP's and BLAS's threads cost more than they save,
many times more on a machine busy with other processes (docs/features.md: "Speed of evaluate")."""


@contextlib.contextmanager
def few_threads(data: Any) -> Iterator[None]:
    """Run the enclosed scikit-learn work on one thread when `data` holds at most
    SINGLE_THREAD_NUMBERS numbers (the results are the same up to float rounding)."""
    if np.size(data) > SINGLE_THREAD_NUMBERS:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def flat_pixels(images: Any) -> np.ndarray:
    """Images as float32 rows of pixels in [0, 1]: shape (N, H·W·C)."""
    images = as_float_images(images)
    return images.reshape(len(images), -1)


def fit_pca(train: np.ndarray, n_components: int, *, seed: int = 0):
    """scikit-learn's PCA (randomised SVD) fitted on the rows of `train`, with `n_components`
    components, or fewer where `train` has fewer rows or columns."""
    from sklearn.decomposition import PCA

    n_components = min(check_int(n_components, "n_components"), *train.shape)
    with few_threads(train):
        return PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(train)


def pca_reconstructions(pca, rows: np.ndarray) -> np.ndarray:
    """The PCA reconstructions of pixel `rows`, clipped to [0, 1]."""
    with few_threads(rows):
        return np.clip(pca.inverse_transform(pca.transform(rows)), 0.0, 1.0)


def pca_scores(train_images: Any, images: Any, n_components: int, *, seed: int = 0) -> np.ndarray:
    """Per-image MSE of PCA reconstructions (clipped to [0, 1]) with `n_components` fitted on
    `train_images`: the linear baseline of the reconstruction score."""
    n_components = check_int(n_components, "n_components")
    train, test = flat_pixels(train_images), flat_pixels(images)
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train images ({train.shape[1]} pixels) and images ({test.shape[1]} "
                         "pixels) must have one shape")
    recon = pca_reconstructions(fit_pca(train, n_components, seed=seed), test)
    return np.mean((test - recon) ** 2, axis=1).astype(np.float32)


def isolation_forest_scores(train_images: Any, images: Any, *, seed: int = 0) -> np.ndarray:
    """Anomaly scores (higher = more anomalous) of scikit-learn's IsolationForest on raw pixels,
    fitted on `train_images`."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(random_state=seed, n_jobs=1).fit(flat_pixels(train_images))
    return (-forest.score_samples(flat_pixels(images))).astype(np.float32)


def knn_distances(reference: np.ndarray, rows: np.ndarray, k: int = 5) -> np.ndarray:
    """The mean Euclidean distance of each row of `rows` to its `k` nearest rows of `reference`
    (scikit-learn's NearestNeighbors): a one-class score on any vectors, pixels or codes."""
    from sklearn.neighbors import NearestNeighbors

    k = min(check_int(k, "k"), len(reference))
    reference, rows = np.asarray(reference, np.float32), np.asarray(rows, np.float32)
    if reference.ndim != 2 or rows.ndim != 2 or reference.shape[1] != rows.shape[1]:
        raise ValueError(f"reference rows {reference.shape} and rows {rows.shape} must be 2-D "
                         "with the same width")
    with few_threads(reference):
        distances, _ = NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(rows)
    return distances.mean(axis=1).astype(np.float32)


def knn_scores(train_images: Any, images: Any, k: int = 5) -> np.ndarray:
    """Anomaly scores on raw pixels: the mean distance of each image to its `k` nearest
    `train_images`."""
    return knn_distances(flat_pixels(train_images), flat_pixels(images), k)
