"""A Keras user's script: build a keras_ae model, fit it on NumPy, tf.data and a PyDataset, use
its encoder in a classifier, pass callbacks. What Keras would accept works; what would train on
the wrong thing is refused in one line by keras_ae."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_ae
from keras_ae.data import DataError

SHAPE = (8, 8, 1)


def tiny(preset: str = "seed", **overrides) -> keras_ae.Autoencoder:
    options = {"latent_dim": 4, "hidden_units": (8,), "conv_filters": (4,), **overrides}
    if preset in ("seed", "conv_plain", "vae"):
        return keras_ae.build(preset, input_shape=SHAPE, **options)
    raise AssertionError(preset)


def images(n: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *SHAPE), dtype=np.float32)


class Batches(keras.utils.PyDataset):
    """A user's PyDataset of image batches."""

    def __init__(self, x, batch_size=4, **kwargs):
        super().__init__(**kwargs)
        self.x, self.batch_size = x, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, i):
        return self.x[i * self.batch_size:(i + 1) * self.batch_size]


# --- what works as in Keras ---------------------------------------------------------------------
def test_fit_on_numpy_tf_data_and_a_py_dataset_with_callbacks():
    model = tiny()
    x = images()
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs))
    model.fit(x, epochs=1, batch_size=4, verbose=0, callbacks=[callback])
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0,
              validation_data=tf.data.Dataset.from_tensor_slices(x).batch(4))
    model.fit(Batches(x), epochs=1, verbose=0)
    assert np.isfinite(seen[0]["loss"])
    assert np.isfinite(model.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(4), verbose=0)[0])


def test_uint8_images_from_tf_data_train():
    x = (images() * 255).astype("uint8")
    history = tiny().fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_sample_weight_from_tf_data():
    x = images()
    ds = tf.data.Dataset.from_tensor_slices((x, x, np.ones(len(x), "float32"))).batch(4)
    assert np.isfinite(tiny().fit(ds, epochs=1, verbose=0).history["loss"][0])


def test_the_encoder_inside_a_classifier_trains():
    model = tiny()
    classifier = keras.Sequential([model.encoder, keras.layers.Dense(2, activation="softmax")])
    classifier.compile("adam", "sparse_categorical_crossentropy")
    classifier.fit(images(), np.arange(16) % 2, epochs=1, verbose=0)


@pytest.mark.parametrize("preset", ["seed", "conv_plain", "vae"])
def test_the_encoder_takes_images_as_encode_does(preset):
    model, x = tiny(preset), (images() * 255).astype("uint8")
    codes = model.encoder(x)
    codes = codes[0] if isinstance(codes, (list, tuple)) else codes  # a VAE's posterior mean first
    np.testing.assert_allclose(np.asarray(codes), np.asarray(model.encode(x)), atol=1e-6)
    with pytest.raises(DataError, match=r"float images must lie in \[0, 1\]"):
        model.encoder(x.astype("float32"))  # 0-255 floats


def test_the_encoder_in_a_users_functional_classifier_divides_uint8_by_255(tmp_path):
    model, x = tiny(), (images() * 255).astype("uint8")
    inputs = keras.Input(SHAPE, dtype="uint8")
    head = keras.layers.Dense(2, activation="softmax")
    classifier = keras.Model(inputs, head(model.encoder(inputs)))
    classifier.compile("adam", "sparse_categorical_crossentropy")
    classifier.fit(x, np.arange(16) % 2, epochs=1, verbose=0)
    expected = np.asarray(head(model.encode(x)))
    np.testing.assert_allclose(classifier.predict(x, verbose=0), expected, atol=1e-5)
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)


