"""Pictures of what a model learned, as matplotlib Figures (Agg, no display needed).

Each figure function takes a loaded model and arrays and returns a `matplotlib.figure.Figure`;
`save_figure` writes it as a PNG atomically:

    fig = plots.reconstructions(model, images[:10])
    plots.save_figure(fig, "reconstructions.png")

Figures: `reconstructions`, `latent`, `manifold` (2-d VAEs), `interpolate`, `samples` (VAEs),
`curves` (a run's history.csv) and `errors`. `image_grid` tiles images into one array.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_ae.data.validate import as_float_images, validate_images
from keras_ae.utils.arguments import check_int
from keras_ae.utils.extras import require
from keras_ae.utils.io import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from keras_ae.models import BaseAutoencoder

__all__ = [
    "MOST", "WHAT", "curves", "draw_samples", "errors", "image_grid", "interpolate", "latent",
    "latent_codes", "manifold", "reconstructions", "sample_batches", "samples", "save_figure",
    "save_image_grid", "worst_scored",
]

def check_autoencoder(model: Any) -> "BaseAutoencoder":
    """`keras_ae.models.check_autoencoder`, imported when first needed (it imports TensorFlow)."""
    from keras_ae.models import check_autoencoder as check

    return check(model)


WHAT = ("reconstructions", "latent", "manifold", "interpolate", "samples", "curves", "errors")
DPI = 100
BATCH_SIZE = 256
MOST = {"reconstructions": 32, "manifold": 50, "interpolate": 16, "samples": 256, "errors": 32}
"""The most panels one picture shows: images (reconstructions, errors), cells per side of the
grid (manifold), pairs (interpolate) and samples; beyond them the panels are too small to see
and drawing them takes minutes."""


def _check_most(count: int, what: str, unit: str) -> None:
    if count > MOST[what]:
        raise ValueError(f"{what} shows at most {MOST[what]} {unit}, got {count:,}")


# --- arrays ------------------------------------------------------------------------------------
def image_grid(images: Any, *, cols: int | None = None, pad: int = 1,
               pad_value: float = 1.0) -> np.ndarray:
    """Tile images `(N, H, W, C)` into one float image `(rows*(H+pad)-pad, cols*(W+pad)-pad, C)`,
    row by row (`cols` defaults to a square grid); empty cells and padding get `pad_value`."""
    images = as_float_images(validate_images(images))
    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n)) if cols is None else check_int(cols, "cols")
    pad = check_int(pad, "pad", minimum=0)
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, c), pad_value, "float32")
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = image
    return grid


def save_image_grid(images: Any, path: str | os.PathLike, *, cols: int | None = None,
                    pad: int = 1, overwrite: bool = False, compress_level: int = 6) -> Path:
    """Write `image_grid(images)` as a PNG of its exact pixels (grey or RGB), atomically
    (`compress_level` 0-9: PIL's zlib level, lower is faster and larger)."""
    from PIL import Image

    grid = image_grid(images, cols=cols, pad=pad, pad_value=0.0 if pad == 0 else 1.0)
    pixels = np.round(grid * 255).astype("uint8")
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG", compress_level=compress_level)
    return path


def _check_images(model: BaseAutoencoder, images: Any) -> np.ndarray:
    """User images as float32 `(N, H, W, C)` in [0, 1], of the shape the model takes."""
    check_autoencoder(model)
    images = as_float_images(validate_images(images))
    expected = tuple(int(d) for d in model.encoder.inputs[0].shape[1:])
    if images.shape[1:] != expected:
        raise ValueError(f"images have shape {images.shape[1:]} but the model expects {expected}")
    return images


def _batched(fn, x: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    return np.concatenate([np.asarray(fn(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def latent_codes(model: BaseAutoencoder, images: Any, *, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The latent codes of `images` as flat float vectors `(N, n)`, batch by batch
    (`model.features`: the code itself, a VAE's posterior means, a VQ-VAE's quantised map)."""
    from keras_ae.analysis.features import encode

    return encode(model, _check_images(model, images), batch_size=batch_size)


def worst_scored(model: BaseAutoencoder, images: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the `n` images with the highest reconstruction error
    (`model.reconstruction_score`), worst first."""
    n = check_int(n, "n")
    scores = _batched(model.reconstruction_score, _check_images(model, images))
    order = np.argsort(-scores, kind="stable")[:n]
    return order, scores[order]


def sample_batches(model: BaseAutoencoder, n: int, *, seed: int = 0,
                   batch_size: int = BATCH_SIZE) -> Iterator[np.ndarray]:
    """`n` images decoded from the VAE's prior, `(b, H, W, C)` float32 batches of at most
    `batch_size`; the same seed gives the same images (the first `b` of them whatever `n`)."""
    import keras

    from keras_ae.models import VariationalAutoencoder

    check_autoencoder(model)
    if not isinstance(model, VariationalAutoencoder):
        raise ValueError(f"samples need a variational autoencoder; {model.name!r} "
                         f"({type(model).__name__}) has no prior to draw from")
    n = check_int(n, "the number of samples")
    batch_size = check_int(batch_size, "batch_size")
    draws = keras.random.SeedGenerator(check_int(seed, "seed", minimum=0))
    return (np.asarray(model.sample(min(batch_size, n - start), seed=draws), dtype="float32")
            for start in range(0, n, batch_size))  # checked now, drawn as it is read


def draw_samples(model: BaseAutoencoder, n: int, *, seed: int = 0) -> np.ndarray:
    """`n` images decoded from the VAE's prior, `(n, H, W, C)` float32; the same seed gives the
    same images."""
    return np.concatenate(list(sample_batches(model, n, seed=seed)))


# --- drawing helpers ---------------------------------------------------------------------------
def _figure(width: float, height: float) -> Figure:
    require("matplotlib", "drawing a figure")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _show(ax, image: np.ndarray, title: str | None = None, **kwargs) -> Any:
    """Draw one image (grey for one channel) on `ax`, without ticks."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    shown = ax.imshow(image, cmap=kwargs.pop("cmap", "gray"), vmin=kwargs.pop("vmin", 0.0),
                      vmax=kwargs.pop("vmax", 1.0),
                      interpolation=kwargs.pop("interpolation", "nearest"), **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)
    return shown


def _image_rows(fig: Figure, rows: Sequence[tuple[str, Any]],
                titles: Sequence[Sequence[str | None]] | None = None,
                styles: Sequence[dict] | None = None):
    """One row of image panels per `(row label, images)`, drawn with `styles[row]` (keyword
    arguments of imshow); returns the axes (rows × columns) and the last image drawn per row."""
    cols = max(len(images) for _, images in rows)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    shown = []
    for r, (label, images) in enumerate(rows):
        for k in range(cols):
            if k < len(images):
                title = None if titles is None else titles[r][k]
                last = _show(axes[r, k], images[k], title, **(styles[r] if styles else {}))
            else:
                axes[r, k].set_axis_off()
        axes[r, 0].set_ylabel(label, fontsize=9)
        shown.append(last)
    return axes, shown


def _error_name(model: BaseAutoencoder) -> str:
    return getattr(model, "loss_name", "error").upper()


def save_figure(fig: Figure, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write `fig` to `path` as a PNG of exactly its size × dpi pixels, rendered by Agg,
    atomically; a figure with no colour is stored as a grey PNG (lossless, about half the
    bytes). Refuses an existing file unless `overwrite`."""
    require("matplotlib", "drawing a figure")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"pictures are written as .png files, got {path}")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3]  # the figure's background is opaque
    grey = (pixels[..., :1] == pixels).all()
    image = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if grey else pixels))
    with atomic_path(path, overwrite=overwrite) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path


# --- figures -----------------------------------------------------------------------------------
def reconstructions(model: BaseAutoencoder, images: Any, *, seed: int = 0) -> Figure:
    """Originals over reconstructions, with each image's reconstruction error in its title.

    For a denoising model the middle row shows the corrupted inputs (noise seeded by `seed`) and
    the reconstructions are of those, as the model was trained to do.
    """
    from keras_ae.models.losses import reconstruction_error

    seed = check_int(seed, "seed", minimum=0)
    x = _check_images(model, images)
    _check_most(len(x), "reconstructions", "images")
    inputs, rows = x, [("original", x)]
    if model.denoise is not None:
        inputs = np.asarray(model.denoise.apply(x, seed=seed))
        rows.append((f"corrupted\n({model.denoise})", inputs))
    x_hat = np.asarray(model(inputs, training=False))
    errors = np.asarray(reconstruction_error(model.loss_name)(x, x_hat))
    rows.append(("reconstruction", x_hat))
    name = _error_name(model)
    titles = [[None] * len(x) for _ in rows]
    titles[-1] = [f"{name} {e:.4f}" for e in errors]
    fig = _figure(max(6.0, 1.0 * len(x) + 1.0), 1.25 * len(rows) + 0.7)
    _image_rows(fig, rows, titles)
    kind = "denoised" if model.denoise is not None else "reconstructed"
    fig.suptitle(f"{len(x)} images {kind} by {model.name!r} "
                 f"(per-image {name}, mean {errors.mean():.4f})")
    return fig


def latent(model: BaseAutoencoder, images: Any, labels: Any = None, *, method: str | None = None,
           seed: int = 0, verbose: int = 1) -> Figure:
    """The latent codes of `images` as points in 2-d, coloured by `labels` (a legend) or, without
    labels, by each image's anomaly score (a colour bar).

    `method`: `tsne`, `pca`, `umap` or `raw` (the plane itself, for a 2-d code); by default `raw`
    for a 2-d code and `tsne` otherwise.
    """
    require("matplotlib", "drawing a figure")  # before the codes are projected
    from keras_ae.analysis.projection import project_2d
    from keras_ae.data.validate import validate_labels

    x = _check_images(model, images)
    codes = latent_codes(model, x)
    method = method or ("raw" if codes.shape[1] == 2 else "tsne")
    xy, axis_names = project_2d(codes, method, seed=seed, verbose=verbose)
    fig = _figure(8.0, 6.5)
    ax = fig.subplots()
    size = float(np.clip(20000 / len(x), 2, 25))
    if labels is not None:
        labels = validate_labels(labels, len(x))
        classes = np.unique(labels)
        if len(classes) <= 20:
            colours = _class_colours(len(classes))
            for colour, label in zip(colours, classes):
                keep = labels == label
                ax.scatter(xy[keep, 0], xy[keep, 1], s=size, color=colour, alpha=0.7,
                           linewidths=0, label=str(label))
            ax.legend(title="label", loc="center left", bbox_to_anchor=(1.0, 0.5),
                      markerscale=max(1.0, 6 / math.sqrt(size)), frameon=False)
        else:
            points = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=labels, cmap="viridis", alpha=0.7,
                                linewidths=0)
            fig.colorbar(points, ax=ax, label="label")
    else:
        scores = _batched(model.reconstruction_score, x)
        points = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=scores, cmap="viridis", alpha=0.8,
                            linewidths=0)
        fig.colorbar(points, ax=ax, label=f"reconstruction error (per-pixel {_error_name(model)})")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    how = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP", "raw": "the latent plane"}[method]
    coloured = "label" if labels is not None else "reconstruction error"
    fig.suptitle(f"{len(x):,} latent codes ({codes.shape[1]}-d) of {model.name!r}: {how}, "
                 f"coloured by {coloured}")
    return fig


def _class_colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(n)]


