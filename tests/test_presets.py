"""Every preset through the shared harness (tests/harness.py)."""

import pytest

import keras_ae
from harness import (check_compiled_metrics_and_loss, check_config_round_trip,
                     check_export_parity, check_fit_arrays_and_dataset, check_keras_export,
                     check_mixed_precision, check_sample_weight, check_save_and_load,
                     check_two_replicas, small_config)


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


@pytest.mark.parametrize("name", PRESETS)
def test_config_round_trip(name):
    check_config_round_trip(name)


@pytest.mark.parametrize("name", PRESETS)
def test_fit_on_arrays_and_datasets(name):
    check_fit_arrays_and_dataset(name)


@pytest.mark.parametrize("name", PRESETS)
def test_sample_weight(name):
    check_sample_weight(name)


@pytest.mark.parametrize("name", PRESETS)
def test_compiled_metrics_and_loss(name):
    check_compiled_metrics_and_loss(name)


@pytest.mark.parametrize("name", PRESETS)
def test_save_and_load(name, tmp_path):
    check_save_and_load(name, tmp_path)


@pytest.mark.parametrize("name", PRESETS)
def test_keras_export(name, tmp_path):
    check_keras_export(name, tmp_path)


@pytest.mark.parametrize("name", PRESETS)
def test_export_parity(name, tmp_path):
    check_export_parity(name, tmp_path)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", PRESETS)
def test_mixed_precision(name, policy, tmp_path):
    check_mixed_precision(name, policy, tmp_path)


@pytest.mark.parametrize("name", PRESETS)
def test_two_replicas_step_like_one_device(name):
    check_two_replicas(name)
