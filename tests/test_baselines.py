"""The pixel baselines: PCA fitted once per use, IsolationForest, and small problems run on one
thread."""

import numpy as np
import pytest

from harness import structured_images
from keras_ae.analysis import features
from keras_ae.analysis.baselines import (fit_pca, isolation_forest_scores, pca_reconstructions,
                                         pca_scores)


def test_pca_keeps_at_most_as_many_components_as_the_data_allows():
    rows = structured_images(8).reshape(8, -1)
    assert fit_pca(rows, 32).n_components_ == 8
    recon = pca_reconstructions(fit_pca(rows, 4), rows)
    assert recon.shape == rows.shape and recon.min() >= 0 and recon.max() <= 1


def test_both_baselines_score_other_images_above_the_ones_they_were_fitted_on():
    normal = structured_images(200)  # one low-dimensional manifold
    other = np.random.default_rng(0).random((50, *normal.shape[1:]), dtype=np.float32)
    for scores in (lambda x: pca_scores(normal, x, 6), lambda x: isolation_forest_scores(normal, x)):
        assert np.median(scores(other)) > np.max(scores(normal[:50]))


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
