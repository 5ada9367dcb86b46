"""The variational autoencoder: a Gaussian posterior, reparameterised sampling and the ELBO."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ae.data import Split
from keras_ae.data.batches import in_batches
from keras_ae.data.noise import parse_noise
from keras_ae.models.autoencoder import DENOISE
from keras_ae.models.base import BaseAutoencoder, check_autoencoder
from keras_ae.models.losses import EPSILON, weighted_mean
from keras_ae.models.objective import Objective, Option, choice, number
from keras_ae.models.pixels import float32
from keras_ae.models.randomness import replica_seed
from keras_ae.utils.arguments import check_int

if TYPE_CHECKING:
    import tensorflow as tf
    from numpy.typing import ArrayLike

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
        """`seed`: a Keras seed or SeedGenerator; by default the layer's own, distinct on each
        replica of a distribution strategy."""
        if seed is None:
            import tensorflow as tf

            eps = tf.random.stateless_normal(ops.shape(z_mean), seed=replica_seed(self.seed_generator),
                                             dtype=z_mean.dtype)
        else:
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
class VariationalAutoencoder(BaseAutoencoder):
    """A VAE whose encoder returns `[z_mean, z_log_var]` and whose decoder returns the mean of
    p(x | z) (pixel probabilities for `bernoulli`, means with a fixed `sigma` for `gaussian`).

    `loss = reconstruction_loss + beta * kl_loss`, both in nats per image, averaged over the
    batch (weighted by `sample_weight`). Its own `train_step` and `test_step` (shared with every
    objective) report `loss`, `reconstruction_loss`, `kl_loss` and any compiled metrics; the
    loss is the negative ELBO, so `compile(loss=...)` is refused.
    """

    SIGNATURES = BaseAutoencoder.SIGNATURES + ("sample",)

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0,
                 likelihood: str = "bernoulli", sigma: float = 0.1, denoise: str | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.beta = float(beta)
        self.likelihood = likelihood
        self.sigma = float(sigma)
        self.denoise = None if denoise is None else parse_noise(denoise)
        super().__init__(encoder, decoder, seed=seed, **kwargs)

    @property
    def loss_name(self) -> str:
        """The per-pixel error of `anomaly_score`: `bce` for the bernoulli likelihood, else `mse`."""
        return "bce" if self.likelihood == "bernoulli" else "mse"

    def _create_state(self) -> None:
        # sampling and the likelihood run in float32 whatever the mixed-precision policy
        self.sampling = Sampling(seed=None if self.seed is None else self.seed + 1, dtype="float32")

    # --- the model -----------------------------------------------------------------------------
    def encode(self, x: ArrayLike) -> tf.Tensor:
        """The posterior mean of each image (the deterministic latent code), float32."""
        return float32(self.encoder(self.as_images(x))[0])

    def encode_distribution(self, x: ArrayLike) -> tuple[tf.Tensor, tf.Tensor]:
        """The posterior parameters `(z_mean, z_log_var)` of each image, in float32."""
        z_mean, z_log_var = self.encoder(self.as_images(x))
        return float32(z_mean), float32(z_log_var)

    def sample(self, n: int, seed: int | None = None) -> tf.Tensor:
        """Decode `n` codes drawn from the prior N(0, I)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the number of samples must be a positive integer, got {n!r}")
        return self.decode(keras.random.normal((n, self.latent_dim), seed=seed))

    # --- the objective -------------------------------------------------------------------------
    def forward(self, x, training=False) -> dict[str, Any]:
        """The posterior, a reparameterised draw z, p(x | z)'s mean for that draw (the ELBO's
        reconstruction term) and the reconstruction the metrics see: the draw's in training,
        the posterior mean's otherwise (what `call` returns)."""
        if training:
            x = self.corrupt(x)
        z_mean, z_log_var = self.encoder(x, training=training)
        z_mean, z_log_var = float32(z_mean), float32(z_log_var)
        z = self.sampling(z_mean, z_log_var)
        likelihood_mean = float32(self.decoder(z, training=training))
        reconstruction = (likelihood_mean if training
                          else float32(self.decoder(z_mean, training=training)))
        return {"z_mean": z_mean, "z_log_var": z_log_var, "likelihood_mean": likelihood_mean,
                "reconstruction": reconstruction}

    def call(self, x, training=False):
        x = self.as_images(x)
        if training:
            return self.forward(x, training=True)["reconstruction"]
        return float32(self.decoder(self.encoder(x)[0]))

    @classmethod
    def loss_term_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        return ("reconstruction_loss", "kl_loss")

    def _objective_options(self) -> dict[str, Any]:
        return {"beta": self.beta, "likelihood": self.likelihood, "sigma": self.sigma,
                "denoise": self.denoise}

    def loss_terms(self, x, y, outputs: Mapping[str, Any], sample_weight=None) -> dict[str, Any]:
        reconstruction = -self.log_likelihood(y, outputs["likelihood_mean"])
        kl = gaussian_kl(outputs["z_mean"], outputs["z_log_var"])
        return {"reconstruction_loss": weighted_mean(reconstruction, sample_weight),
                "kl_loss": weighted_mean(kl, sample_weight)}

    def total_loss(self, terms: Mapping[str, Any]):
        return terms["reconstruction_loss"] + self.beta * terms["kl_loss"]

    def _reconstruction_loss(self, loss):
        raise ValueError(
            f"{self.name!r} is a variational autoencoder: its loss is the negative ELBO "
            "(reconstruction_loss + beta * kl_loss); choose its likelihood and beta when building "
            "it, and pass metrics=[...] to compile for other measures, not loss=")

    # --- likelihood ----------------------------------------------------------------------------
    def log_likelihood(self, x, x_hat):
        """log p(x | z) per image, in nats, where x_hat is the decoder's output for z."""
        x = float32(ops.reshape(x, (ops.shape(x)[0], -1)))
        x_hat = float32(ops.reshape(x_hat, (ops.shape(x_hat)[0], -1)))
        if self.likelihood == "bernoulli":
            p = ops.clip(x_hat, EPSILON, 1 - EPSILON)
            return ops.sum(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=-1)
        per_pixel = 0.5 * ops.square((x - x_hat) / self.sigma) + math.log(self.sigma) + 0.5 * LOG_2PI
        return -ops.sum(per_pixel, axis=-1)

    # --- held-out scores -----------------------------------------------------------------------
    def elbo(self, x: ArrayLike, samples: int = 1, seed: int | None = None,
             noise: ArrayLike | None = None) -> tf.Tensor:
        """The evidence lower bound per image in nats (higher is better): shape (batch,).

        The expected log-likelihood is estimated with `samples` posterior draws; the KL term is
        exact. `seed` is a Keras seed or SeedGenerator for the draws. Uses beta = 1, the true
        bound, whatever beta the model was trained with. With `noise`, fixed N(0, I) draws of
        shape (draws, latent_dim), every image's posterior is sampled at those same draws
        (z = mean + std * noise) instead: deterministic, independent of the batch and free of
        random ops (the `elbo` anomaly score, which exports compute too).
        """
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        if isinstance(seed, int):  # one generator, so that every draw differs
            seed = keras.random.SeedGenerator(seed)
        x = self.as_images(x)
        z_mean, z_log_var = self.encode_distribution(x)
        if noise is not None:
            noise = ops.convert_to_tensor(noise, "float32")
            draws, latent = noise.shape
            eps = ops.expand_dims(noise, 1)                                       # (draws, 1, latent)
            z = ops.expand_dims(z_mean, 0) + ops.expand_dims(ops.exp(0.5 * z_log_var), 0) * eps
            x_hat = self.decode(ops.reshape(z, (-1, latent)))                 # (draws * batch, ...)
            x_rep = ops.reshape(ops.repeat(ops.expand_dims(x, 0), draws, axis=0), ops.shape(x_hat))
            expected = ops.mean(ops.reshape(self.log_likelihood(x_rep, x_hat), (draws, -1)), axis=0)
        else:
            expected = 0.0
            for _ in range(samples):
                z = self.sampling(z_mean, z_log_var, seed=seed)
                expected = expected + self.log_likelihood(x, self.decoder(z))
            expected = expected / samples
        return expected - gaussian_kl(z_mean, z_log_var)

    def nll(self, x: ArrayLike, k: int = 100, seed: int | None = None) -> tf.Tensor:
        """Importance-sampled negative log-likelihood -log p(x) per image in nats, with `k`
        samples from the posterior as the proposal: shape (batch,). Memory grows with batch * k."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k (importance samples) must be a positive integer, got {k!r}")
        x = self.as_images(x)
        z_mean, z_log_var = self.encode_distribution(x)
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

    def held_out_metrics(self, images, *, nll_samples: int = 100, seed: int = 0, verbose: int = 0,
                         **options) -> dict[str, Any]:
        """Mean negative ELBO and importance-sampled NLL (`nll_samples` draws) in nats per image."""
        return vae_metrics(self, images, k=nll_samples, seed=seed, verbose=verbose)

    # --- export --------------------------------------------------------------------------------
    def signature_inputs(self):
        return {**super().signature_inputs(),
                "sample": {"noise": ((None, self.latent_dim), "float32")}}

    def serve(self, signature: str, **inputs) -> dict[str, Any]:
        if signature == "encode":
            z_mean, z_log_var = self.encode_distribution(inputs["image"])
            return {"z_mean": z_mean, "z_log_var": z_log_var}
        if signature == "sample":
            return {"image": self.decode(inputs["noise"])}
        return super().serve(signature, **inputs)

    # --- serialisation -------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "likelihood": self.likelihood,
                "sigma": self.sigma, "denoise": None if self.denoise is None else str(self.denoise)}


OBJECTIVE = Objective(
    name="vae",
    model_class=VariationalAutoencoder,
    description="variational: maximise the ELBO with a Gaussian posterior and an N(0, I) prior",
    encoder_heads=2,
    architectures=("dense", "conv"),
    options=(
        Option("beta", 1.0, number("beta"), cli_type=float, help="weight of the KL term (beta-VAE)"),
        Option("likelihood", "bernoulli", choice("likelihood", LIKELIHOODS), choices=LIKELIHOODS,
               help="decoder likelihood p(x | z)"),
        Option("sigma", 0.1, number("sigma", inclusive=False), cli_type=float,
               help="standard deviation of the gaussian likelihood"),
        DENOISE,
    ),
    regularises=lambda options: True,
)


def vae_metrics(model: VariationalAutoencoder, images: np.ndarray | Split, *, k: int = 100,
                batch_size: int = 50, seed: int = 0, verbose: int = 0) -> dict[str, float]:
    """Mean negative ELBO and importance-sampled NLL (with `k` samples) in nats per image;
    `verbose=1` shows a progress bar over the images."""
    if not isinstance(check_autoencoder(model), VariationalAutoencoder):
        raise ValueError(f"-ELBO and NLL need a variational autoencoder, got {type(model).__name__}")
    k, batch_size = check_int(k, "k (importance samples)"), check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0)
    draws = keras.random.SeedGenerator(seed)
    elbo = tf.function(lambda x: model.elbo(x, seed=draws), reduce_retracing=True)
    nll = tf.function(lambda x: model.nll(x, k=k, seed=draws), reduce_retracing=True)
    neg_elbo, nlls = [], []
    bar = keras.utils.Progbar(len(images), unit_name="image", verbose=verbose)
    for b in in_batches(images, batch_size):
        neg_elbo.append(-elbo(b).numpy())
        nlls.append(nll(b).numpy())
        bar.add(len(b))
    return {"neg_elbo": float(np.concatenate(neg_elbo).mean()),
            "nll": float(np.concatenate(nlls).mean()), "nll_samples": k}
