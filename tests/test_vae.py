"""keras_ae.models.vae: the KL term against its closed form and Monte Carlo, the losses fit and
evaluate report, scores and samples."""

import numpy as np
import pytest

from keras_ae.models import gaussian_kl

from harness import SMALL, small, structured_images


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
