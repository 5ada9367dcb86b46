"""keras_ae.data.npz: .npz files in the Keras layout or as one pool, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ae.data import DataError, load_arrays

from idx_files import make_digits

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_npz_keras_style(tmp_path):
    x, y = make_digits(30, seed=7)
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])
    test_x, test_y = load_arrays(path, "test")
    np.testing.assert_array_equal(test_x[..., 0], x[20:])
    np.testing.assert_array_equal(test_y, y[20:].astype(np.int64))
    train_x, _ = load_arrays(path, "train", validation_fraction=0.25)
    assert train_x.shape == (15, 28, 28, 1)


def test_npz_images_labels_style_is_a_single_pool(tmp_path):
    x, y = make_digits(10, seed=7)
    path = tmp_path / "pool.npz"
    np.savez(path, images=x[..., None], labels=y)
    all_x, all_y = load_arrays(path, "all")
    np.testing.assert_array_equal(all_x, x[..., None])
    np.testing.assert_array_equal(all_y, y)
    with pytest.raises(DataError, match="single pool"):
        load_arrays(path, "test")


def test_npz_float_images_stay_float(tmp_path):
    x = np.random.default_rng(0).random((12, 8, 8, 3))
    path = tmp_path / "pool.npz"
    np.savez(path, x=x)
    got, labels = load_arrays(path, "all")
    assert got.dtype == np.float32 and got.shape == (12, 8, 8, 3) and labels is None
    np.testing.assert_allclose(got, x.astype(np.float32))


def test_npz_errors(tmp_path):
    wrong_keys = tmp_path / "wrong.npz"
    np.savez(wrong_keys, foo=np.zeros((3, 4, 4)), bar=np.zeros(3))
    with pytest.raises(DataError, match="expected keys .* found foo, bar"):
        load_arrays(wrong_keys)

    bad_shape = tmp_path / "shape.npz"
    np.savez(bad_shape, images=np.zeros((5, 28), dtype=np.uint8))
    with pytest.raises(DataError, match=r"\[images\].*got shape \(5, 28\)"):
        load_arrays(bad_shape)

    with_nan = tmp_path / "nan.npz"
    x = np.zeros((4, 6, 6), dtype=np.float32)
    x[1, 2, 3] = np.nan
    np.savez(with_nan, x=x)
    with pytest.raises(DataError, match="NaN"):
        load_arrays(with_nan)

    not_zip = tmp_path / "broken.npz"
    not_zip.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    with pytest.raises(DataError, match="npz file"):
        load_arrays(not_zip)

    bad_labels = tmp_path / "labels.npz"
    np.savez(bad_labels, x=np.zeros((4, 6, 6), np.uint8), y=np.zeros(3))
    with pytest.raises(DataError, match="3 labels for 4 images"):
        load_arrays(bad_labels)