def manifold(model: BaseAutoencoder, *, n: int = 20, quantiles: tuple[float, float] = (0.05, 0.95)
             ) -> Figure:
    """The images a 2-d VAE decodes over an n × n grid of its latent plane, spaced by Gaussian
    quantiles (so that each cell covers the same prior mass), decoded in one batch."""
    from scipy.stats import norm

    from keras_ae.models import VariationalAutoencoder

    check_autoencoder(model)
    if not isinstance(model, VariationalAutoencoder):
        raise ValueError(f"manifold needs a variational autoencoder with a 2-d latent space; "
                         f"{model.name!r} ({type(model).__name__}) has no prior to draw from")
    if model.latent_dim != 2:
        raise ValueError(f"manifold needs a 2-d latent space; {model.name!r} has "
                         f"{model.latent_dim}-d codes (plot latent or samples instead)")
    n = check_int(n, "the grid's n", minimum=2)
    _check_most(n, "manifold", "cells per side")
    try:
        low, high = (float(q) for q in quantiles)
        valid = 0 < low < high < 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"quantiles must be two numbers with 0 < low < high < 1, got {quantiles!r}")
    values = norm.ppf(np.linspace(low, high, n)).astype("float32")
    z0, z1 = np.meshgrid(values, values[::-1])  # z[1] grows upwards
    z = np.stack([z0.ravel(), z1.ravel()], axis=1)
    decoded = np.asarray(model.decode(z))  # one batch
    h, w = decoded.shape[1:3]
    grid = image_grid(decoded, cols=n, pad=0)
    fig = _figure(7.0, 6.4 * grid.shape[0] / grid.shape[1] + 0.8)
    ax = fig.subplots()
    _show(ax, grid, interpolation="antialiased")  # a large grid is resampled, not blocky
    ticks = np.unique(np.linspace(0, n - 1, min(n, 7)).round().astype(int))
    shown = np.round(values, 2) + 0.0  # no "-0.00"
    ax.set_xticks((ticks + 0.5) * w - 0.5, [f"{shown[t]:.2f}" for t in ticks])
    ax.set_yticks((ticks + 0.5) * h - 0.5, [f"{shown[::-1][t]:.2f}" for t in ticks])
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    fig.suptitle(f"Decoded latent plane of {model.name!r}: {n}×{n} grid at Gaussian quantiles "
                 f"{low:.0%}–{high:.0%}")
    return fig


