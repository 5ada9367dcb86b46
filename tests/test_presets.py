"""Every preset through the shared harness (tests/harness.py), and what a preset adds to its
model class: its RunConfig, its objective's registry entry, its precision setting."""

import pytest

import keras_ae
from harness import (check_compiled_metrics_and_loss, check_config_round_trip,
                     check_export_parity, check_fit_arrays_and_dataset, check_keras_export,
                     check_mixed_precision, check_sample_weight, check_save_and_load,
                     check_two_replicas, preset_case, small, small_config, structured_images)
from keras_ae.models.objectives import objective_of
from keras_ae.models.precision import precision_policy


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
