"""Tests for keras_ae.data: IDX/npz/array/tfds sources, splits and tf.data pipelines."""

from __future__ import annotations

import gzip
import hashlib
import logging
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import data
from keras_ae.data import (
    DataError,
    Noise,
    autoencoder_dataset,
    load_arrays,
    load_dataset,
    make_pipeline,
    parse_noise,
    validate_images,
)
from keras_ae.data import idx as idx_module


@pytest.fixture(autouse=True)
def _fresh_cache():
    data.clear_cache()
    yield
    data.clear_cache()


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    """Write a uint8 array as an IDX file (magic 0x0800 | ndim, big-endian dims)."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_digits(n: int, seed: int, h: int = 28, w: int = 28) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, h, w), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_idx_folder(folder: Path, *, train: int | None, test: int | None, gz: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    out = {}
    for prefix, n, seed in (("train", train, 1), ("t10k", test, 2)):
        if n is None:
            continue
        x, y = make_digits(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", x, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", y, gz=gz)
        out[prefix] = (x, y)
    return out


def row_hashes(x: np.ndarray) -> list[str]:
    return [hashlib.sha1(row.tobytes()).hexdigest() for row in x]


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    x, y = make_digits(7, seed=3, h=5, w=4)
    images = idx_module.read_idx_images(write_idx(tmp_path / "img", x, gz=gz))
    labels = idx_module.read_idx_labels(write_idx(tmp_path / "lbl", y, gz=gz))
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    assert images.dtype == np.uint8 and images.shape == (7, 5, 4)


def test_gzip_detected_by_content_not_name(tmp_path):
    x, _ = make_digits(3, seed=0)
    gz_named_plain = write_idx(tmp_path / "a.gz", x, gz=False)
    plain_named_gz = write_idx(tmp_path / "b", x, gz=True)
    np.testing.assert_array_equal(idx_module.read_idx_images(gz_named_plain), x)
    np.testing.assert_array_equal(idx_module.read_idx_images(plain_named_gz), x)


def test_idx_wrong_magic(tmp_path):
    _, y = make_digits(4, seed=0)
    labels_file = write_idx(tmp_path / "labels", y, gz=True)
    with pytest.raises(DataError, match=r"wrong IDX magic number 0x00000801") as info:
        idx_module.read_idx_images(labels_file)
    assert str(labels_file) in str(info.value)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"hello world, not idx")
    with pytest.raises(DataError, match="magic"):
        idx_module.read_idx_labels(garbage)


def test_idx_truncated_plain(tmp_path):
    x, _ = make_digits(4, seed=0)
    path = write_idx(tmp_path / "img", x, gz=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"truncated IDX file .*needs 3136 data bytes, found 3126") as info:
        idx_module.read_idx_images(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_idx_truncated_gzip(tmp_path):
    x, _ = make_digits(4, seed=0)
    path = write_idx(tmp_path / "img.gz", x, gz=True)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="corrupt or truncated gzip file") as info:
        idx_module.read_idx_images(path)
    assert str(path) in str(info.value)


def test_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="IDX file not found"):
        idx_module.read_idx_images(tmp_path / "nope")


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


# --------------------------------------------------------------------------- data_dir lookup


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


# --------------------------------------------------------------------------- npz


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


# --------------------------------------------------------------------------- arrays and validation


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


def test_returned_arrays_are_private_copies(tmp_path):
    write_idx_folder(tmp_path, train=20, test=5)
    first, _ = load_arrays(tmp_path, "test")
    first[:] = 0
    second, _ = load_arrays(tmp_path, "test")
    assert second.any()


@pytest.mark.parametrize(
    "array, message",
    [
        (np.full((2, 3, 3), np.inf, np.float32), "inf"),
        (np.full((2, 3, 3), np.nan), "NaN"),
        (np.full((2, 3, 3), 1.5), r"float images must lie in \[0, 1\]"),
        (np.full((2, 3, 3), 300, np.int32), r"integer images must lie in \[0, 255\]"),
        (np.full((2, 3, 3), "a"), "must be numeric"),
        (np.zeros((3, 3)), r"got shape \(3, 3\)"),
        (np.zeros((0, 3, 3)), "empty"),
    ],
)
def test_validate_images_rejects(array, message):
    with pytest.raises(DataError, match=message):
        validate_images(array)


def test_validate_images_normalises():
    assert validate_images(np.full((2, 3, 3), 7, np.int64)).dtype == np.uint8
    assert validate_images(np.zeros((2, 3, 3), np.float64)).dtype == np.float32
    assert validate_images(np.zeros((2, 3, 3, 3), np.uint8)).shape == (2, 3, 3, 3)


# --------------------------------------------------------------------------- determinism and caching


def test_validation_carve_is_deterministic_and_seed_independent():
    x, y = make_digits(100, seed=9)
    np.random.seed(1)
    tf.random.set_seed(1)
    a, _ = load_arrays((x, y), "validation")
    np.random.seed(2)
    tf.random.set_seed(2)
    b, _ = load_arrays((x, y), "validation")
    np.testing.assert_array_equal(a, b)
    assert len(a) == 10


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


# --------------------------------------------------------------------------- pipelines


def test_autoencoder_dataset_yields_float_pairs():
    x, _ = make_digits(300, seed=4)
    ds = autoencoder_dataset(x, "train", batch_size=32, seed=3)
    inputs, targets = next(iter(ds))
    assert inputs.dtype == tf.float32 and inputs.shape == (32, 28, 28, 1)
    np.testing.assert_array_equal(inputs.numpy(), targets.numpy())
    assert 0.0 <= float(tf.reduce_min(inputs)) and float(tf.reduce_max(inputs)) <= 1.0
    assert sum(int(b[0].shape[0]) for b in ds) == 270


def test_autoencoder_dataset_is_deterministic_with_seed():
    x, _ = make_digits(300, seed=4)
    first = next(iter(autoencoder_dataset(x, batch_size=16, seed=5)))[0].numpy()
    again = next(iter(autoencoder_dataset(x, batch_size=16, seed=5)))[0].numpy()
    other = next(iter(autoencoder_dataset(x, batch_size=16, seed=6)))[0].numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_shuffle_defaults_follow_the_split():
    x, _ = make_digits(300, seed=4)
    ordered, _ = load_arrays(x, "train")
    train_batch = next(iter(autoencoder_dataset(x, "train", batch_size=16, seed=1)))[0].numpy()
    assert not np.array_equal(train_batch, ordered[:16] / 255.0)
    val_x, _ = load_arrays(x, "validation")
    val_batch = next(iter(autoencoder_dataset(x, "validation", batch_size=16)))[0].numpy()
    np.testing.assert_allclose(val_batch, val_x[:16].astype(np.float32) / 255.0)


def test_train_order_changes_between_epochs():
    x, _ = make_digits(200, seed=4)
    ds = autoencoder_dataset(x, batch_size=200, seed=2)
    epoch1 = next(iter(ds))[0].numpy()
    epoch2 = next(iter(ds))[0].numpy()
    assert not np.array_equal(epoch1, epoch2)
    assert sorted(row_hashes(epoch1)) == sorted(row_hashes(epoch2))


def test_drop_remainder_and_labels():
    x, y = make_digits(50, seed=4)
    ds = make_pipeline(x, y, batch_size=16, shuffle=False, drop_remainder=True)
    batches = list(ds)
    assert len(batches) == 3
    x_in, target, labels = batches[0]
    assert labels.dtype == tf.int64
    np.testing.assert_array_equal(labels.numpy(), y[:16])
    np.testing.assert_allclose(target.numpy()[..., 0], x[:16] / 255.0, rtol=1e-6)
    with pytest.raises(DataError, match="batch_size must be a positive integer"):
        make_pipeline(x, batch_size=0, shuffle=False)


def test_float_images_are_not_rescaled():
    x = np.random.default_rng(0).random((8, 4, 4, 1)).astype(np.float32)
    x_in, _ = next(iter(make_pipeline(x, batch_size=8, shuffle=False)))
    np.testing.assert_allclose(x_in.numpy(), x)


@pytest.mark.parametrize("spec", ["gaussian:0.5", "masking:0.3", "salt_pepper:0.1"])
def test_noise_corrupts_input_only(spec):
    x, _ = make_digits(64, seed=4)
    noisy, clean = next(iter(autoencoder_dataset(x, "all", batch_size=64, noise=spec, seed=1)))
    reference, _ = next(iter(autoencoder_dataset(x, "all", batch_size=64, seed=1)))
    np.testing.assert_array_equal(clean.numpy(), reference.numpy())
    assert not np.array_equal(noisy.numpy(), clean.numpy())
    assert 0.0 <= float(tf.reduce_min(noisy)) and float(tf.reduce_max(noisy)) <= 1.0
    again, _ = next(iter(autoencoder_dataset(x, "all", batch_size=64, noise=spec, seed=1)))
    np.testing.assert_array_equal(noisy.numpy(), again.numpy())


def test_noise_amounts():
    x = tf.fill([4, 50, 50, 1], 0.5)
    masked = Noise("masking", 0.3).apply(x, seed=1).numpy()
    assert set(np.unique(masked)) <= {0.0, 0.5}
    assert abs((masked == 0).mean() - 0.3) < 0.03
    sp = parse_noise("salt_pepper:0.2").apply(x, seed=2).numpy()
    assert abs((sp == 0).mean() - 0.1) < 0.02 and abs((sp == 1).mean() - 0.1) < 0.02
    gauss = parse_noise("gaussian:0.1").apply(x, seed=3).numpy()
    assert abs(float(gauss.std()) - 0.1) < 0.01
    rgb = parse_noise("masking:0.5").apply(tf.fill([2, 8, 8, 3], 0.5), seed=4).numpy()
    zeroed = rgb == 0
    assert (zeroed.all(axis=-1) == zeroed.any(axis=-1)).all()  # whole pixels are masked
    np.testing.assert_array_equal(
        Noise("gaussian", 0.2).apply(x, seed=7).numpy(), Noise("gaussian", 0.2).apply(x, seed=7).numpy()
    )


def test_parse_noise():
    assert parse_noise("gaussian:0.5") == Noise("gaussian", 0.5)
    assert parse_noise(" Salt-Pepper:0.1 ") == Noise("salt_pepper", 0.1)
    assert str(parse_noise("masking:0.3")) == "masking:0.3"
    with pytest.raises(DataError, match="unknown noise kind 'speckle'; choose from gaussian, masking, salt_pepper"):
        parse_noise("speckle:0.1")
    with pytest.raises(DataError, match="needs an amount"):
        parse_noise("gaussian")
    with pytest.raises(DataError, match="not a number"):
        parse_noise("gaussian:lots")
    with pytest.raises(DataError, match=r"fraction must be in \(0, 1\]"):
        parse_noise("masking:1.5")
    with pytest.raises(DataError, match="stddev must be > 0"):
        parse_noise("gaussian:0")


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


# --------------------------------------------------------------------------- tensorflow-datasets


def test_tfds_mock_mnist(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from keras_ae.data import tfds_source

    # The mocked builder is never "prepared"; let its no-op download run.
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=40):
        train_x, train_y = load_arrays("mnist", "train")
        val_x, val_y = load_arrays("mnist", "validation", validation_fraction=0.25)
        test_x, test_y = load_arrays("mnist", "test")
        sliced_x, _ = load_arrays("mnist", "train[:10%]", with_labels=False)
        pool_x, pool_y = tfds_source.load_tfds("mnist", "train", None)
        batch = next(iter(autoencoder_dataset("mnist", batch_size=8, seed=0)))
    assert train_x.shape == (36, 28, 28, 1) and train_x.dtype == np.uint8
    assert train_y.dtype == np.int64 and set(train_y) <= set(range(10))
    assert val_x.shape == (10, 28, 28, 1)
    assert test_x.shape == (40, 28, 28, 1) and sliced_x.shape[1:] == (28, 28, 1)
    _, val_idx = data.splits.carve_indices(40, 0.25)
    np.testing.assert_array_equal(val_x, pool_x[val_idx])
    np.testing.assert_array_equal(val_y, pool_y[val_idx])
    assert batch[0].shape == (8, 28, 28, 1) and batch[0].dtype == tf.float32


def test_tfds_offline_fails_fast(monkeypatch):
    pytest.importorskip("tensorflow_datasets")

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        load_arrays("fashion_mnist", "train")  # mnist would fall back to the bundled digits
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert message.startswith("could not download 'fashion_mnist' with tensorflow-datasets (offline?)")
    assert "--data-dir DIR" in message and "\n" not in message


def test_tfds_unknown_name():
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(DataError, match="unknown dataset 'no_such_dataset_xyz'"):
        load_arrays("no_such_dataset_xyz")


def test_tfds_dataset_without_images():
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(DataError, match="has no 'image' feature"):
        load_arrays("imdb_reviews")


# --------------------------------------------------------------------------- real files


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


@pytest.mark.real_data
def test_real_autoencoder_dataset(real_data_dir, real_dataset_dir):
    real_dataset_dir("mnist")
    kwargs = dict(batch_size=64, seed=11, data_dir=real_data_dir)
    first = next(iter(autoencoder_dataset("mnist", **kwargs)))
    again = next(iter(autoencoder_dataset("mnist", **kwargs)))
    x_in, target = first
    assert x_in.shape == (64, 28, 28, 1) and x_in.dtype == tf.float32
    np.testing.assert_array_equal(x_in.numpy(), target.numpy())
    np.testing.assert_array_equal(x_in.numpy(), again[0].numpy())
    assert float(tf.reduce_max(x_in)) == 1.0 and float(tf.reduce_min(x_in)) == 0.0
    noisy, clean = next(iter(autoencoder_dataset("mnist", noise="masking:0.3", **kwargs)))
    np.testing.assert_array_equal(clean.numpy(), x_in.numpy())
    assert not np.array_equal(noisy.numpy(), clean.numpy())


def test_epoch_pipeline_orders_each_epoch_from_seed_and_epoch_alone():
    from keras_ae.data import epoch_pipeline

    x = (np.arange(10 * 4 * 4) % 256).astype(np.uint8).reshape(10, 4, 4, 1)
    whole, steps = epoch_pipeline(x, batch_size=4, seed=5, epochs=3)
    assert steps == 3
    batches = [b[0].numpy() for b in whole]
    assert len(batches) == 9 and batches[0].dtype == np.float32
    epochs = [np.concatenate(batches[i * 3:(i + 1) * 3]) for i in range(3)]
    for epoch in epochs:  # every image once per epoch, scaled to [0, 1]
        np.testing.assert_array_equal(np.sort(epoch.reshape(10, -1), axis=0),
                                      np.sort(x.reshape(10, -1) / 255.0, axis=0).astype(np.float32))
    assert not np.array_equal(epochs[0], epochs[1])
    resumed, _ = epoch_pipeline(x, batch_size=4, seed=5, epochs=3, first_epoch=2)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in resumed]), epochs[2])
