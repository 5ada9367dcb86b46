"""keras_ae.data.pipeline: the tf.data pipelines of (input, target) pairs — scaling, shuffling
by split and seed, batches, noise on the input only, and epochs ordered from (seed, epoch)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_ae.data import DataError, autoencoder_dataset, load_arrays, make_pipeline

from idx_files import make_digits, row_hashes

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


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