def interpolate(model: BaseAutoencoder, starts: Any, ends: Any, *, steps: int = 8) -> Figure:
    """For each pair (start, end), the decoded points of the straight line between their latent
    codes, with the two inputs at either end of the row."""
    steps = check_int(steps, "interpolation steps", minimum=2)
    check_autoencoder(model)
    ((_, (_, code_dtype)),) = model.signature_inputs()["decode"].items()
    if code_dtype != "float32":
        raise ValueError(f"interpolation needs a continuous latent code; {model.name!r} "
                         f"({type(model).__name__}) decodes discrete codes ({code_dtype})")
    starts, ends = _check_images(model, starts), _check_images(model, ends)
    if len(starts) != len(ends):
        raise ValueError(f"got {len(starts)} start images but {len(ends)} end images")
    _check_most(len(starts), "interpolate", "pairs")
    z_a, z_b = latent_codes(model, starts), latent_codes(model, ends)
    t = np.linspace(0.0, 1.0, steps, dtype="float32")
    z = z_a[:, None, :] * (1 - t)[None, :, None] + z_b[:, None, :] * t[None, :, None]
    decoded = np.asarray(model.decode(z.reshape(-1, *model.latent_shape)))
    decoded = decoded.reshape(len(starts), steps, *decoded.shape[1:])
    rows = [(f"pair {i + 1}", [a, *line, b])
            for i, (a, line, b) in enumerate(zip(starts, decoded, ends))]
    header = ["input A", *(f"t = {v:.2f}" for v in t), "input B"]
    titles = [header] + [[None] * len(header)] * (len(rows) - 1)
    fig = _figure(max(6.0, 0.95 * (steps + 2) + 0.8), 1.05 * len(rows) + 0.8)
    _image_rows(fig, rows, titles)
    fig.suptitle(f"Linear interpolation between latent codes ({z_a.shape[1]}-d) of "
                 f"{model.name!r}, decoded")
    return fig