def test_a_model_saved_with_a_plain_functional_encoder_loads_with_the_input_contract(tmp_path):
    """Files saved before the encoder kept the input contract (a plain functional encoder) load
    into the same weights, and their encoder then divides uint8 by 255."""
    import json
    import zipfile

    model, x = tiny(), (images() * 255).astype("uint8")
    model.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as new, \
            zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in new.infolist():
            data = new.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                encoder = config["config"]["encoder"]
                assert encoder["class_name"] == "ImageEncoder"
                encoder.update(class_name="Functional", module="keras.src.models.functional",
                               registered_name="Functional")
                data = json.dumps(config).encode()
            old.writestr(item, data)
    loaded = keras_ae.load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(loaded.encode(x), model.encode(x), atol=1e-6)
    np.testing.assert_allclose(loaded.encoder(x), model.encode(x), atol=1e-6)


# --- 0-255 floats never train silently --------------------------------------------------------------
@pytest.mark.parametrize("preset", ["seed", "conv_plain", "vae"])  # with XLA and without
def test_0_255_floats_from_tf_data_are_refused_like_numpy(preset):
    model = tiny(preset)
    x = images() * 255
    with pytest.raises(DataError) as numpy_error:
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(DataError) as dataset_error:
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
    def shape(message):  # the same message, the range found aside
        return re.sub(r"\[[-0-9.e+]+, [-0-9.e+]+\]", "[lo, hi]", message)

    assert shape(str(dataset_error.value)) == shape(str(numpy_error.value))
    assert "found values in [lo, hi]" in shape(str(dataset_error.value))
    assert "\n" not in str(dataset_error.value)


def test_nan_in_a_later_batch_of_tf_data_is_refused():
    x = images()
    x[-1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="images contain NaN values"):
        tiny().fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0)


def test_0_255_floats_in_validation_data_and_evaluate_are_refused():
    model = tiny()
    good, bad = (tf.data.Dataset.from_tensor_slices(v).batch(4) for v in (images(), images() * 255))
    with pytest.raises(DataError, match=r"float images must lie in \[0, 1\]"):
        model.fit(good, validation_data=bad, epochs=1, verbose=0)
    with pytest.raises(DataError, match=r"float images must lie in \[0, 1\]"):
        model.evaluate(bad, verbose=0)


@pytest.mark.parametrize("preset", ["seed", "conv_plain"])
@pytest.mark.parametrize("first_bad", [0, 12])  # the batch Keras reads first, or a later one
def test_0_255_floats_from_a_py_dataset_are_refused(preset, first_bad):
    x = images()
    x[first_bad:] *= 255
    with pytest.raises(DataError, match=r"float images must lie in \[0, 1\]") as raised:
        tiny(preset).fit(Batches(x), epochs=1, verbose=0)
    assert "\n" not in str(raised.value)


# --- labels are not targets ---------------------------------------------------------------------
@pytest.mark.parametrize("labels", [np.zeros(16, "int32"), np.eye(2, dtype="float32")[np.arange(16) % 2]])
def test_images_with_labels_are_refused_naming_the_labels(labels):
    ds = tf.data.Dataset.from_tensor_slices((images(), labels)).batch(4)
    with pytest.raises(ValueError, match=r"labels=None.*ds\.map\(lambda x, y: x\)"):
        tiny().fit(ds, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="got \\(images, labels\\)"):
        tiny().fit(images(), labels, epochs=1, verbose=0)


# --- what has no meaning here is refused --------------------------------------------------------
def test_class_weight_is_refused():
    with pytest.raises(ValueError, match="class_weight has no meaning"):
        tiny().fit(images(), epochs=1, verbose=0, class_weight={0: 1.0})


def test_legacy_h5_is_refused_naming_keras(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        tiny().save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match=r"legacy HDF5.*\.keras"):
        keras_ae.load_model(tmp_path / "old.h5")


# --- another backend ----------------------------------------------------------------------------
BACKEND_ERROR = ("keras_ae needs the TensorFlow backend of Keras (KERAS_BACKEND=tensorflow); "
                 "Keras runs on numpy")


@pytest.mark.parametrize("code", ["keras_ae.build('seed')", "keras_ae.load_model('m.keras')",
                                  "keras_ae.Autoencoder", "__import__('keras_ae.models.presets')"])
