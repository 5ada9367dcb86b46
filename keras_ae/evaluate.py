"""Held-out evaluation: reconstruction errors (MSE, BCE, PSNR), the VAE's ELBO and NLL, the PCA
baseline and, for labelled data, how well the codes cluster and serve as few-label features."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_ae.data import as_float_images
from keras_ae.models import Autoencoder, VariationalAutoencoder
from keras_ae.models.losses import per_sample_bce, per_sample_mse


def _batches(images: np.ndarray, batch_size: int):
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


MIN_MSE = 1e-10
"""Per-image MSE floor for PSNR, so a perfect reconstruction scores 100 dB rather than infinity."""


def reconstruction_metrics(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """Per-pixel MSE and BCE between images and reconstructions (both in [0, 1]), and the mean
    per-image PSNR in dB (peak value 1)."""
    x = tf.constant(as_float_images(images))
    x_hat = tf.constant(np.asarray(reconstructions, dtype="float32"))
    mse = per_sample_mse(x, x_hat)
    psnr = -10.0 * tf.math.log(tf.maximum(mse, MIN_MSE)) / tf.math.log(10.0)
    return {"mse": float(tf.reduce_mean(mse)),
            "bce": float(tf.reduce_mean(per_sample_bce(x, x_hat))),
            "psnr": float(tf.reduce_mean(psnr))}


def reconstruct(model: Autoencoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's deterministic reconstructions of `images`."""
    return model.predict(as_float_images(images), batch_size=batch_size, verbose=0)


def vae_metrics(model: VariationalAutoencoder, images: np.ndarray, *, k: int = 100,
                batch_size: int = 50, seed: int = 0, verbose: int = 0) -> dict[str, float]:
    """Mean negative ELBO and importance-sampled NLL (with `k` samples) in nats per image;
    `verbose=1` shows a progress bar over the images."""
    draws = keras.random.SeedGenerator(seed)
    elbo = tf.function(lambda x: model.elbo(x, seed=draws), reduce_retracing=True)
    nll = tf.function(lambda x: model.nll(x, k=k, seed=draws), reduce_retracing=True)
    neg_elbo, nlls = [], []
    bar = keras.utils.Progbar(len(images), unit_name="image", verbose=verbose)
    for b in _batches(as_float_images(images), batch_size):
        neg_elbo.append(-elbo(b).numpy())
        nlls.append(nll(b).numpy())
        bar.add(len(b))
    return {"neg_elbo": float(np.concatenate(neg_elbo).mean()),
            "nll": float(np.concatenate(nlls).mean()), "nll_samples": k}


def pca_baseline(train_images: np.ndarray, test_images: np.ndarray,
                 n_components: int) -> dict[str, float]:
    """MSE and BCE of PCA with `n_components` fitted on `train_images`, on `test_images`.

    Reconstructions are clipped to [0, 1], the range of the images.
    """
    from sklearn.decomposition import PCA

    train = as_float_images(train_images).reshape(len(train_images), -1)
    test = as_float_images(test_images)
    n_components = min(n_components, *train.shape)
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=0).fit(train)
    recon = pca.inverse_transform(pca.transform(test.reshape(len(test), -1)))
    recon = np.clip(recon, 0.0, 1.0).reshape(test.shape)
    return {**reconstruction_metrics(test, recon), "components": n_components}


def feature_metrics(model: Autoencoder, images: np.ndarray, labels: np.ndarray, *,
                    train_images: np.ndarray | None = None, train_labels: np.ndarray | None = None,
                    labels_per_class: int = 100, fine_tune_epochs: int = 30, seed: int = 0,
                    verbose: int = 0) -> dict:
    """The codes as features, for labelled held-out `images`: k-means clustering against raw
    pixels and PCA (`clustering`), and with `train_labels` the few-label probes (`probes`):
    logistic regression on codes and on pixels, the encoder fine-tuned and trained from scratch,
    on `labels_per_class` training images per class. See `keras_ae.features`; the classifiers
    seed Keras's global random state with `seed`, as `keras_ae.build` does."""
    from keras_ae import features

    if len(np.unique(labels)) < 2:
        return {"features_skipped": "the held-out labels have fewer than two classes"}
    clustering = features.compare_clustering(model, images, labels, train_images=train_images,
                                             seed=seed, verbose=verbose)
    results: dict = {"clustering": {name: c.as_dict() for name, c in clustering.items()}}
    if train_images is None or train_labels is None:
        results["features_skipped"] = "probes need labelled training images"
    elif len(np.unique(train_labels)) < 2:
        results["features_skipped"] = "the training labels have fewer than two classes"
    else:
        results["probes"] = features.compare_probes(
            model, train_images, train_labels, images, labels, per_class=labels_per_class,
            epochs=fine_tune_epochs, seed=seed, verbose=verbose)
    return results


def evaluate_model(model: Autoencoder, images: np.ndarray, *, train_images: np.ndarray | None = None,
                   nll_samples: int = 100, labels: np.ndarray | None = None,
                   train_labels: np.ndarray | None = None, labels_per_class: int = 100,
                   fine_tune_epochs: int = 30, seed: int = 0, pca: bool = True,
                   verbose: int = 0) -> dict:
    """All held-out numbers for `model` on `images`: reconstruction MSE/BCE/PSNR, for VAEs -ELBO
    and NLL in nats, the PCA baseline with as many components as the latent size when
    `train_images` are given (and `pca`), and with `labels` the clustering and probe figures of
    `feature_metrics`. `verbose=1` shows progress for the long steps."""
    results = {"images": int(len(images)), **reconstruction_metrics(images, reconstruct(model, images))}
    if isinstance(model, VariationalAutoencoder):
        results.update(vae_metrics(model, images, k=nll_samples, seed=seed, verbose=verbose))
    if train_images is not None and pca:
        results["pca"] = pca_baseline(train_images, images, model.latent_dim)
    if labels is not None:
        results.update(feature_metrics(
            model, images, labels, train_images=train_images, train_labels=train_labels,
            labels_per_class=labels_per_class, fine_tune_epochs=fine_tune_epochs, seed=seed,
            verbose=verbose))
    return results
