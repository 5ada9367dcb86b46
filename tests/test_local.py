"""keras_ae.data.local: sources on this machine — IDX folders, `data_dir` lookup by dataset
name, missing paths, and the pools read once per process."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from keras_ae.data import DataError, load_arrays
from keras_ae.data import idx as idx_module
from keras_ae.data import tfds_source

from idx_files import make_digits, row_hashes, write_idx, write_idx_folder
from image_files import pixels, write_folder

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_splits(tmp_path, gz):
    written = write_idx_folder(tmp_path / "digits", train=50, test=20, gz=gz)
    train_x, train_y = load_arrays(tmp_path / "digits", "train")
    val_x, val_y = load_arrays(tmp_path / "digits", "validation")
    test_x, test_y = load_arrays(str(tmp_path / "digits"), "test")
    all_x, all_y = load_arrays(tmp_path / "digits", "all")

    assert train_x.shape == (45, 28, 28, 1) and val_x.shape == (5, 28, 28, 1)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    np.testing.assert_array_equal(test_x[..., 0], written["t10k"][0])
    np.testing.assert_array_equal(test_y, written["t10k"][1])
    assert all_x.shape[0] == 70
    pool_x, pool_y = written["train"]
    assert sorted(row_hashes(train_x) + row_hashes(val_x)) == sorted(row_hashes(pool_x[..., None]))
    # labels stay attached to their images
    lookup = {h: label for h, label in zip(row_hashes(pool_x[..., None]), pool_y, strict=True)}
    assert [lookup[h] for h in row_hashes(val_x)] == list(val_y)


def test_idx_folder_without_labels(tmp_path):
    x, _ = make_digits(10, seed=0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x, gz=True)
    images, labels = load_arrays(tmp_path, "all")
    assert labels is None and images.shape == (10, 28, 28, 1)


def test_idx_label_count_mismatch(tmp_path):
    x, y = make_digits(10, seed=0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y[:9], gz=True)
    with pytest.raises(DataError, match="9 labels but .* 10 images"):
        load_arrays(tmp_path, "train")


def test_test_files_only_become_the_pool(tmp_path, caplog):
    written = write_idx_folder(tmp_path / "mnist", train=None, test=40)
    with caplog.at_level(logging.WARNING, logger="keras_ae.data"):
        train_x, _ = load_arrays("mnist", "train", data_dir=tmp_path)
    assert train_x.shape[0] == 36
    notes = [r for r in caplog.records if "no train files" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0].getMessage()
    val_x, _ = load_arrays("mnist", "validation", data_dir=tmp_path)
    assert sorted(row_hashes(train_x) + row_hashes(val_x)) == sorted(row_hashes(written["t10k"][0][..., None]))
    with pytest.raises(DataError, match="only the test files .* evaluate on split 'validation'"):
        load_arrays("mnist", "test", data_dir=tmp_path)


def test_folder_without_idx_files(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no IDX or image files found in"):
        load_arrays(tmp_path)


@pytest.mark.parametrize("folder", ["fashion-mnist", "fashion_mnist"])
def test_data_dir_parent_with_named_subfolder(tmp_path, folder):
    written = write_idx_folder(tmp_path / folder, train=30, test=10)
    for name in ("fashion_mnist", "fashion-mnist"):
        x, y = load_arrays(name, "test", data_dir=tmp_path)
        np.testing.assert_array_equal(x[..., 0], written["t10k"][0])


def test_data_dir_pointing_at_idx_folder(tmp_path):
    written = write_idx_folder(tmp_path / "anything", train=30, test=10)
    x, _ = load_arrays("mnist", "test", data_dir=tmp_path / "anything")
    np.testing.assert_array_equal(x[..., 0], written["t10k"][0])


def test_data_dir_npz_named_like_dataset(tmp_path):
    x, y = make_digits(20, seed=5)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    got, _ = load_arrays("mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(got[..., 0], x[:4])


def test_missing_paths(tmp_path):
    with pytest.raises(DataError, match=r"no IDX or image files found in .*absent \(no such folder\)"):
        load_arrays("mnist", data_dir=tmp_path / "absent")
    with pytest.raises(DataError, match="data source not found"):
        load_arrays(str(tmp_path / "absent.npz"))
    with pytest.raises(DataError, match="data source not found"):
        load_arrays(tmp_path / "absent-folder")


def test_returned_arrays_are_private_copies(tmp_path):
    write_idx_folder(tmp_path, train=20, test=5)
    first, _ = load_arrays(tmp_path, "test")
    first[:] = 0
    second, _ = load_arrays(tmp_path, "test")
    assert second.any()


def test_pool_is_read_once_per_process(tmp_path, monkeypatch):
    write_idx_folder(tmp_path, train=20, test=5)
    calls = []
    real_reader = idx_module.read_idx_images
    monkeypatch.setattr(idx_module, "read_idx_images", lambda p: calls.append(p) or real_reader(p))
    load_arrays(tmp_path, "train")
    load_arrays(tmp_path, "validation")
    load_arrays("mnist", "test", data_dir=tmp_path)
    assert len(calls) == 2  # train and t10k images, once each
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", make_digits(5, seed=11)[0], gz=True)
    load_arrays(tmp_path, "test")
    assert len(calls) == 4  # a changed file is read again


def test_npz_file_as_data_dir(tmp_path):
    x = pixels(20, (6, 6))
    np.savez(tmp_path / "mine.npz", x_train=x[:16], x_test=x[16:])
    got, _ = load_arrays("mnist", "test", data_dir=tmp_path / "mine.npz")
    np.testing.assert_array_equal(got[..., 0], x[16:])


def test_empty_or_missing_data_dir_never_downloads(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(tfds_source, "network_reachable", no_download)
    (tmp_path / "empty").mkdir()
    for folder, extra in ((tmp_path / "empty", ""), (tmp_path / "absent", " (no such folder)")):
        with pytest.raises(DataError) as info:
            load_arrays("mnist", "train", data_dir=folder)
        assert str(info.value) == f"no IDX or image files found in {folder}{extra}"


def test_data_dir_holding_an_image_folder_named_like_the_dataset(tmp_path):
    write_folder(tmp_path / "flowers" / "rose", pixels(3, (4, 4, 3)))
    images, labels = load_arrays("flowers", "all", data_dir=tmp_path)
    assert images.shape == (3, 4, 4, 3) and list(labels) == [0, 0, 0]


@pytest.mark.real_data
def test_real_mnist_splits(real_data_dir, real_dataset_dir):
    real_dataset_dir("mnist")
    train_x, train_y = load_arrays("mnist", "train", data_dir=real_data_dir)
    val_x, val_y = load_arrays("mnist", "validation", data_dir=real_data_dir)
    pool_x, _ = load_arrays("mnist", "all", data_dir=real_data_dir)
    assert train_x.shape == (9000, 28, 28, 1) and val_x.shape == (1000, 28, 28, 1)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    assert set(np.unique(train_y)) == set(range(10)) == set(np.unique(val_y))
    train_rows, val_rows = row_hashes(train_x), row_hashes(val_x)
    # the pool has a few duplicate digits, so compare multisets rather than sets
    assert sorted(train_rows + val_rows) == sorted(row_hashes(pool_x))
    assert len(pool_x) == 10000
    with pytest.raises(DataError, match="evaluate on split 'validation'"):
        load_arrays("mnist", "test", data_dir=real_data_dir)


@pytest.mark.real_data
def test_real_fashion_mnist_splits(real_data_dir, real_dataset_dir):
    folder = real_dataset_dir("fashion-mnist")
    sizes = {
        split: load_arrays("fashion_mnist", split, data_dir=real_data_dir)[0].shape
        for split in ("train", "validation", "test")
    }
    assert sizes == {
        "train": (54000, 28, 28, 1),
        "validation": (6000, 28, 28, 1),
        "test": (10000, 28, 28, 1),
    }
    test_x, test_y = load_arrays(folder, "test")
    assert set(np.unique(test_y)) == set(range(10)) and test_x.dtype == np.uint8
