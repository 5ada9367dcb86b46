"""The variational autoencoder: a Gaussian posterior, reparameterised sampling and the ELBO."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_ae.models.autoencoder import Autoencoder
from keras_ae.models.losses import EPSILON

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2 * math.pi)


@keras.saving.register_keras_serializable(package="keras_ae")
class Sampling(keras.layers.Layer):
    """Draws z = mean + exp(log_var / 2) * eps with eps ~ N(0, I) (the reparameterisation trick)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, z_mean, z_log_var, seed=None):
        seed = self.seed_generator if seed is None else seed
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=seed)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def gaussian_kl(z_mean, z_log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample, in closed form: shape (batch,)."""
    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def _log_normal(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) / ops.exp(log_var), axis=-1)


@keras.saving.register_keras_serializable(package="keras_ae")
class VariationalAutoencoder(Autoencoder):
    """A VAE whose encoder returns `[z_mean, z_log_var]` and whose decoder returns the mean of
    p(x | z) (pixel probabilities for `bernoulli`, means with a fixed `sigma` for `gaussian`).

    `loss = reconstruction_loss + beta * kl_loss`, both in nats per image, averaged over the batch.
    `train_step` and `test_step` share `compute_losses`, so `fit(validation_data=...)` and
    `evaluate()` report `loss`, `reconstruction_loss` and `kl_loss`.
    """

    def __init__(self, encoder, decoder, beta=1.0, likelihood="bernoulli", sigma=0.1,
                 denoise=None, seed=None, **kwargs):
        kwargs.pop("loss", None)
        kwargs.pop("sparsity", None)
        anomaly_error = "bce" if likelihood == "bernoulli" else "mse"
        super().__init__(encoder, decoder, loss=anomaly_error, denoise=denoise, seed=seed, **kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.beta = float(beta)
        self.likelihood = likelihood
        self.sigma = float(sigma)
        self.sampling = Sampling(seed=None if seed is None else seed + 1)
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    # --- the model -----------------------------------------------------------------------------
    def encode(self, x):
        """The posterior mean of each image (the deterministic latent code)."""
        return self.encoder(x)[0]

    def encode_distribution(self, x):
        """The posterior parameters `(z_mean, z_log_var)` of each image."""
        z_mean, z_log_var = self.encoder(x)
        return z_mean, z_log_var

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling(z_mean, z_log_var) if training else z_mean
        return self.decoder(z, training=training)

    def sample(self, n: int, seed=None):
        """Decode `n` codes drawn from the prior N(0, I)."""
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.decoder(z)

    # --- likelihood ----------------------------------------------------------------------------
    def log_likelihood(self, x, x_hat):
        """log p(x | z) per image, in nats, where x_hat is the decoder's output for z."""
        x = ops.reshape(x, (ops.shape(x)[0], -1))
        x_hat = ops.reshape(x_hat, (ops.shape(x_hat)[0], -1))
        if self.likelihood == "bernoulli":
            p = ops.clip(x_hat, EPSILON, 1 - EPSILON)
            return ops.sum(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=-1)
        per_pixel = 0.5 * ops.square((x - x_hat) / self.sigma) + math.log(self.sigma) + 0.5 * LOG_2PI
        return -ops.sum(per_pixel, axis=-1)

    # --- training ------------------------------------------------------------------------------
    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def compute_losses(self, x, y, training=False):
        """One batch's `loss`, `reconstruction_loss` and `kl_loss` (nats per image)."""
        if training and self.denoise is not None:
            x = self.denoise.apply(x, seed=self.noise_seed.next())
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling(z_mean, z_log_var)
        x_hat = self.decoder(z, training=training)
        reconstruction = -ops.mean(self.log_likelihood(y, x_hat))
        kl = ops.mean(gaussian_kl(z_mean, z_log_var))
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction,
                "kl_loss": kl}

    def _track(self, losses):
        self.kl_tracker.update_state(losses["kl_loss"])
        return super()._track(losses)

    # --- held-out scores -----------------------------------------------------------------------
    def elbo(self, x, samples: int = 1, seed=None):
        """The evidence lower bound per image in nats (higher is better): shape (batch,).

        The expected log-likelihood is estimated with `samples` posterior draws; the KL term is
        exact. `seed` is a Keras seed or SeedGenerator for the draws. Uses beta = 1, the true
        bound, whatever beta the model was trained with.
        """
        if isinstance(seed, int):  # one generator, so that every draw differs
            seed = keras.random.SeedGenerator(seed)
        z_mean, z_log_var = self.encoder(x)
        expected = 0.0
        for _ in range(samples):
            z = self.sampling(z_mean, z_log_var, seed=seed)
            expected = expected + self.log_likelihood(x, self.decoder(z))
        return expected / samples - gaussian_kl(z_mean, z_log_var)

    def nll(self, x, k: int = 100, seed=None):
        """Importance-sampled negative log-likelihood -log p(x) per image in nats, with `k`
        samples from the posterior as the proposal: shape (batch,). Memory grows with batch * k."""
        z_mean, z_log_var = self.encoder(x)
        batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
        z_mean = ops.repeat(ops.expand_dims(z_mean, 0), k, axis=0)
        z_log_var = ops.repeat(ops.expand_dims(z_log_var, 0), k, axis=0)
        z = self.sampling(z_mean, z_log_var, seed=seed)
        x_hat = self.decoder(ops.reshape(z, (-1, dim)))
        x_rep = ops.repeat(ops.expand_dims(x, 0), k, axis=0)
        x_rep = ops.reshape(x_rep, ops.shape(x_hat))
        log_likelihood = ops.reshape(self.log_likelihood(x_rep, x_hat), (k, batch))
        log_prior = _log_normal(z, ops.zeros_like(z), ops.zeros_like(z))
        log_posterior = _log_normal(z, z_mean, z_log_var)
        log_weights = log_likelihood + log_prior - log_posterior
        return -(ops.logsumexp(log_weights, axis=0) - math.log(k))

    # --- serialisation -------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        for key in ("loss", "sparsity"):
            config.pop(key)
        return {**config, "beta": self.beta, "likelihood": self.likelihood, "sigma": self.sigma}
