"""Held-out evaluation: reconstruction errors, the VAE's ELBO and NLL, and the PCA baseline."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_ae.data import Split, as_float_images, reading_errors
from keras_ae.data.sources import IndexedSplit
from keras_ae.models import Autoencoder, VariationalAutoencoder
from keras_ae.models.losses import per_sample_bce, per_sample_mse


def _batches(images: np.ndarray, batch_size: int):
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def _in_batches(images: np.ndarray | Split, batch_size: int):
    """float32 batches of an array, or of a `keras_ae.data.Split` read from disk as it goes."""
    if not isinstance(images, Split):
        yield from _batches(as_float_images(images), batch_size)
        return
    with reading_errors():
        for batch in images.batches(batch_size):
            yield as_float_images(batch.numpy())


def held_out_metrics(model: Autoencoder, images: np.ndarray | Split,
                     batch_size: int = 256) -> dict[str, float]:
    """`reconstruction_metrics` of the model's reconstructions of `images`; a `Split` is read
    batch by batch (the per-batch means weighted by batch size), never whole into memory."""
    if not isinstance(images, Split):
        return reconstruction_metrics(images, reconstruct(model, images, batch_size))
    totals: dict[str, float] = {}
    for x in _in_batches(images, batch_size):
        for key, value in reconstruction_metrics(x, model.predict_on_batch(x)).items():
            totals[key] = totals.get(key, 0.0) + value * len(x)
    return {key: value / len(images) for key, value in totals.items()}


def reconstruction_metrics(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """Per-pixel MSE and BCE between images and reconstructions (both in [0, 1])."""
    x = tf.constant(as_float_images(images))
    x_hat = tf.constant(np.asarray(reconstructions, dtype="float32"))
    return {"mse": float(tf.reduce_mean(per_sample_mse(x, x_hat))),
            "bce": float(tf.reduce_mean(per_sample_bce(x, x_hat)))}


def reconstruct(model: Autoencoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's deterministic reconstructions of `images`."""
    return model.predict(as_float_images(images), batch_size=batch_size, verbose=0)


def vae_metrics(model: VariationalAutoencoder, images: np.ndarray, *, k: int = 100,
                batch_size: int = 50, seed: int = 0) -> dict[str, float]:
    """Mean negative ELBO and importance-sampled NLL (with `k` samples) in nats per image."""
    draws = keras.random.SeedGenerator(seed)
    elbo = tf.function(lambda x: model.elbo(x, seed=draws), reduce_retracing=True)
    nll = tf.function(lambda x: model.nll(x, k=k, seed=draws), reduce_retracing=True)
    neg_elbo, nlls = [], []
    for b in _in_batches(images, batch_size):
        neg_elbo.append(-elbo(b).numpy())
        nlls.append(nll(b).numpy())
    return {"neg_elbo": float(np.concatenate(neg_elbo).mean()),
            "nll": float(np.concatenate(nlls).mean()), "nll_samples": k}


PCA_FIT_BYTES = 128 * 2**20
"""The PCA baseline is fitted on at most this many bytes of float32 training pixels."""


def _pca_sample(train_images: np.ndarray | Split) -> np.ndarray:
    """The training images PCA is fitted on, as float32 rows: all of them when they fit in
    PCA_FIT_BYTES, otherwise a fixed random sample (seed 0) of as many as fit."""
    pixels = int(np.prod((train_images.image_shape if isinstance(train_images, Split)
                          else np.shape(train_images)[1:])))
    count = len(train_images)
    cap = max(1, PCA_FIT_BYTES // (4 * pixels))
    chosen = None if count <= cap else np.sort(np.random.default_rng(0).choice(count, cap, replace=False))
    if not isinstance(train_images, Split):
        sample = train_images if chosen is None else np.asarray(train_images)[chosen]
    elif chosen is None:
        sample = train_images.images()
    elif isinstance(train_images, IndexedSplit):
        sample = IndexedSplit(train_images.source, train_images.indices[chosen], "pca").images()
    else:  # read in order only: the first images
        sample = train_images.images(limit=cap)
    return as_float_images(sample).reshape(len(sample), -1)


def pca_baseline(train_images: np.ndarray | Split, test_images: np.ndarray | Split,
                 n_components: int) -> dict[str, float]:
    """MSE and BCE of PCA with `n_components` fitted on `train_images`, on `test_images`.

    PCA is fitted on all training images when their float32 pixels fit in PCA_FIT_BYTES
    (128 MiB: 42,799 images of 28x28, 2,730 of 64x64 RGB), otherwise on a fixed random sample
    of that many; `fit_images` says how many. Either argument may be a `keras_ae.data.Split`
    (read from disk, the held-out images batch by batch). Reconstructions are clipped to
    [0, 1], the range of the images.
    """
    from sklearn.decomposition import PCA

    train = _pca_sample(train_images)
    fit_images = len(train)
    n_components = min(n_components, *train.shape)
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=0).fit(train)
    del train

    def project(test):
        recon = pca.inverse_transform(pca.transform(test.reshape(len(test), -1)))
        return np.clip(recon, 0.0, 1.0).reshape(test.shape)

    if isinstance(test_images, Split):
        totals: dict[str, float] = {}
        for test in _in_batches(test_images, 1024):
            for key, value in reconstruction_metrics(test, project(test)).items():
                totals[key] = totals.get(key, 0.0) + value * len(test)
        metrics = {key: value / len(test_images) for key, value in totals.items()}
    else:
        test = as_float_images(test_images)
        metrics = reconstruction_metrics(test, project(test))
    return {**metrics, "components": n_components, "fit_images": fit_images}


def evaluate_model(model: Autoencoder, images: np.ndarray, *, train_images: np.ndarray | None = None,
                   nll_samples: int = 100) -> dict:
    """All held-out numbers for `model` on `images`: reconstruction MSE/BCE, the objective's own
    (`model.held_out_metrics`: for VAEs -ELBO and NLL in nats) and the PCA baseline with as many
    components as the latent size when `train_images` are given. Either may be a
    `keras_ae.data.Split`, read from disk batch by batch."""
    results = {"images": int(len(images)), **held_out_metrics(model, images)}
    results.update(model.held_out_metrics(images, nll_samples=nll_samples))
    if train_images is not None:
        results["pca"] = pca_baseline(train_images, images, model.latent_dim)
    return results
