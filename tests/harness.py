"""One harness every model class goes through (as keras-hub's TestCase does for its models):
config round trip, fit on arrays and tf.data, sample_weight, compiled metrics and losses,
save/load, Keras's own export, keras_ae export parity, mixed precision and the 2-replica
equivalence. Each `check_*` takes `(model class, constructor arguments, images)`, so a model
class is covered with or without a preset (`preset_case` gives a preset's)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import keras
import keras_ae
from keras_ae.models import Sampling
from keras_ae.models.precision import float32_copy, precision_policy
from keras_ae.models.saving import save_model
from keras_ae.training.strategies import get_strategy

SMALL = (12, 12, 1)


def structured_images(n, shape=SMALL, rank=6, seed=0):
    """Images on one low-dimensional manifold (the sigmoid of a fixed random rank-`rank` map);
    `seed` draws the codes."""
    basis = np.random.default_rng(1234).normal(size=(rank, int(np.prod(shape)))) * 1.5
    codes = np.random.default_rng(seed).normal(size=(n, rank))
    return (1 / (1 + np.exp(-(codes @ basis)))).reshape((n, *shape)).astype("float32")


def small_config(name, **overrides):
    """The config of preset `name` shrunk to the small image size (a second or two to train), in
    Keras's global dtype policy (the mixed-precision check sets one), without XLA and one step
    per call unless `overrides` say otherwise (compiling costs more than these few steps)."""
    config = keras_ae.preset_config(name, **overrides)
    shrink = {"mixed_precision": False, "jit_compile": False, "steps_per_execution": 1,
              "hidden_units": tuple(min(u, 32) for u in config.hidden_units),
              "conv_filters": tuple(min(f, 8) for f in config.conv_filters)}
    if name == "overcomplete":
        shrink["latent_dim"] = 2 * int(np.prod(SMALL))
    if "memory_size" in config.options:  # a small memory
        shrink["memory_size"] = min(config.options["memory_size"], 64)
    if "codebook_size" in config.options:  # a tiny codebook of short codes
        shrink.update(codebook_size=min(config.options["codebook_size"], 16),
                      latent_dim=min(config.latent_dim, 4))
    return config.replace(**{**shrink, **overrides})


def small(name, **overrides):
    """Preset `name` built (and compiled) on small images."""
    return keras_ae.build(small_config(name, **overrides), input_shape=SMALL)


def preset_case(name):
    """Preset `name` as the checks take a model: its class and its constructor arguments (the
    preset's nets on small images, its objective's options)."""
    model = small(name)
    config = model.get_config()
    options = {k: v for k, v in config.items() if k not in ("encoder", "decoder", "trainable")}
    return type(model), {**options, "encoder": model.encoder, "decoder": model.decoder}


def _in_global_policy(layer):
    return layer.__class__.from_config({**layer.get_config(),
                                        "dtype": keras.config.dtype_policy().name})


def fresh(cls, init_kwargs, **changes):
    """A new `cls(**init_kwargs, **changes)` on new copies of its nets (Keras's `clone_model`: the
    same layers with new weights, each in Keras's global dtype policy, as nets built under it),
    compiled with Adam, without XLA, one step per call (compiling costs more than these steps),
    and adapted to 64 images (a one-class model's memory; nothing for other models)."""
    nets = {key: keras.models.clone_model(init_kwargs[key], clone_function=_in_global_policy)
            for key in ("encoder", "decoder")}
    model = cls(**{**init_kwargs, **nets, **changes})
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.adapt(structured_images(64, model.image_shape, seed=99))  # as train() does
    return model


def stochastic(model) -> bool:
    """Whether the model's loss draws noise when evaluated (a VAE samples its code)."""
    return isinstance(model, keras_ae.VariationalAutoencoder)


def assert_same_outputs(a, b, x, atol=0.0):
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), atol=atol, rtol=0)


# --- the checks ----------------------------------------------------------------------------------
def check_config_round_trip(cls, init_kwargs, images):
    model = fresh(cls, init_kwargs)
    clone = cls.from_config(model.get_config())
    nets = ("encoder", "decoder")
    assert {k: v for k, v in clone.get_config().items() if k not in nets} == \
        {k: v for k, v in model.get_config().items() if k not in nets}
    clone.set_weights(model.get_weights())
    assert_same_outputs(clone, model, images[:8])


