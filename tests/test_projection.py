"""keras_ae.analysis.projection: t-SNE shows its progress and is seeded, and falls back to
scikit-learn without openTSNE."""

import numpy as np
import pytest

from keras_ae.analysis import projection

from harness import SMALL, structured_images

N = 100


@pytest.fixture(scope="module")
def images():
    return structured_images(N, shape=SMALL)


def test_tsne_shows_progress_and_is_seeded(images, capsys):
    codes = np.asarray(structured_images(60, shape=(4, 4, 1)).reshape(60, -1))
    first = projection.tsne(codes, seed=1, verbose=1)
    assert "KL divergence" in capsys.readouterr().out
    assert first.shape == (60, 2) and np.allclose(first, projection.tsne(codes, seed=1, verbose=0))


def test_tsne_falls_back_to_scikit_learn_without_opentsne(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openTSNE", None)  # import openTSNE raises ImportError
    codes = structured_images(40, shape=(4, 4, 1)).reshape(40, -1)
    points, names = projection.project_2d(codes, "tsne", verbose=0)
    assert points.shape == (40, 2) and np.isfinite(points).all() and names[0] == "t-SNE 1"
