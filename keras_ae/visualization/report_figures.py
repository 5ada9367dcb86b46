"""The figures of the evaluation report: reconstructions of held-out images and the codes in 2-D.

Each function takes a model and images and returns a `matplotlib.figure.Figure` (no pyplot, so no
display is needed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_ae.analysis.features import encode
from keras_ae.analysis.projection import project_2d
from keras_ae.data import as_float_images, validate_images
from keras_ae.utils.extras import require
from keras_ae.models import BaseAutoencoder

__all__ = ["latent_scatter", "reconstructions"]


def reconstructions(model: BaseAutoencoder, images: Any, n: int = 10):
    """The first `n` images (top row) over their reconstructions (bottom row), each
    reconstruction titled with its per-pixel MSE."""
    require("matplotlib", "drawing a figure")
    from matplotlib.figure import Figure

    x = as_float_images(validate_images(images))[:n]
    x_hat = np.asarray(model.predict(x, verbose=0))
    errors = np.mean(np.square(x - x_hat), axis=(1, 2, 3))
    grey = x.shape[-1] == 1
    fig = Figure(figsize=(1.2 * len(x), 3.0), layout="constrained")
    axes = fig.subplots(2, len(x), squeeze=False)
    for i in range(len(x)):
        for row, image in ((0, x[i]), (1, x_hat[i])):
            ax = axes[row, i]
            ax.imshow(image[..., 0] if grey else np.clip(image, 0, 1), cmap="gray" if grey else None,
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[1, i].set_xlabel(f"MSE {errors[i]:.4f}", fontsize=7)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstruction")
    fig.suptitle("Held-out images and their reconstructions")
    return fig


def latent_scatter(model: BaseAutoencoder, images: Any, labels: Any = None, *, max_points: int = 5000,
                   seed: int = 0):
    """The codes of `images` in 2-D (the raw plane for a 2-d code, else its first two principal
    components), coloured by label when labels are given; at most `max_points` points."""
    matplotlib = require("matplotlib", "drawing a figure")
    from matplotlib.figure import Figure

    images = validate_images(images)
    keep = np.arange(len(images))
    if len(keep) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), max_points, replace=False))
    codes = encode(model, images[keep])
    method = "raw" if codes.shape[1] == 2 else "pca"
    plane, axis_names = project_2d(codes, method, seed=seed, verbose=0)
    how = "latent plane" if method == "raw" else "PCA of the codes"
    fig = Figure(figsize=(6.0, 5.0), layout="constrained")
    ax = fig.subplots()
    if labels is None:
        ax.scatter(plane[:, 0], plane[:, 1], s=4, alpha=0.6)
    else:
        labels = np.asarray(labels)[keep]
        classes = np.unique(labels)
        if len(classes) > 20:  # too many for a legend
            points = ax.scatter(plane[:, 0], plane[:, 1], c=labels, s=4, cmap="viridis")
            fig.colorbar(points, ax=ax, label="label")
        else:
            cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
            for i, c in enumerate(classes):
                at = labels == c
                ax.scatter(plane[at, 0], plane[at, 1], s=4, alpha=0.7, color=cmap(i), label=str(c))
            ax.legend(title="label", markerscale=3, fontsize=8, loc="best")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(f"Held-out codes ({codes.shape[1]}-d), {how}: {len(keep)} images")
    return fig
