"""keras_ae.models.config: a bad model option is a ValueError naming the problem; config.json
keeps an objective's options apart."""

import pytest

import keras_ae


@pytest.mark.parametrize("spec, message", [
    ("gauss:0.1", "unknown noise kind 'gauss'"), ("gaussian", "needs an amount"),
    ("masking:1.5", "must be in"),
])
def test_bad_denoise_specs_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        keras_ae.build("seed", denoise=spec)


@pytest.mark.parametrize("preset, overrides, message", [
    ("seed", {"sparsity": "l2:1"}, "bad sparsity spec"),
    ("seed", {"sparsity": "kl:1.5"}, "rho must be in"),
    ("seed", {"architecture": "mlp"}, "unknown architecture"),
    ("seed", {"latent_dim": 0}, "latent_dim must be >= 1"),
    ("seed", {"architecture": "linear", "sparsity": "kl:0.05"}, "linear architecture"),
    ("seed", {"architecture": "linear", "loss": "bce"}, "linear architecture"),
    ("vae", {"beta": float("inf")}, "beta must be a finite number"),
    ("vae", {"sigma": 0}, "sigma must be a finite number > 0"),
    ("vae", {"likelihood": "poisson"}, "unknown likelihood 'poisson'"),
    ("vae", {"architecture": "linear"}, "the vae objective takes the dense or conv architecture"),
    ("seed", {"beta": 4.0}, "option 'beta' does not apply to the autoencoder objective"),
    ("seed", {"likelihood": "gaussian"}, "option 'likelihood' does not apply to the autoencoder"),
    ("vae", {"loss": "bce"}, "option 'loss' does not apply to the vae objective"),
    ("vae", {"sparsity": "l1:1e-4"}, "option 'sparsity' does not apply to the vae objective"),
    ("seed", {"objective": "pca"}, "unknown objective 'pca'"),
    ("seed", {"early_stopping": 0}, "early_stopping"),
])
def test_bad_model_options_name_the_problem(preset, overrides, message):
    with pytest.raises(ValueError, match=message):
        keras_ae.build(preset, **overrides)


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