def test_another_backend_is_refused_in_one_line(code):
    done = subprocess.run([sys.executable, "-c", f"import keras_ae\ntry:\n {code}\nexcept "
                           "RuntimeError as err:\n print(err)"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "KERAS_BACKEND": "numpy"})
    assert done.stdout == BACKEND_ERROR + "\n", done.stderr


def test_the_command_line_refuses_another_backend(tmp_path):
    command = Path(sys.executable).with_name("keras-ae")
    done = subprocess.run([str(command), "train", "--model", "seed", "--output", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KERAS_BACKEND": "numpy"})
    assert done.returncode == 2
    assert done.stderr == f"keras-ae: error: {BACKEND_ERROR}\n"
    assert not (tmp_path / "r").exists()


# --- build's options, as the command line takes them ---------------------------------------------
def test_mixed_precision_takes_on_and_off_as_the_command_line_does():
    assert keras_ae.RunConfig(mixed_precision="off").mixed_precision is False
    assert keras_ae.RunConfig(mixed_precision="on").mixed_precision is True
    assert not keras_ae.models.precision.is_mixed(tiny("conv_plain", mixed_precision="off"))


def _policies(model) -> list[str]:
    return [layer.dtype_policy.name for net in (model.encoder, model.decoder) for layer in net.layers
            if not isinstance(layer, keras.layers.InputLayer)]


def test_a_mixed_model_loads_and_clones_as_it_was_saved_whatever_the_global_policy(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")  # the user's program-wide choice
    try:
        model = tiny("conv_plain")
        assert "mixed_float16" in _policies(model)  # the user's policy, not the preset's own
        model.fit(images(16), epochs=1, batch_size=8, verbose=0)
        path = tmp_path / "model.keras"
        model.save(path)
    finally:
        keras.config.set_dtype_policy("float32")
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        try:
            loaded = keras_ae.load_model(path)
            clone = keras.models.clone_model(model)
        finally:
            keras.config.set_dtype_policy("float32")
        clone.set_weights(model.get_weights())
        for other in (loaded, clone):
            assert _policies(other) == _policies(model), policy
            np.testing.assert_array_equal(other.predict(images(4), verbose=0),
                                          model.predict(images(4), verbose=0))
            assert other(images(2)).dtype == "float32" and other.encode(images(2)).dtype == "float32"
        assert isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer), policy


@pytest.mark.parametrize("cls, methods", [
    (keras_ae.Autoencoder, ("__init__", "encode", "decode", "features", "anomaly_score")),
    (keras_ae.ContractiveAutoencoder, ("__init__",)),
    (keras_ae.VariationalAutoencoder, ("__init__", "encode", "encode_distribution", "sample",
                                       "elbo", "nll")),
    (keras_ae.VQVAE, ("__init__", "encode", "quantized", "features", "decode")),
])
def test_public_methods_are_annotated(cls, methods):
    import inspect

    for method in methods:
        signature = inspect.signature(getattr(cls, method))
        assert signature.return_annotation is not inspect.Signature.empty, (cls, method)
        unannotated = [name for name, p in signature.parameters.items()
                       if name != "self" and p.annotation is inspect.Parameter.empty]
        assert not unannotated, (cls.__name__, method, unannotated)


@pytest.mark.parametrize("preset", ["seed", "vae"])
def test_a_users_mirrored_strategy_fits_with_a_callback_per_batch(preset):
    from keras_ae.training.strategies import get_strategy

    # a MirroredStrategy over conftest's two CPUs, the one of this process: a second one fails
    # with plain Keras models too (TensorFlow's collectives on CPUs)
    strategy = get_strategy("mirrored")
    with strategy.scope():
        model = tiny(preset)
    seen = []
    on_batch = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(images(32), epochs=2, batch_size=8, verbose=0, callbacks=[on_batch])
    assert seen == [0, 1, 2, 3] * 2  # Keras's own count: one call per batch
    assert model.distribute_strategy is strategy and np.isfinite(history.history["loss"]).all()
