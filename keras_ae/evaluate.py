"""Held-out evaluation: reconstruction errors, the VAE's ELBO and NLL, and the PCA baseline."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_ae.arguments import check_autoencoder, check_int
from keras_ae.data import as_float_images
from keras_ae.models import Autoencoder, VariationalAutoencoder
from keras_ae.models.losses import per_sample_bce, per_sample_mse


def _batches(images: np.ndarray, batch_size: int):
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def reconstruction_metrics(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """Per-pixel MSE and BCE between images and reconstructions (both in [0, 1])."""
    x = as_float_images(images)
    x_hat = np.asarray(reconstructions, dtype="float32")  # a linear model's may leave [0, 1]
    if x.shape != x_hat.shape:
        raise ValueError(f"images of shape {x.shape} and reconstructions of shape {x_hat.shape} "
                         "differ")
    x, x_hat = tf.constant(x), tf.constant(x_hat)
    return {"mse": float(tf.reduce_mean(per_sample_mse(x, x_hat))),
            "bce": float(tf.reduce_mean(per_sample_bce(x, x_hat)))}


def reconstruct(model: Autoencoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's deterministic reconstructions of `images`."""
    check_autoencoder(model)
    batch_size = check_int(batch_size, "batch_size")
    return model.predict(as_float_images(images), batch_size=batch_size, verbose=0)


def vae_metrics(model: VariationalAutoencoder, images: np.ndarray, *, k: int = 100,
                batch_size: int = 50, seed: int = 0) -> dict[str, float]:
    """Mean negative ELBO and importance-sampled NLL (with `k` samples) in nats per image."""
    if not isinstance(check_autoencoder(model), VariationalAutoencoder):
        raise ValueError(f"-ELBO and NLL need a variational autoencoder, got {type(model).__name__}")
    k, batch_size = check_int(k, "k (importance samples)"), check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0)
    draws = keras.random.SeedGenerator(seed)
    elbo = tf.function(lambda x: model.elbo(x, seed=draws), reduce_retracing=True)
    nll = tf.function(lambda x: model.nll(x, k=k, seed=draws), reduce_retracing=True)
    neg_elbo, nlls = [], []
    for b in _batches(as_float_images(images), batch_size):
        neg_elbo.append(-elbo(b).numpy())
        nlls.append(nll(b).numpy())
    return {"neg_elbo": float(np.concatenate(neg_elbo).mean()),
            "nll": float(np.concatenate(nlls).mean()), "nll_samples": k}


def pca_baseline(train_images: np.ndarray, test_images: np.ndarray,
                 n_components: int) -> dict[str, float]:
    """MSE and BCE of PCA with `n_components` fitted on `train_images`, on `test_images`.

    Reconstructions are clipped to [0, 1], the range of the images.
    """
    from sklearn.decomposition import PCA

    n_components = check_int(n_components, "n_components")
    train, test = as_float_images(train_images), as_float_images(test_images)
    if train.ndim < 2 or train.shape[1:] != test.shape[1:]:
        raise ValueError(f"train images {train.shape[1:]} and test images {test.shape[1:]} "
                         "must be images of one shape")
    train = train.reshape(len(train), -1)
    n_components = min(n_components, *train.shape)
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=0).fit(train)
    recon = pca.inverse_transform(pca.transform(test.reshape(len(test), -1)))
    recon = np.clip(recon, 0.0, 1.0).reshape(test.shape)
    return {**reconstruction_metrics(test, recon), "components": n_components}


def evaluate_model(model: Autoencoder, images: np.ndarray, *, train_images: np.ndarray | None = None,
                   nll_samples: int = 100) -> dict:
    """All held-out numbers for `model` on `images`: reconstruction MSE/BCE, the objective's own
    (`held_out_metrics`: for VAEs -ELBO and NLL in nats) and the PCA baseline with as many
    components as the latent size when `train_images` are given."""
    check_autoencoder(model)
    results = {"images": int(len(images)), **reconstruction_metrics(images, reconstruct(model, images))}
    results.update(model.held_out_metrics(images, nll_samples=nll_samples))
    if train_images is not None:
        results["pca"] = pca_baseline(train_images, images, model.latent_dim)
    return results