def samples(model: BaseAutoencoder, *, n: int = 64, seed: int = 0) -> Figure:
    """`n` images decoded from draws of a VAE's prior N(0, I), seeded."""
    _check_most(check_int(n, "the number of samples"), "samples", "samples")
    drawn = draw_samples(model, n, seed=seed)
    grid = image_grid(drawn)
    fig = _figure(7.0, 7.0 * grid.shape[0] / grid.shape[1] + 0.6)
    _show(fig.subplots(), grid, interpolation="antialiased")
    fig.suptitle(f"{n} samples from the prior of {model.name!r} "
                 f"(z ~ N(0, I), {model.latent_dim}-d, seed {seed})")
    return fig


def curves(history: str | os.PathLike | Sequence[dict[str, float]], *,
           title: str | None = None) -> Figure:
    """Training curves from a run folder, its history.csv or rows of it: one panel per logged
    term (loss, reconstruction_loss, kl_loss, …), training and validation, with the epoch of
    the best validation loss (the weights kept in model.keras) marked."""
    require("matplotlib", "drawing a figure")
    from matplotlib.ticker import MaxNLocator

    from keras_ae.utils.history import read_history

    if isinstance(history, (str, os.PathLike)):
        path = Path(history)
        path = path / "history.csv" if path.is_dir() else path
        if not path.is_file():
            raise ValueError(f"no training history at {path}")
        rows = read_history(path)
        title = title or f"Training curves of {path.parent.name}"
    elif isinstance(history, (list, tuple)) and all(isinstance(row, dict) for row in history):
        rows = list(history)
    else:
        raise ValueError("history must be a run folder, a history.csv or a list of dicts (one "
                         f"per epoch), got {type(history).__name__}")
    if not rows:
        raise ValueError("the training history has no epochs")
    keys = list(dict.fromkeys(k for row in rows for k in row))
    terms = [k for k in keys if not k.startswith("val_") and k not in ("epoch", "learning_rate")]
    terms += [k[4:] for k in keys if k.startswith("val_") and k[4:] not in terms]
    terms.sort(key=lambda k: k != "loss")
    epochs = np.array([row.get("epoch", i) for i, row in enumerate(rows)], dtype=float) + 1
    cols = min(len(terms), 3)
    fig = _figure(4.2 * cols + 0.4, 3.4 * math.ceil(len(terms) / cols) + 0.5)
    axes = np.atleast_1d(fig.subplots(math.ceil(len(terms) / cols), cols, squeeze=False)).ravel()
    marker = "o" if len(rows) <= 30 else None
    for ax, term in zip(axes, terms):
        for key, label, style in ((term, "training", "-"), (f"val_{term}", "validation", "--")):
            values = np.array([row.get(key, np.nan) for row in rows], dtype=float)
            if np.isfinite(values).any():
                ax.plot(epochs, values, style, marker=marker, markersize=3, label=label)
        if term == "loss" and any("val_loss" in row for row in rows):
            val = np.array([row.get("val_loss", np.inf) for row in rows], dtype=float)
            best = int(np.argmin(val))
            ax.plot(epochs[best], val[best], "*", color="black", markersize=11,
                    label=f"best validation (epoch {int(epochs[best])})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(term.replace("_", " "))
        ax.set_title(term.replace("_", " "), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(terms):]:
        ax.set_axis_off()
    fig.suptitle(f"{title or 'Training curves'} ({len(rows)} epochs)")
    return fig


def errors(model: BaseAutoencoder, images: Any, labels: Any = None, *, n: int = 8) -> Figure:
    """The `n` images with the highest anomaly score: input, reconstruction and the map of the
    per-pixel error (`analysis.detect.error_maps`: the model's MSE or BCE of each pixel), with a
    colour bar."""
    from keras_ae.analysis.detect import error_maps as per_pixel_errors
    from keras_ae.data.validate import validate_labels

    n = check_int(n, "n")
    _check_most(n, "errors", "images")
    x = _check_images(model, images)
    labels = None if labels is None else validate_labels(labels, len(x))
    order, scores = worst_scored(model, x, n)
    worst = x[order]
    x_hat = np.asarray(model(worst, training=False))
    error_maps = per_pixel_errors(model, worst)
    name = _error_name(model)
    titles = [[f"#{rank + 1}: {name} {score:.4f}"
               + ("" if labels is None else f"\nlabel {labels[i]}")
               for rank, (i, score) in enumerate(zip(order, scores))]] + [[None] * len(order)] * 2
    fig = _figure(max(6.0, 1.05 * len(order) + 1.6), 4.6)
    vmax = float(error_maps.max()) or 1.0
    axes, shown = _image_rows(
        fig, [("input", worst), ("reconstruction", x_hat), ("error", error_maps)], titles,
        styles=[{}, {}, {"cmap": "magma", "vmax": vmax}])
    fig.colorbar(shown[2], ax=list(axes[2]), label=f"per-pixel {name}", shrink=0.9)
    fig.suptitle(f"The {len(order)} worst-reconstructed of {len(x):,} images by anomaly score "
                 f"(per-pixel {name}) of {model.name!r}")
    return fig
