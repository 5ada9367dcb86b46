"""keras_ae.data.arrays: .npz files in the Keras layout or as one pool, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ae.data import DataError, load_arrays
from keras_ae.data.arrays import read_npy, read_npz_arrays, read_npz_images

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


def test_a_batch_for_a_model_is_the_first_images_key_or_the_only_array(tmp_path):
    images, x, other = (np.full((2, 4, 4), v, np.uint8) for v in (1, 2, 3))
    np.savez(tmp_path / "both.npz", x_train=other, x=x, images=images)
    np.testing.assert_array_equal(read_npz_images(tmp_path / "both.npz"), images)
    np.savez(tmp_path / "test.npz", x_train=other, x_test=x)
    np.testing.assert_array_equal(read_npz_images(tmp_path / "test.npz"), x)
    np.savez(tmp_path / "only.npz", digits=other)
    np.testing.assert_array_equal(read_npz_images(tmp_path / "only.npz"), other)
    np.savez(tmp_path / "two.npz", a=x, b=other)
    with pytest.raises(DataError, match=r"no images array \(expected one of images, x, x_test, "
                                        r"x_train or a single array; found a, b\)"):
        read_npz_images(tmp_path / "two.npz")
    np.savez(tmp_path / "empty.npz", images=np.zeros((0, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"the array is empty \(shape \(0, 4, 4\)\)"):
        read_npz_images(tmp_path / "empty.npz")


def test_every_reader_refuses_the_same_bad_file_in_the_same_words(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("images,labels\n1,2\n")
    objects = tmp_path / "objects.npz"
    np.savez(objects, images=np.array([None, "a"], dtype=object), labels=np.zeros(2))
    readers = (load_arrays, read_npz_images,
               lambda p: read_npz_arrays(p, ("images", "labels"), "labelled images"))
    for read in readers:
        with pytest.raises(DataError, match="is not an .npz archive"):
            read(text)
        with pytest.raises(DataError, match=r"\[images\] holds Python objects"):
            read(objects)
    for read in readers[1:]:  # load_arrays looks for the source first: "data source not found"
        with pytest.raises(DataError, match="npz file not found"):
            read(tmp_path / "missing.npz")


def test_named_arrays_name_what_is_missing(tmp_path):
    np.savez(tmp_path / "half.npz", images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"has no labels array \(it has images\); labelled"):
        read_npz_arrays(tmp_path / "half.npz", ("images", "labels"), "labelled images")
    np.savez(tmp_path / "whole.npz", images=np.ones((2, 4, 4), np.uint8), labels=np.arange(2))
    images, labels = read_npz_arrays(tmp_path / "whole.npz", ("images", "labels"), "labelled")
    assert images.shape == (2, 4, 4) and list(labels) == [0, 1]


def test_npy_arrays(tmp_path):
    np.save(tmp_path / "codes.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    assert read_npy(tmp_path / "codes.npy").shape == (2, 3)
    (tmp_path / "text.npy").write_text("1,2,3")
    np.save(tmp_path / "objects.npy", np.array([None], dtype=object))
    np.save(tmp_path / "empty.npy", np.zeros((0, 3)))
    for name, message in [("text.npy", "not a NumPy .npy file"),
                          ("objects.npy", "holds Python objects"),
                          ("empty.npy", r"the array is empty \(shape \(0, 3\)\)"),
                          ("missing.npy", "npy file not found")]:
        with pytest.raises(DataError, match=message):
            read_npy(tmp_path / name)
