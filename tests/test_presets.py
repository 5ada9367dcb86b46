"""Every preset through the shared harness (tests/harness.py), and what a preset adds to its
model class: its RunConfig, its objective's registry entry, its precision setting, the compile
options `train` and `build` use, its weight count before building; and the seed preset is the
classic network."""

import numpy as np
import pytest

import keras
import keras_ae
from harness import (SMALL, check_compiled_metrics_and_loss, check_config_round_trip,
                     check_export_parity, check_fit_arrays_and_dataset, check_keras_export,
                     check_mixed_precision, check_sample_weight, check_save_and_load,
                     check_two_replicas, preset_case, small, small_config, structured_images)
from keras_ae.models.objectives import objective_of
from keras_ae.models.precision import precision_policy
from keras_ae.models.presets import parameter_count, preset_config


def distinct_presets() -> list[str]:
    """Every preset whose small network differs from the presets' before it in more than its
    widths and code size: `dense` and `dec` (dense stacks like the seed net's), `conv_plain`
    (conv in float32, batches of 128) and `keras_io_vae` (conv_vae with a narrower head) go
    through the same code as `seed`, `conv` and `conv_vae`, the harness setting widths,
    precision and batches itself."""
    seen, names = [], []
    for name in keras_ae.PRESETS:
        model = {key: value for key, value in small_config(name).to_dict().items()
                 if key not in ("preset", "batch_size", "hidden_units", "latent_dim")}
        if model not in seen:
            seen.append(model)
            names.append(name)
    return names


PRESETS = distinct_presets()
IMAGES = structured_images(64)


@pytest.mark.parametrize("name", keras_ae.PRESETS)
def test_preset_config_and_objective(name):
    config = small_config(name)
    assert keras_ae.RunConfig.from_dict(config.to_dict()) == config
    model = small(name)
    assert objective_of(model).name == config.objective
    assert set(objective_of(model).signatures) == set(model.SIGNATURES)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_a_global_policy_overrides_the_presets_own(policy):
    for name in PRESETS:
        with precision_policy(policy):
            model = small(name, mixed_precision=keras_ae.preset_config(name).mixed_precision)
        assert model.encoder.layers[-1].compute_dtype == policy.removeprefix("mixed_"), name


@pytest.mark.parametrize("name", PRESETS)
def test_config_round_trip(name):
    check_config_round_trip(*preset_case(name), IMAGES)


@pytest.mark.parametrize("name", PRESETS)
def test_fit_on_arrays_and_datasets(name):
    check_fit_arrays_and_dataset(*preset_case(name), IMAGES)


@pytest.mark.parametrize("name", PRESETS)
def test_sample_weight(name):
    check_sample_weight(*preset_case(name), IMAGES)


@pytest.mark.parametrize("name", PRESETS)
def test_compiled_metrics_and_loss(name):
    check_compiled_metrics_and_loss(*preset_case(name), IMAGES)


@pytest.mark.parametrize("name", PRESETS)
def test_save_and_load(name, tmp_path):
    check_save_and_load(*preset_case(name), IMAGES, tmp_path)


@pytest.mark.parametrize("name", PRESETS)
def test_keras_export(name, tmp_path):
    check_keras_export(*preset_case(name), IMAGES, tmp_path)


@pytest.mark.parametrize("name", PRESETS)
def test_export_parity(name, tmp_path):
    check_export_parity(*preset_case(name), IMAGES, tmp_path)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", PRESETS)
def test_mixed_precision(name, policy, tmp_path):
    check_mixed_precision(*preset_case(name), IMAGES, policy, tmp_path)


@pytest.mark.parametrize("name", PRESETS)
def test_two_replicas_step_like_one_device(name):
    check_two_replicas(*preset_case(name), IMAGES)


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


def test_seed_preset_is_the_classic_network():
    model = keras_ae.build("seed")
    dense = [layer for layer in model.encoder.layers + model.decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128, 64, 32, 64, 128, 784]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "linear", "relu", "relu", "sigmoid"]
    assert all(isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform) for layer in dense)
    assert model.loss_name == "mse"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)
    x = np.zeros((3, 28, 28, 1), "float32")
    assert model.encode(x).shape == (3, 32)
    assert model.decode(model.encode(x)).shape == (3, 28, 28, 1)


def test_overcomplete_without_regulariser_is_refused():
    with pytest.raises(ValueError, match="overcomplete"):
        keras_ae.build("dense", input_shape=SMALL, latent_dim=200)
    keras_ae.build("dense", input_shape=SMALL, latent_dim=200, sparsity="l1:1e-4")


@pytest.mark.parametrize("name", list(keras_ae.PRESETS))
@pytest.mark.parametrize("shape", [(12, 12, 1), (13, 9, 3)])
def test_parameter_count_matches_the_built_nets(name, shape):
    config = preset_config(name, hidden_units=(16, 8)[:len(preset_config(name).hidden_units)],
                           conv_filters=(4, 8), latent_dim=3)
    model = keras_ae.build(config, input_shape=shape, compile=False)
    assert parameter_count(config, shape) == (model.encoder.count_params()
                                              + model.decoder.count_params())


def test_a_model_larger_than_memory_is_refused_before_any_weight_exists():
    with pytest.raises(ValueError, match=r"the model would have [\d,]+ parameters, about .* GB to "
                                         r"train .* more than this machine's"):
        keras_ae.build("sparse", latent_dim=10**9)
