"""The memory of normal images (keras_ae.models.memory): distances equal to scikit-learn's
nearest neighbours on the same features, `adapt` keeping the first images up to its size, and
bad arguments refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from sklearn.neighbors import NearestNeighbors

from keras_ae.models import NeighbourMemory
from keras_ae.models.memory import gaussian_kernel

from harness import structured_images


def _features(images, sigma, cell):
    """The memory's features the scipy way: a zero-padded Gaussian blur, cell means."""
    x = gaussian_filter(images[..., 0], (0, sigma, sigma), mode="constant", truncate=3.0)
    n, h, w = x.shape
    return x.reshape(n, h // cell, cell, w // cell, cell).mean((2, 4)).reshape(n, -1)


@pytest.mark.parametrize("shape, cell", [((12, 12, 1), 1), ((28, 28, 1), 2)])
def test_distances_are_scikit_learns_nearest_neighbours(shape, cell):
    normal = structured_images(200, shape=shape, seed=0)
    new = structured_images(50, shape=shape, seed=1)
    memory = NeighbourMemory(size=300, neighbours=5, blur=1.0)
    assert memory.adapt(normal) == 200 and memory.remembered == 200
    assert memory.cell == cell
    want = NearestNeighbors(n_neighbors=5).fit(_features(normal, 1.0, cell)).kneighbors(
        _features(new, 1.0, cell))[0].mean(axis=1)
    np.testing.assert_allclose(np.asarray(memory(new)), want, atol=1e-4, rtol=0)


def test_the_gaussian_kernel():
    np.testing.assert_array_equal(gaussian_kernel(0.0), np.ones((1, 1), np.float32))
    kernel = gaussian_kernel(1.0)
    assert kernel.shape == (7, 7) and abs(kernel.sum() - 1) < 1e-6
    assert kernel[3, 3] == kernel.max() and np.allclose(kernel, kernel.T)


def test_adapt_keeps_the_first_images_up_to_its_size_and_replaces_them():
    images = structured_images(40, seed=0)
    memory = NeighbourMemory(size=16, neighbours=2, blur=0.0)
    batches = [images[i:i + 7] for i in range(0, 40, 7)]
    assert memory.adapt(iter(batches)) == 16
    # an image of the first 16 is at distance 0 from itself, one after them is not
    assert float(memory(images[3:4])[0]) < float(memory(images[30:31])[0])
    np.testing.assert_allclose(np.asarray(memory.rows)[:16], images[:16].reshape(16, -1), atol=1e-6)
    assert memory.adapt(images[20:25]) == 5 and memory.remembered == 5
    assert not np.asarray(memory.rows)[5:].any()
    with pytest.raises(ValueError, match="needs at least 2 images, got 1"):
        memory.adapt(images[:1])
    assert memory.remembered == 5  # unchanged


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 0}, "memory size must be a positive"),
    ({"size": 4, "neighbours": 5}, "neighbours must be a whole number from 1 to the memory size"),
    ({"neighbours": 0}, "neighbours must be a whole number"),
    ({"blur": -1.0}, "blur must be a finite number"),
])
def test_a_bad_memory_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NeighbourMemory(**kwargs)
