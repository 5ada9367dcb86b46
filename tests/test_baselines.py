"""The pixel baselines: PCA fitted once per use, IsolationForest, nearest neighbours, and small
problems run on one thread."""

import numpy as np
import pytest

from harness import structured_images
from keras_ae.analysis import features
from keras_ae.analysis.baselines import (fit_pca, isolation_forest_scores, knn_distances,
                                         knn_scores, pca_reconstructions, pca_scores)


def test_pca_keeps_at_most_as_many_components_as_the_data_allows():
    rows = structured_images(8).reshape(8, -1)
    assert fit_pca(rows, 32).n_components_ == 8
    recon = pca_reconstructions(fit_pca(rows, 4), rows)
    assert recon.shape == rows.shape and recon.min() >= 0 and recon.max() <= 1


def test_the_baselines_score_other_images_above_the_ones_they_were_fitted_on():
    normal = structured_images(200)  # one low-dimensional manifold
    other = np.random.default_rng(0).random((50, *normal.shape[1:]), dtype=np.float32)
    for scores in (lambda x: pca_scores(normal, x, 6), lambda x: isolation_forest_scores(normal, x),
                   lambda x: knn_scores(normal, x, k=5)):
        assert np.median(scores(other)) > np.max(scores(normal[:50]))


def test_knn_distances_are_the_mean_distance_to_the_k_nearest():
    reference = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], np.float32)
    rows = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    np.testing.assert_allclose(knn_distances(reference, rows, k=2), [1.5, 3.5])
    np.testing.assert_allclose(knn_distances(reference, rows, k=10),  # k capped at 3 rows
                               [(0 + 3 + 4) / 3, (5 + 4 + 3) / 3], rtol=1e-6)
    with pytest.raises(ValueError, match="same width"):
        knn_distances(reference, rows[:, :1])


def test_pca_scores_refuse_images_of_two_shapes():
    with pytest.raises(ValueError, match="must have one shape"):
        pca_scores(structured_images(8), structured_images(8, shape=(6, 6, 1)), 2)


def test_small_problems_run_scikit_learn_on_one_thread():
    from threadpoolctl import threadpool_info

    def threads():
        return max(pool["num_threads"] for pool in threadpool_info())

    outside = threads()
    with features.few_threads(np.zeros((1000, 784))):
        assert threads() == 1
    with features.few_threads(np.zeros(features.SINGLE_THREAD_NUMBERS + 1, "uint8")):
        assert threads() == outside
    assert threads() == outside
