"""Held-out evaluation: reconstruction errors (MSE, BCE, PSNR), the VAE's ELBO and NLL, the PCA
baseline and, for labelled data, how well the codes cluster and serve as few-label features."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_ae.analysis import features
from keras_ae.analysis.baselines import fit_pca, pca_reconstructions
from keras_ae.data import Split, as_float_images
from keras_ae.data.batches import in_batches
from keras_ae.data.sources import IndexedSplit
from keras_ae.models import BaseAutoencoder, check_autoencoder
from keras_ae.models.losses import per_sample_bce, per_sample_mse
from keras_ae.models.vae import vae_metrics
from keras_ae.utils.arguments import check_int


def held_out_metrics(model: BaseAutoencoder, images: np.ndarray | Split,
                     batch_size: int = 256) -> dict[str, float]:
    """`reconstruction_metrics` of the model's reconstructions of `images`; a `Split` is read
    batch by batch (the per-batch means weighted by batch size), never whole into memory."""
    if not isinstance(images, Split):
        return reconstruction_metrics(images, reconstruct(model, images, batch_size))
    totals: dict[str, float] = {}
    for x in in_batches(images, batch_size):
        for key, value in reconstruction_metrics(x, model.predict_on_batch(x)).items():
            totals[key] = totals.get(key, 0.0) + value * len(x)
    return {key: value / len(images) for key, value in totals.items()}


MIN_MSE = 1e-10
"""Per-image MSE floor for PSNR, so a perfect reconstruction scores 100 dB rather than infinity."""


def reconstruction_metrics(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """Per-pixel MSE and BCE between images and reconstructions (both in [0, 1]), and the mean
    per-image PSNR in dB (peak value 1)."""
    x = as_float_images(images)
    x_hat = np.asarray(reconstructions, dtype="float32")  # a linear model's may leave [0, 1]
    if x.shape != x_hat.shape:
        raise ValueError(f"images of shape {x.shape} and reconstructions of shape {x_hat.shape} "
                         "differ")
    x, x_hat = tf.constant(x), tf.constant(x_hat)
    mse = per_sample_mse(x, x_hat)
    psnr = -10.0 * tf.math.log(tf.maximum(mse, MIN_MSE)) / tf.math.log(10.0)
    return {"mse": float(tf.reduce_mean(mse)),
            "bce": float(tf.reduce_mean(per_sample_bce(x, x_hat))),
            "psnr": float(tf.reduce_mean(psnr))}


def reconstruct(model: BaseAutoencoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's deterministic reconstructions of `images`."""
    check_autoencoder(model)
    batch_size = check_int(batch_size, "batch_size")
    return model.predict(as_float_images(images), batch_size=batch_size, verbose=0)


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
    n_components = check_int(n_components, "n_components")
    train_shape = (tuple(train_images.image_shape) if isinstance(train_images, Split)
                   else as_float_images(train_images).shape[1:])
    test_shape = (tuple(test_images.image_shape) if isinstance(test_images, Split)
                  else as_float_images(test_images).shape[1:])
    if train_shape != test_shape:
        raise ValueError(f"train images of shape {train_shape} and test images of shape "
                         f"{test_shape} must be images of one shape")
    train = _pca_sample(train_images)
    fit_images = len(train)
    pca = fit_pca(train, n_components)
    n_components = pca.n_components_
    del train

    def project(test):
        return pca_reconstructions(pca, test.reshape(len(test), -1)).reshape(test.shape)

    if isinstance(test_images, Split):
        totals: dict[str, float] = {}
        for test in in_batches(test_images, 1024):
            for key, value in reconstruction_metrics(test, project(test)).items():
                totals[key] = totals.get(key, 0.0) + value * len(test)
        metrics = {key: value / len(test_images) for key, value in totals.items()}
    else:
        test = as_float_images(test_images)
        metrics = reconstruction_metrics(test, project(test))
    return {**metrics, "components": n_components, "fit_images": fit_images}


FEATURE_IMAGES = 20_000
"""Clustering and the probes use at most this many held-out (and training) images, in memory."""


def _in_memory(images: np.ndarray | Split | None, labels: np.ndarray | None):
    """Images and labels as arrays, at most FEATURE_IMAGES of them (a Split's first ones)."""
    if images is None or labels is None:
        return None, None
    if isinstance(images, Split):
        images = images.images(limit=FEATURE_IMAGES)
    images = np.asarray(images)[:FEATURE_IMAGES]
    return images, np.asarray(labels)[:len(images)]


def feature_metrics(model: BaseAutoencoder, images: np.ndarray, labels: np.ndarray, *,
                    train_images: np.ndarray | None = None, train_labels: np.ndarray | None = None,
                    labels_per_class: int = 100, fine_tune_epochs: int = 30, seed: int = 0,
                    manifold: str | None = None, verbose: int = 0) -> dict:
    """The codes as features, for labelled held-out `images`: k-means clustering against raw
    pixels and PCA (`clustering`; with `manifold="umap"` also on a UMAP embedding of the codes
    fitted on `train_images`), and with `train_labels` the few-label probes (`probes`):
    logistic regression on codes and on pixels, the encoder fine-tuned and trained from scratch,
    on `labels_per_class` training images per class. See `keras_ae.analysis.features`; the
    classifiers seed Keras's global random state with `seed`, as `keras_ae.build` does."""
    if len(np.unique(labels)) < 2:
        return {"features_skipped": "the held-out labels have fewer than two classes"}
    clustering = features.compare_clustering(model, images, labels, train_images=train_images,
                                             seed=seed, manifold=manifold, verbose=verbose)
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


def evaluate_model(model: BaseAutoencoder, images: np.ndarray | Split, *,
                   train_images: np.ndarray | Split | None = None, nll_samples: int = 100,
                   labels: np.ndarray | None = None, train_labels: np.ndarray | None = None,
                   labels_per_class: int = 100, fine_tune_epochs: int = 30, seed: int = 0,
                   pca: bool = True, manifold: str | None = None, verbose: int = 0) -> dict:
    """All held-out numbers for `model` on `images`: reconstruction MSE/BCE/PSNR, the
    objective's own (`model.held_out_metrics`: for VAEs -ELBO and NLL in nats), the PCA baseline
    with as many components as the latent size when `train_images` are given (and `pca`), and
    with `labels` the clustering and probe figures of `feature_metrics`. Images may be
    `keras_ae.data.Split`s, read from disk batch by batch (features use at most FEATURE_IMAGES
    of them). `verbose=1` shows progress for the long steps."""
    check_autoencoder(model)
    results = {"images": int(len(images)), **held_out_metrics(model, images)}
    results.update(model.held_out_metrics(images, nll_samples=nll_samples, seed=seed,
                                          verbose=verbose))
    if train_images is not None and pca:
        results["pca"] = pca_baseline(train_images, images, model.latent_dim)
    if labels is not None:
        held_out, held_out_labels = _in_memory(images, labels)
        train, train_labels = _in_memory(train_images, train_labels)
        results.update(feature_metrics(
            model, held_out, held_out_labels, train_images=train, train_labels=train_labels,
            labels_per_class=labels_per_class, fine_tune_epochs=fine_tune_epochs, seed=seed,
            manifold=manifold, verbose=verbose))
    return results
