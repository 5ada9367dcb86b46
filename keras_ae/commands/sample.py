"""`keras-ae sample`: draw new images from a VAE's prior, as a grid PNG and an .npy array."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from keras_ae.commands.common import CLIError, check_seed, print_result, run_model_path
from keras_ae.commands.plot import check_output, run_name
from keras_ae.utils.text import plural

NAME = "sample"
SAMPLE_BYTES = 2**30
"""The most bytes of float32 pixels `sample` writes to its .npy file (drawn and written in
batches, so memory holds one batch)."""
GRID_SAMPLES = 1024
"""PREFIX.png shows at most this many samples (the first ones: a 32 × 32 grid)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    s = subparsers.add_parser(
        NAME, help="draw images from a VAE's prior (grid PNG and .npy)",
        description="Decode N draws from the prior N(0, I) of a variational autoencoder; writes "
                    "PREFIX.npy (float32, N×H×W×C in [0, 1], at most 1 GiB) and PREFIX.png "
                    f"(the first {GRID_SAMPLES:,} images in a grid). The same seed gives the "
                    "same images.")
    s.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    s.add_argument("-n", type=int, default=64, metavar="N",
                   help="number of samples (default: 64; at most 1 GiB of float32 pixels: "
                        "342,392 of 28×28×1)")
    s.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    s.add_argument("--output", metavar="PREFIX",
                   help="writes PREFIX.png and PREFIX.npy (default: RUN_samples)")
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return s


def run(args) -> int:
    import math

    import numpy as np

    from keras_ae.models.saving import load_model
    from keras_ae.utils.io import atomic_path
    from keras_ae.visualization.plots import sample_batches, save_image_grid

    if args.n < 1:
        raise CLIError(f"-n must be >= 1, got {args.n}")
    check_seed(args.seed)
    model_path = run_model_path(args.model)
    prefix = Path(args.output or f"{run_name(model_path)}_samples")
    if prefix.suffix.lower() in (".png", ".npy"):
        prefix = prefix.with_suffix("")
    png = check_output(prefix.with_name(prefix.name + ".png"), ".png", args.overwrite)
    npy = check_output(prefix.with_name(prefix.name + ".npy"), ".npy", args.overwrite)
    model = load_model(model_path, compile=False)
    batches = sample_batches(model, args.n, seed=args.seed)  # refuses a non-VAE in one line
    shape = tuple(model.image_shape)
    most = SAMPLE_BYTES // (4 * math.prod(shape))
    if args.n > most:
        raise CLIError(f"-n must be at most {most:,} for {'×'.join(map(str, shape))} images "
                       f"(their .npy file is kept within 1 GiB), got {args.n:,}")
    with atomic_path(npy, overwrite=args.overwrite) as tmp:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype="float32",
                                           shape=(args.n, *shape))
        done = 0
        for batch in batches:
            images[done:done + len(batch)] = batch
            done += len(batch)
        images.flush()
        shown = np.array(images[:GRID_SAMPLES])
        del images  # closes the file before it is moved into place
    save_image_grid(shown, png, overwrite=args.overwrite)
    if args.n > GRID_SAMPLES:
        logging.getLogger("keras_ae").warning("%s shows the first %s of the %s samples", png,
                                              f"{GRID_SAMPLES:,}", f"{args.n:,}")
    print_result(f"wrote {plural(args.n, 'sample')} of {model_path} (seed {args.seed}) to {npy} "
                 f"and {png}")
    return 0