def check_fit_arrays_and_dataset(cls, init_kwargs, images):
    x = images[:64]
    model = fresh(cls, init_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))  # Keras's own jit_compile="auto"
    history = model.fit(x, epochs=3, batch_size=16, verbose=0, validation_data=(x[:16], x[:16]))
    terms = set(model.term_trackers)
    assert {"loss", "val_loss"} | terms | {f"val_{t}" for t in terms} <= set(history.history)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    pairs = tf.data.Dataset.from_tensor_slices((x, x)).batch(16)
    alone = tf.data.Dataset.from_tensor_slices(x).batch(16)  # the target defaults to the input
    for dataset in (pairs, alone):
        more = model.fit(dataset, epochs=1, verbose=0, shuffle=False).history["loss"]
        assert np.isfinite(more[0])
    assert model(x[:4]).shape == x[:4].shape and model.anomaly_score(x[:4]).shape == (4,)


def _sliced(outputs, n):
    return {key: value[:n] for key, value in outputs.items()}


def check_sample_weight(cls, init_kwargs, images):
    x = images[:32]
    model = fresh(cls, init_kwargs)
    outputs = model.forward(tf.constant(x), training=False)

    def loss(images, outs, weight=None):
        return float(model.compute_loss(images, images, outs, sample_weight=weight, training=False))

    plain = loss(x, outputs)
    np.testing.assert_allclose(loss(x, outputs, np.full(32, 2.0, "float32")), 2 * plain, rtol=1e-5)
    half = np.r_[np.ones(16), np.zeros(16)].astype("float32")
    # Keras's sum_over_batch_size: the zero-weighted half adds nothing and still counts in N
    np.testing.assert_allclose(loss(x, outputs, half), 0.5 * loss(x[:16], _sliced(outputs, 16)),
                               rtol=1e-5)
    assert abs(loss(x, outputs, half) - plain) > 1e-6 * abs(plain)
    if not stochastic(model):  # the same through evaluate and fit
        weighted = model.evaluate(x, x, sample_weight=half, batch_size=32, verbose=0,
                                  return_dict=True)
        first = model.evaluate(x[:16], x[:16], batch_size=16, verbose=0, return_dict=True)
        np.testing.assert_allclose(weighted["loss"], 0.5 * first["loss"], rtol=1e-5)
    history = model.fit(x, x, sample_weight=half, batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def check_compiled_metrics_and_loss(cls, init_kwargs, images):
    x = images[:32]
    model = fresh(cls, init_kwargs)
    model.compile(optimizer="adam", metrics=["mae"])
    history = model.fit(x, epochs=1, batch_size=16, verbose=0, validation_data=(x, x))
    assert {"mae", "val_mae"} <= set(history.history)
    result = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    want = float(np.mean(np.abs(x - np.asarray(model(x)))))  # on the deterministic reconstruction
    np.testing.assert_allclose(result["mae"], want, rtol=1e-5)

    if isinstance(model, keras_ae.VariationalAutoencoder):
        try:
            model.compile(optimizer="adam", loss="mae")
        except ValueError as err:
            assert "negative ELBO" in str(err)
        else:
            raise AssertionError("compile(loss=...) on a VAE must be refused")
        return
    model.compile(optimizer="adam", loss="mae")
    result = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["reconstruction_loss"], want, rtol=1e-5)


def check_save_and_load(cls, init_kwargs, images, tmp_path: Path):
    x = images[:64]
    model = fresh(cls, init_kwargs)
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    loaded = keras_ae.load_model(save_model(model, tmp_path / "model.keras"))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0))
    np.testing.assert_array_equal(loaded.encode(x[:16]), model.encode(x[:16]))
    np.testing.assert_array_equal(loaded.anomaly_score(x[:16]), model.anomaly_score(x[:16]))
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a, b)  # it resumes with its optimizer state
    loaded.fit(x, epochs=1, batch_size=32, verbose=0)


def _keras_saved_model_output(model, path, x):
    model.export(str(path), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(path))  # kept alive while its function runs
    return loaded.serve(tf.constant(x)).numpy()


def _keras_litert_output(model, path, x):
    from ai_edge_litert.interpreter import Interpreter

    model.export(str(path), format="litert", verbose=False)
    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    (key,) = runner.get_input_details()
    (output,) = runner(**{key: x}).values()
    return output


def check_keras_export(cls, init_kwargs, images, tmp_path: Path):
    """Keras's own `model.export` after build (SavedModel) and, after fit, of the loaded model
    (SavedModel and LiteRT)."""
    x = images[:4]
    model = fresh(cls, init_kwargs)
    np.testing.assert_allclose(_keras_saved_model_output(model, tmp_path / "built", x), model(x),
                               atol=1e-6)
    model.fit(images[:32], epochs=1, batch_size=16, verbose=0)
    loaded = keras_ae.load_model(save_model(model, tmp_path / "model.keras"))
    np.testing.assert_allclose(_keras_saved_model_output(loaded, tmp_path / "loaded", x), model(x),
                               atol=1e-6)
    np.testing.assert_allclose(_keras_litert_output(loaded, tmp_path / "loaded.tflite", x),
                               model(x), atol=1e-5)


