"""keras_ae.data.loading: `load_arrays` on in-memory arrays (splits and their errors) and
`load_dataset`."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_ae.data import DataError, load_arrays, load_dataset

from idx_files import make_digits

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_array_sources():
    x, y = make_digits(20, seed=1)
    images, labels = load_arrays(x, "all")
    assert images.shape == (20, 28, 28, 1) and labels is None
    images, labels = load_arrays((x, y), "validation")
    assert images.shape == (2, 28, 28, 1) and labels.dtype == np.int64
    images, labels = load_arrays((x, y), "train", with_labels=False)
    assert images.shape == (18, 28, 28, 1) and labels is None
    with pytest.raises(DataError, match=r"got shape \(2, 20, 28, 28, 1\)"):
        load_arrays(np.zeros((2, 20, 28, 28, 1), np.uint8))
    with pytest.raises(DataError, match="single pool"):
        load_arrays(x, "test")
    with pytest.raises(DataError, match="unknown split 'dev'; choose from train, validation, test, all"):
        load_arrays(x, "dev")
    with pytest.raises(DataError, match="validation_fraction"):
        load_arrays(x, validation_fraction=1.0)
    with pytest.raises(DataError, match="validation split is empty"):
        load_arrays(x, "validation", validation_fraction=0.0)
    with pytest.raises(DataError, match="unsupported data source of type int"):
        load_arrays(42)


def test_load_dataset():
    x, y = make_digits(20, seed=4)
    ds = load_dataset((x, y), "all")
    first = next(iter(ds))
    assert first.dtype == tf.float32 and first.shape == (28, 28, 1)
    np.testing.assert_allclose(first.numpy()[..., 0], x[0] / 255.0, rtol=1e-6)
    image, label = next(iter(load_dataset((x, y), "all", with_labels=True)))
    assert int(label) == int(y[0]) and image.shape == (28, 28, 1)
    assert ds.cardinality().numpy() == 20
    with pytest.raises(DataError, match="no labels"):
        load_dataset(x, with_labels=True)
