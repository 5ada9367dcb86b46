"""Two-dimensional maps of latent codes: t-SNE, PCA, UMAP or the raw plane of a 2-d code.

    xy, axis_names = project_2d(codes, "tsne", seed=0)   # (N, 2) and ("t-SNE 1", "t-SNE 2")
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["METHODS", "TSNE_EXAGGERATION_ITERATIONS", "TSNE_ITERATIONS", "note_umap", "project_2d",
           "tsne"]

logger = logging.getLogger(__name__)

METHODS = ("tsne", "pca", "umap", "raw")
TSNE_EXAGGERATION_ITERATIONS = 250
TSNE_ITERATIONS = 250  # after the early exaggeration; see benchmarks/tsne.py


def project_2d(codes: np.ndarray, method: str = "tsne", *, seed: int = 0,
               verbose: int = 1) -> tuple[np.ndarray, tuple[str, str]]:
    """Map codes `(N, D)` to `(N, 2)` points; returns the points and the names of their axes.

    `tsne` (openTSNE, or scikit-learn's when openTSNE is missing), `pca`, `umap` (umap-learn) or
    `raw` (the code itself, for a 2-d code). `verbose` shows the progress of t-SNE and UMAP.
    """
    codes = np.asarray(codes, dtype="float32")
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (N, D), got {codes.shape}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    n, dim = codes.shape
    if method == "raw":
        if dim != 2:
            raise ValueError(f"method 'raw' needs a 2-d latent space, this one is {dim}-d; "
                             "use tsne, pca or umap")
        return codes, ("z[0]", "z[1]")
    if n < 5:
        raise ValueError(f"a 2-d map needs at least 5 codes, got {n}")
    if method == "pca":
        from sklearn.decomposition import PCA

        if dim < 2:
            raise ValueError(f"method 'pca' needs codes of at least 2 dimensions, got {dim}")
        pca = PCA(n_components=2, random_state=seed).fit(codes)
        shares = pca.explained_variance_ratio_ * 100
        return pca.transform(codes), (f"PC 1 ({shares[0]:.0f}% of variance)",
                                      f"PC 2 ({shares[1]:.0f}% of variance)")
    if method == "umap":
        return _umap(codes, seed=seed, verbose=verbose), ("UMAP 1", "UMAP 2")
    return tsne(codes, seed=seed, verbose=verbose), ("t-SNE 1", "t-SNE 2")


def tsne(codes: np.ndarray, *, seed: int = 0, verbose: int = 1,
         iterations: int = TSNE_ITERATIONS, n_jobs: int = 1) -> np.ndarray:
    """t-SNE of `codes` with openTSNE (the `tsne` extra), showing a progress bar; scikit-learn's
    t-SNE (its own iteration count and progress messages) when openTSNE is not installed.
    `iterations` follow 250 of early exaggeration; `n_jobs` threads (more than one only pays on
    an idle machine: see benchmarks/tsne.py)."""
    codes = np.asarray(codes, dtype="float32")
    perplexity = float(min(30.0, (len(codes) - 1) / 3))
    try:
        import openTSNE
    except ImportError:
        from sklearn.manifold import TSNE

        return TSNE(perplexity=perplexity, init="pca", random_state=seed, n_jobs=n_jobs,
                    verbose=int(verbose > 0)).fit_transform(codes)  # its own 1000 iterations
    import keras

    every = 10
    total = TSNE_EXAGGERATION_ITERATIONS + iterations
    bar = keras.utils.Progbar(total, verbose=verbose, unit_name="iteration",
                              stateful_metrics=["KL divergence"])
    done = [0]

    def progress(_iteration, error, _embedding):
        done[0] = min(done[0] + every, total)
        bar.update(done[0], values=[("KL divergence", float(error))])
        return False  # keep going

    embedding = openTSNE.TSNE(
        perplexity=perplexity, early_exaggeration_iter=TSNE_EXAGGERATION_ITERATIONS,
        n_iter=iterations, n_jobs=n_jobs, random_state=seed, callbacks=progress,
        callbacks_every_iters=every, verbose=False).fit(codes)
    return np.asarray(embedding)


def note_umap(count: int) -> None:
    """The note that stands for umap-learn's own log (which keras_ae keeps quiet) while a UMAP
    embedding of `count` codes is fitted."""
    logger.warning("fitting a UMAP embedding of %d codes (compiled on its first use in a "
                   "process: up to a minute)", count)


def _umap(codes: np.ndarray, *, seed: int, verbose: int) -> np.ndarray:
    from keras_ae.utils.extras import require

    umap = require("umap", "method 'umap'")
    if verbose:
        note_umap(len(codes))
    reducer = umap.UMAP(n_neighbors=min(15, len(codes) - 1), random_state=seed, n_jobs=1)
    return reducer.fit_transform(codes)