def check_export_parity(cls, init_kwargs, images, tmp_path: Path):
    """keras_ae's SavedModel and TFLite exports compute every signature as the model does."""
    from keras_ae.serving.export import export_saved_model, export_tflite, signature_names
    from keras_ae.serving.predict import parity

    x = images[:8]
    model = fresh(cls, init_kwargs)
    saved = export_saved_model(model, tmp_path / "saved")
    tflite = export_tflite(model, tmp_path / "model.tflite")
    for path, tolerance in ((saved, 1e-5), (tflite, 1e-4)):
        differences = parity(model, path, x)
        assert set(differences) == set(signature_names(model)) == set(model.SIGNATURES)
        assert max(differences.values()) <= tolerance, differences


def check_mixed_precision(cls, init_kwargs, images, policy: str, tmp_path: Path):
    """Two training steps of nets built under a global `policy`; losses, metrics, public outputs
    and exports (keras_ae's and Keras's own LiteRT file, with builtin ops only) stay float32."""
    from keras_ae.serving.export import export_saved_model
    from keras_ae.serving.predict import parity

    x = images[:32]
    with precision_policy(policy):
        model = fresh(cls, init_kwargs)
    assert model.encoder.layers[-1].compute_dtype == policy.removeprefix("mixed_")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    history = model.fit(x, epochs=2, batch_size=32, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    results = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    assert all(np.isfinite(v) for v in results.values())
    assert model(x[:2]).dtype == "float32" and model.anomaly_score(x[:2]).dtype == "float32"
    codes = model.encode(x[:2])
    assert codes.dtype in ("float32", "int32"), codes.dtype  # a VQ-VAE's codes are indices
    assert model.decode(codes).dtype == "float32"
    if hasattr(model, "sample"):
        assert model.sample(2).dtype == "float32"
    np.testing.assert_allclose(_keras_litert_output(model, tmp_path / "model.tflite", x[:4]),
                               model(x[:4]), atol=0.05)  # float32 weights of the mixed model
    served = float32_copy(model)
    assert served is not model and all(layer.compute_dtype == "float32" for layer in served.layers)
    path = export_saved_model(model, tmp_path / "saved")
    signature = tf.saved_model.load(str(path)).signatures["reconstruct"]
    assert signature.structured_input_signature[1]["image"].dtype == tf.float32
    assert signature.structured_outputs["image"].dtype == tf.float32
    assert max(parity(served, path, x[:4]).values()) <= 1e-5


# --- two replicas ------------------------------------------------------------------------------
class FixedSampling(Sampling):
    """z = mean + 0.5 * std: the VAE's noise fixed, so two placements compute the same step."""

    def call(self, z_mean, z_log_var, seed=None):
        return z_mean + 0.5 * keras.ops.exp(0.5 * z_log_var)


def _with_fixed_noise(cls, init_kwargs):
    """A new model of `cls` with its training noise fixed (compiled by the caller)."""

    class Fixed(cls):
        def _create_state(self):
            if isinstance(self, keras_ae.VariationalAutoencoder):
                self.sampling = FixedSampling(dtype="float32")
            else:  # the objective's own layers (a VQ-VAE's codebook), which draw no noise
                super()._create_state()

        def corrupt(self, x):  # a fixed corruption: the even pixels of each row dimmed
            if self.denoise is None:
                return x
            width = int(x.shape[2])
            dim = np.tile(np.float32([0.5, 1.0]), width // 2 + 1)[:width, None]
            return x * keras.ops.convert_to_tensor(dim)

    return fresh(Fixed, {**init_kwargs, "seed": 0})


def _one_sgd_step(cls, init_kwargs, x, initial, strategy=None):
    scope = strategy.scope() if strategy else tf.name_scope("single")
    with scope:
        model = _with_fixed_noise(cls, init_kwargs)
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, batch_size=len(x), epochs=1, verbose=0, shuffle=False)
    return model.get_weights()


def check_two_replicas(cls, init_kwargs, images):
    """One SGD step on 2 replicas (conftest splits the CPU into two logical devices) equals the
    single-device step on the same global batch."""
    x = images[:16]
    initial = _with_fixed_noise(cls, init_kwargs).get_weights()
    single = _one_sgd_step(cls, init_kwargs, x, initial)
    mirrored = _one_sgd_step(cls, init_kwargs, x, initial, get_strategy("mirrored"))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(single, initial))
    difference = max(float(np.abs(a - b).max()) for a, b in zip(single, mirrored))
    assert moved > 1e-4 and difference <= 1e-5, (moved, difference)


def ctrl_c() -> None:
    """Send this process SIGINT, as Ctrl-C does; the handler runs before this returns."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(2)
