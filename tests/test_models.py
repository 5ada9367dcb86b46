"""Model details beyond the shared harness: the classic network, odd sizes and numerical checks
of the objectives."""

import numpy as np
import pytest
import scipy.linalg

import keras
import keras_ae
from keras_ae.models import gaussian_kl
from keras_ae.models.saving import save_model

from harness import SMALL, small, structured_images  # noqa: F401 (test_cli uses it)


def test_keras_load_model_after_import_works(tmp_path):
    model = small("conv_vae")
    path = save_model(model, tmp_path / "vae.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, keras_ae.VariationalAutoencoder)


def test_save_refuses_to_overwrite(tmp_path):
    model = small("seed")
    path = save_model(model, tmp_path / "m.keras")
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        save_model(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


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


def test_conv_decoder_restores_odd_image_sizes():
    model = keras_ae.build("conv", input_shape=(30, 26, 3))
    assert model(np.zeros((2, 30, 26, 3), "float32")).shape == (2, 30, 26, 3)


def test_vae_kl_matches_closed_form_and_monte_carlo():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(5, 3)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(5, 3)).astype("float32")
    var = np.exp(log_var)
    closed = np.sum(0.5 * (var + mean**2 - 1 - log_var), axis=-1)
    np.testing.assert_allclose(gaussian_kl(mean, log_var), closed, rtol=1e-5)
    # Monte Carlo E_q[log q(z) - log p(z)] with 200k draws
    z = mean + np.sqrt(var) * rng.normal(size=(200_000, 5, 3))
    log_q = -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / var)
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    np.testing.assert_allclose((log_q - log_p).sum(-1).mean(0), closed, rtol=0.03, atol=0.01)


def test_vae_reports_kl_in_fit_and_evaluate_and_it_matches_the_encoder():
    x = structured_images(64)
    model = small("vae", beta=0.5)
    history = model.fit(x, epochs=1, batch_size=32, verbose=0, validation_data=(x, x))
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_reconstruction_loss",
            "val_kl_loss"} <= set(history.history)
    result = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    mean, log_var = model.encode_distribution(x)
    assert result["kl_loss"] == pytest.approx(float(np.mean(gaussian_kl(mean, log_var))), rel=1e-4)
    assert result["loss"] == pytest.approx(result["reconstruction_loss"] + 0.5 * result["kl_loss"], rel=1e-4)


def test_vae_scores_and_samples():
    x = structured_images(32)
    model = small("vae")
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    elbo = np.asarray(model.elbo(x, seed=3))
    nll = np.asarray(model.nll(x, k=64, seed=3))
    assert elbo.shape == nll.shape == (32,)
    # importance sampling tightens the bound: -log p(x) <= -ELBO on average
    assert nll.mean() <= -elbo.mean() + 1e-3
    # with an integer seed, several draws still differ from each other
    assert not np.array_equal(np.asarray(model.elbo(x, samples=1, seed=3)),
                              np.asarray(model.elbo(x, samples=4, seed=3)))
    samples = np.asarray(model.sample(5, seed=1))
    assert samples.shape == (5, *SMALL) and samples.min() >= 0 and samples.max() <= 1


def test_linear_autoencoder_learns_the_pca_subspace():
    rng = np.random.default_rng(0)
    rank, dim = 4, 64
    basis = np.linalg.qr(rng.normal(size=(dim, rank)))[0]
    x = (rng.normal(size=(2000, rank)) * [3.0, 2.5, 2.0, 1.5]) @ basis.T
    x = (x + 0.05 * rng.normal(size=x.shape)).reshape(-1, 8, 8, 1).astype("float32")
    x = 0.5 + x / 8  # images in [0, 1]: the rank-4 variation around a grey mean
    k = rank + 1  # the uncentred subspace holds the mean direction as well
    model = keras_ae.build("linear", input_shape=(8, 8, 1), latent_dim=k, learning_rate=3e-2)
    model.fit(x, epochs=40, batch_size=100, verbose=0)
    decoder_basis = model.decoder.get_layer("pixels").kernel.numpy().T  # (dim, k)
    # uncentred PCA: the top right-singular vectors of the data matrix
    pca_basis = np.linalg.svd(x.reshape(len(x), -1), full_matrices=False)[2][:k].T
    angles = scipy.linalg.subspace_angles(decoder_basis, pca_basis)
    assert np.degrees(angles).max() < 2.0


def _trained(name, x, **overrides):
    model = small(name, learning_rate=3e-3, **overrides)
    model.fit(x, epochs=20, batch_size=64, verbose=0)
    return model


def test_denoising_reconstructs_corrupted_inputs_better_than_plain():
    x = structured_images(1024, seed=2)
    corruption = keras_ae.Noise("gaussian", 0.5)
    held_out = structured_images(256, seed=3)
    noisy = np.asarray(corruption.apply(held_out, seed=7))
    errors = {}
    for name, denoise in (("plain", None), ("denoising", str(corruption))):
        model = _trained("dense", x, denoise=denoise, seed=0)
        errors[name] = float(np.mean((model.predict(noisy, verbose=0) - held_out) ** 2))
    assert errors["denoising"] < 0.85 * errors["plain"], errors


def test_sparsity_lowers_the_mean_latent_activation():
    x = structured_images(1024, seed=4)
    activation = {}
    for name, sparsity in (("plain", None), ("l1", "l1:1e-2")):
        model = _trained("dense", x, sparsity=sparsity, latent_activation="relu", seed=0)
        activation[name] = float(np.mean(model.encode(x)))
    assert activation["l1"] < 0.5 * activation["plain"], activation


def test_kl_sparsity_pulls_mean_activation_toward_rho():
    x = structured_images(1024, seed=5)
    model = _trained("dense", x, sparsity="kl:0.05:0.5", seed=0)
    assert float(np.mean(model.encode(x))) < 0.2


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


def test_overcomplete_without_regulariser_is_refused():
    with pytest.raises(ValueError, match="overcomplete"):
        keras_ae.build("dense", input_shape=SMALL, latent_dim=200)
    keras_ae.build("dense", input_shape=SMALL, latent_dim=200, sparsity="l1:1e-4")


@pytest.mark.parametrize("name", ["dense", "conv"])
def test_corruption_only_in_training(name):
    x = structured_images(8)
    noisy = small(name, denoise="salt_pepper:0.2")
    clean = small(name)
    clean.set_weights(noisy.get_weights())
    np.testing.assert_array_equal(noisy(x), noisy(x))
    np.testing.assert_array_equal(noisy(x), clean(x))  # inference never corrupts

    def loss(model, training):
        return float(model.compute_loss(x, x, model.forward(x, training=training), training=training))

    evaluate = loss(noisy, training=False)
    assert evaluate == loss(clean, training=True)
    assert loss(noisy, training=True) != evaluate


def test_every_setting_survives_saving_exactly(tmp_path):
    model = small("sparse", sparsity="l1:1.23456789e-4", denoise="gaussian:0.123456789")
    vae = small("vae", beta=0.3333333333, likelihood="gaussian", sigma=0.07, denoise="masking:0.2")
    for m in (model, vae):
        loaded = keras_ae.load_model(save_model(m, tmp_path / f"{m.name}.keras"))
        config = {k: v for k, v in loaded.get_config().items() if k not in ("encoder", "decoder")}
        assert config == {k: v for k, v in m.get_config().items() if k not in ("encoder", "decoder")}
    assert loaded.beta == 0.3333333333 and loaded.sigma == 0.07
    assert keras_ae.load_model(tmp_path / "sparse.keras").sparsity.weight == 1.23456789e-4
