"""The training core on Keras's machinery: the input contract, the objective registry, compile
options, mixed precision from the command line and import-time behaviour."""

import json
import subprocess
import sys

import numpy as np
import pytest

import keras
import keras_ae
from keras_ae.cli import main
from keras_ae.models.objectives import OBJECTIVES, all_options, get_objective, objective_of

from harness import SMALL, small, structured_images


# --- one input contract ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["seed", "conv_vae"])
def test_uint8_images_mean_pixels_over_255_everywhere(name):
    floats = structured_images(16)
    pixels = np.round(floats * 255).astype("uint8")
    scaled = pixels.astype("float32") / 255
    model = small(name)
    np.testing.assert_allclose(model(pixels), model(scaled), atol=1e-6)
    np.testing.assert_allclose(model.encode(pixels), model.encode(scaled), atol=1e-6)
    np.testing.assert_allclose(model.predict(pixels, verbose=0), model.predict(scaled, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(model.anomaly_score(pixels), model.anomaly_score(scaled), atol=1e-6)
    if not isinstance(model, keras_ae.VariationalAutoencoder):  # its evaluation samples z
        np.testing.assert_allclose(model.evaluate(pixels, batch_size=16, verbose=0),
                                   model.evaluate(scaled, batch_size=16, verbose=0), rtol=1e-5)
    history = model.fit(pixels, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("call", ["call", "encode", "anomaly_score", "predict", "fit", "evaluate"])
def test_other_dtypes_and_shapes_are_refused_naming_them(call):
    model = small("seed")

    def run(x):
        if call == "call":
            return model(x)
        if call in ("encode", "anomaly_score"):
            return getattr(model, call)(x)
        if call == "predict":
            return model.predict(x, verbose=0)
        return getattr(model, call)(x, x, verbose=0)

    with pytest.raises(ValueError, match="got dtype int32"):
        run(np.zeros((2, *SMALL), "int32"))
    with pytest.raises(ValueError, match=r"takes images of shape \(12, 12, 1\), got images of "
                                         r"shape \(12, 12, 3\)"):
        run(np.zeros((2, 12, 12, 3), "float32"))
    with pytest.raises(ValueError, match=r"takes a batch of images.*got an array of shape \(12, 12, 1\)"):
        model(np.zeros(SMALL, "float32"))


# --- the registry ----------------------------------------------------------------------------
def test_every_preset_resolves_to_a_registered_objective():
    images = structured_images(4)
    for name in keras_ae.PRESETS:
        config = keras_ae.preset_config(name)
        objective = get_objective(config.objective)
        model = small(name)
        assert objective_of(model) is objective
        assert set(config.options) == set(objective.option_names)
        assert set(model.term_trackers) == set(objective.model_class.loss_term_names(config.options))
        logs = model.evaluate(images, batch_size=4, verbose=0, return_dict=True)
        assert set(logs) == {"loss", *objective.metrics(config.options)}  # what the logs show
        assert tuple(model.signature_inputs()) == objective.signatures


def test_the_registry_describes_each_objective():
    table = {name: (entry.option_names, entry.signatures, entry.metrics())
             for name, entry in OBJECTIVES.items()}
    assert table["autoencoder"] == (("loss", "denoise", "sparsity"),
                                    ("encode", "decode", "reconstruct", "anomaly_score"),
                                    ("reconstruction_loss",))
    assert table["vae"] == (("beta", "likelihood", "sigma", "denoise"),
                            ("encode", "decode", "reconstruct", "anomaly_score", "sample"),
                            ("reconstruction_loss", "kl_loss"))
    assert table["contractive"] == (("loss", "contractive"),
                                    ("encode", "decode", "reconstruct", "anomaly_score"),
                                    ("reconstruction_loss", "contractive_loss"))
    assert table["vq_vae"] == (("loss", "codebook_size", "commitment", "dead_code_steps"),
                               ("encode", "decode", "reconstruct", "anomaly_score"),
                               ("reconstruction_loss", "vq_loss", "codebook_usage", "perplexity"))
    assert get_objective("autoencoder").metrics({"sparsity": "l1:0.1"}) == \
        ("reconstruction_loss", "sparsity_loss")
    assert set(all_options()) == {"loss", "denoise", "sparsity", "beta", "likelihood", "sigma",
                                  "contractive", "codebook_size", "commitment", "dead_code_steps"}
    assert {name: entry.code for name, entry in OBJECTIVES.items()} == {
        "autoencoder": "vector", "vae": "vector", "contractive": "vector", "vq_vae": "map"}


def test_the_new_objectives_take_their_options_from_the_registry(tmp_path, capsys):
    config = keras_ae.preset_config("vq_vae", codebook_size=32, commitment=0.5)
    assert config.options == {"loss": "mse", "codebook_size": 32, "commitment": 0.5,
                              "dead_code_steps": 100}
    assert keras_ae.preset_config("contractive", contractive=0.01).options == \
        {"loss": "mse", "contractive": 0.01}
    for bad, message in [({"codebook_size": 1}, "codebook_size must be an integer >= 2, got 1"),
                         ({"codebook_size": 2.5}, "codebook_size must be an integer >= 2"),
                         ({"dead_code_steps": -1}, "dead_code_steps must be an integer >= 0"),
                         ({"commitment": -1.0}, "commitment must be a finite number >= 0")]:
        with pytest.raises(ValueError, match=message):
            keras_ae.preset_config("vq_vae", **bad)
    with pytest.raises(ValueError, match="contractive weight must be a finite number >= 0"):
        keras_ae.preset_config("contractive", contractive=-1.0)
    with pytest.raises(ValueError, match="the vq_vae objective takes the conv architecture, "
                                         "not 'dense'"):
        keras_ae.preset_config("vq_vae", architecture="dense")
    with pytest.raises(ValueError, match="the contractive objective takes the dense or conv"):
        keras_ae.preset_config("contractive", architecture="linear")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    usage = capsys.readouterr().out
    for flag in ("--contractive LAMBDA", "--codebook-size K", "--commitment BETA",
                 "--dead-code-steps N"):
        assert flag in usage


def test_config_json_keeps_objective_options_apart():
    config = keras_ae.preset_config("conv_vae", beta=4.0)
    data = config.to_dict()
    assert data["objective"] == "vae"
    assert data["options"] == {"beta": 4.0, "likelihood": "bernoulli", "sigma": 0.1, "denoise": None}
    assert "beta" not in data and keras_ae.RunConfig.from_dict(data) == config
    with pytest.raises(ValueError, match="unknown config keys: beta"):
        keras_ae.RunConfig.from_dict({**data, "beta": 2.0})
    # a new objective starts from its own defaults
    assert config.replace(objective="autoencoder").options == \
        {"loss": "mse", "denoise": None, "sparsity": None}


@pytest.mark.parametrize("argv, message", [
    (["--model", "seed", "--beta", "4"], "option 'beta' does not apply to the autoencoder objective"),
    (["--model", "vae", "--loss", "bce"], "option 'loss' does not apply to the vae objective"),
    (["--model", "vae", "--sparse", "l1:0.1"], "option 'sparsity' does not apply to the vae"),
    (["--model", "conv", "--likelihood", "gaussian"], "option 'likelihood' does not apply"),
    (["--model", "conv", "--codebook-size", "8"], "option 'codebook_size' does not apply to the "
                                                  "autoencoder objective"),
    (["--model", "vq_vae", "--contractive", "0.1"], "option 'contractive' does not apply to the "
                                                    "vq_vae objective"),
    (["--model", "contractive", "--sparse", "l1:0.1"], "option 'sparsity' does not apply to the "
                                                       "contractive objective"),
])
def test_cli_refuses_an_option_of_another_objective_in_one_line(argv, message, tmp_path, capsys):
    assert main(["train", *argv, "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


# --- compile ---------------------------------------------------------------------------------
def test_compiled_loss_and_metrics_survive_saving(tmp_path):
    x = structured_images(16)
    model = small("seed")
    model.compile(optimizer="adam", loss="mae", metrics=["mse"])
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras_ae.load_model(path)
    got = loaded.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    want = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert set(got) == {"loss", "reconstruction_loss", "mse"}
    for key in got:
        assert got[key] == pytest.approx(want[key], rel=1e-6)
    assert got["reconstruction_loss"] == pytest.approx(float(np.mean(np.abs(x - loaded(x)))), rel=1e-5)


def test_an_unknown_compiled_loss_is_refused():
    with pytest.raises(ValueError, match="cannot use loss 'nope' as the reconstruction loss"):
        small("seed").compile(optimizer="adam", loss="nope")


def test_a_global_mixed_policy_applies_to_build():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = small("seed")
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.encoder.layers[-1].compute_dtype == "bfloat16"
    history = model.fit(structured_images(16), epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_cli_trains_with_mixed_precision(tmp_path, capsys):
    images = (structured_images(96, shape=(28, 28, 1)) * 255).astype("uint8")
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.zeros(96, "int64"))
    run = tmp_path / "run"
    assert main(["train", "--model", "seed", "--dataset", str(tmp_path / "d.npz"), "--epochs", "1",
                 "--mixed-precision", "--output", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["mixed_precision"] is True
    model = keras_ae.load_model(run)
    assert model.encoder.layers[-1].compute_dtype == "bfloat16"  # no GPU here
    assert model(images[:2]).dtype == "float32"


@pytest.mark.parametrize("native", [True, False])
def test_auto_mixed_precision_follows_the_hardware(native, monkeypatch):
    from keras_ae.models import precision

    monkeypatch.setattr(precision, "native_bfloat16_cpu", lambda: native)
    assert precision.policy_for("auto") == ("mixed_bfloat16" if native else "float32")  # no GPU here
    assert precision.policy_for(True) == "mixed_bfloat16" and precision.policy_for(False) is None
    model = keras_ae.build(keras_ae.RunConfig(architecture="conv", conv_filters=(4,), latent_dim=3,
                                              mixed_precision="auto"), input_shape=SMALL)
    assert model.encoder.layers[-1].compute_dtype == ("bfloat16" if native else "float32")


def test_compile_options_are_chosen_per_architecture_and_objective():
    from keras_ae.models.presets import STEPS_PER_EXECUTION, compile_options, preset_config

    fast = {"jit_compile": True, "steps_per_execution": STEPS_PER_EXECUTION}
    assert compile_options(preset_config("seed")) == fast
    assert compile_options(preset_config("denoising")) == fast
    assert compile_options(preset_config("conv")) == {"jit_compile": False,
                                                      "steps_per_execution": STEPS_PER_EXECUTION}
    assert compile_options(preset_config("contractive"))["jit_compile"] is False
    assert compile_options(preset_config("seed", jit_compile=False, steps_per_execution=4)) == {
        "jit_compile": False, "steps_per_execution": 4}


def test_a_built_model_fits_as_keras_compiles_by_default():
    """`build` leaves the speed settings to `train`: a user's `fit` runs one batch per step,
    as a re-compile with Keras's defaults does."""
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.compile()
    x = structured_images(40)
    model = keras_ae.build("seed", input_shape=x.shape[1:])
    assert model.jit_compile == plain.jit_compile

    class CountBatches(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.batches = []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(batch)

    for _ in range(2):
        counter = CountBatches()
        model.fit(x, epochs=1, batch_size=8, verbose=0, callbacks=[counter])
        assert counter.batches == [0, 1, 2, 3, 4]
        model.compile(optimizer=model.optimizer)  # again, with Keras's defaults


# --- import ----------------------------------------------------------------------------------
def test_importing_keras_ae_leaves_devices_configurable():
    script = ("import keras_ae, tensorflow as tf\n"
              "cpu = tf.config.list_physical_devices('CPU')[0]\n"
              "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 3)\n"
              "print(len(tf.config.list_logical_devices('CPU')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3"


def test_a_fresh_process_loads_a_model_of_every_objective(tmp_path):
    from keras_ae.models.saving import save_model

    paths = []
    for name in ("seed", "vae", "contractive", "vq_vae"):
        model = small(name)
        assert objective_of(model).name == keras_ae.preset_config(name).objective
        paths.append(str(save_model(model, tmp_path / f"{name}.keras")))
    script = ("import sys, keras_ae\n"
              "print(' '.join(type(keras_ae.load_model(p)).__name__ for p in sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["Autoencoder", "VariationalAutoencoder", "ContractiveAutoencoder",
                                   "VQVAE"]
