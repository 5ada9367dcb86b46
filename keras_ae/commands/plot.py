"""`keras-ae plot`: one picture of what a trained model learned, as a PNG."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from keras_ae.analysis.projection import METHODS
from keras_ae.commands.common import (CLIError, RunData, add_data_options, check_seed, print_result,
                                      run_model_path)
from keras_ae.visualization.plots import MOST, WHAT

NAME = "plot"

LATENT_LIMIT = 10_000
# what -n counts for each picture, its default (None: every image of the split, up to
# LATENT_LIMIT) and the most one picture shows (plots.MOST)
COUNTS = {
    "reconstructions": ("images", 10, MOST["reconstructions"]),
    "latent": ("images", None, LATENT_LIMIT),
    "manifold": ("grid cells per side", 20, MOST["manifold"]),
    "interpolate": ("pairs", 4, MOST["interpolate"]),
    "samples": ("samples", 64, MOST["samples"]),
    "curves": (None, None, None),
    "errors": ("worst images", 8, MOST["errors"]),
}
NEEDS_DATA = ("reconstructions", "latent", "interpolate", "errors")
UNSEEDED = ("manifold", "curves")  # the same picture whatever the seed


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        NAME, help="draw reconstructions, latent maps, samples, training curves, …",
        description="Draw one picture of a trained model as a PNG: reconstructions (originals "
                    "over reconstructions), latent (held-out codes in 2-d by label), manifold "
                    "(the decoded plane of a 2-d VAE), interpolate (between two inputs), "
                    "samples (VAE draws), curves (history.csv), errors (per-pixel error of the "
                    "worst-scored inputs).")
    p.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    p.add_argument("--what", choices=WHAT, required=True)
    p.add_argument("--method", choices=METHODS,
                   help="2-d map for --what latent (default: raw for a 2-d code, else tsne)")
    p.add_argument("--split", help="test | validation | train | all (default: test where the "
                                   "data has one, else validation)")
    add_data_options(p)
    p.add_argument("-n", type=int, metavar="N",
                   help="how many to show: "
                        + "; ".join(f"{what}: {default or 'all'} {counted} (at most {most:,})"
                                    for what, (counted, default, most) in COUNTS.items() if counted)
                        + "; never more than the split holds")
    p.add_argument("--seed", type=int,
                   help="chooses the images, the noise and the draws (default: 0)")
    p.add_argument("--output", help="PNG file (default: RUN_WHAT.png in the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run_name(model_path: Path) -> str:
    """The run folder's name for RUN/model.keras, else the model file's stem."""
    return model_path.parent.name if model_path.name == "model.keras" else model_path.stem


def check_output(path: Path, suffix: str, overwrite: bool) -> Path:
    """Refuse a wrong suffix or an existing file (without --overwrite), before any work."""
    if path.suffix.lower() != suffix:
        raise CLIError(f"--output must end in {suffix}, got {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise CLIError(f"{path} already exists; pass --overwrite to replace it")
    return path


def run(args) -> int:
    from keras_ae.utils.extras import require
    from keras_ae.visualization import plots

    require("matplotlib", "keras-ae plot")  # before any long step
    if args.method == "umap" and args.what == "latent":
        require("umap", "--method umap")
    model_path = run_model_path(args.model)
    output = check_output(Path(args.output or f"{run_name(model_path)}_{args.what}.png"),
                          ".png", args.overwrite)
    counted, n, most = COUNTS[args.what]
    if args.n is not None:
        if counted is None:
            raise CLIError(f"-n does not apply to --what {args.what}")
        if args.n < (2 if args.what == "manifold" else 1):
            raise CLIError(f"-n must be >= {2 if args.what == 'manifold' else 1}, got {args.n}")
        if args.n > most:
            raise CLIError(f"-n must be at most {most:,} for --what {args.what} ({counted} in "
                           f"one picture), got {args.n:,}")
        n = args.n
    if args.method and args.what != "latent":
        raise CLIError("--method applies to --what latent")
    check_seed(args.seed)
    if args.seed is not None and args.what in UNSEEDED:
        raise CLIError(f"--seed does not apply to --what {args.what}: nothing in it is drawn at "
                       "random")
    args.seed = args.seed or 0

    if args.what == "curves":
        history = model_path.parent / "history.csv"
        if not history.is_file():
            raise CLIError(f"no history.csv beside {model_path}: curves need a run folder "
                           "written by keras-ae train")
        figure = plots.curves(history, title=f"Training curves of {run_name(model_path)}")
    else:
        figure = _model_figure(args, model_path, n)
    plots.save_figure(figure, output, overwrite=args.overwrite)
    print_result(f"wrote {output}")
    return 0


def _model_figure(args, model_path: Path, n: int | None):
    import numpy as np

    from keras_ae.models.saving import load_model
    from keras_ae.visualization import plots

    model = load_model(model_path, compile=False)
    if args.what == "manifold":  # plots refuse a model without a 2-d prior in one line
        return plots.manifold(model, n=n)
    if args.what == "samples":
        return plots.samples(model, n=n, seed=args.seed)
    if args.method == "raw" and model.latent_dim != 2:
        raise CLIError(f"--method raw needs a 2-d latent space; this model's is "
                       f"{model.latent_dim}-d (use tsne, pca or umap)")

    images, labels = _held_out(args, model_path, model)
    rng = np.random.default_rng(args.seed)
    if args.what == "interpolate":
        starts, ends = _pairs(rng, labels, len(images), n, asked=args.n is not None)
        return plots.interpolate(model, images[starts], images[ends])
    n = _at_most_the_split(n, len(images), asked=args.n is not None)
    if args.what == "reconstructions":
        chosen = rng.choice(len(images), n, replace=False)
        return plots.reconstructions(model, images[chosen], seed=args.seed)
    if args.what == "errors":
        return plots.errors(model, images, labels, n=n)
    chosen = np.sort(rng.choice(len(images), n, replace=False))  # latent
    return plots.latent(model, images[chosen], None if labels is None else labels[chosen],
                        method=args.method, seed=args.seed, verbose=0 if args.quiet else 1)


def _held_out(args, model_path: Path, model):
    run_data = RunData(args, model_path)
    split = run_data.held_out(args.split, model)
    return split.images(), split.labels


def _at_most_the_split(n: int | None, count: int, *, asked: bool, unit: str = "images") -> int:
    """`n` (None: LATENT_LIMIT), or the `count` the split has when that is fewer; a note says so
    when `-n` asked for more."""
    n = LATENT_LIMIT if n is None else n
    if n > count and asked:
        logging.getLogger("keras_ae").warning("-n %s: the split has %s %s; showing %s",
                                              f"{n:,}", f"{count:,}", unit, f"{count:,}")
    return min(n, count)


def _pairs(rng, labels, count: int, n: int, *, asked: bool = False):
    """`n` (start, end) index pairs of distinct images (at most half the split's); with labels,
    of different labels where the data allow it."""
    if count < 2:
        raise CLIError(f"interpolation needs at least 2 images, the split has {count}")
    order = rng.permutation(count)
    n = _at_most_the_split(n, count // 2, asked=asked, unit="pairs of images")
    starts, pool = list(order[:n]), list(order[n:])
    ends = []
    for start in starts:
        pick = next((k for k, i in enumerate(pool)
                     if labels is None or labels[i] != labels[start]), 0)
        ends.append(pool.pop(pick))
    return starts, ends
