"""`keras-ae detect`: fit an anomaly threshold on a run's validation data, or flag inputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from keras_ae.commands.common import (CLIError, RunData, add_data_options, data_options_given,
                                      print_result, run_model_path)
from keras_ae.utils.text import plural

NAME = "detect"


def add_parser(subparsers) -> argparse.ArgumentParser:
    d = subparsers.add_parser(
        NAME, help="anomaly detection: fit a threshold, or score and flag inputs",
        description="With --fit, fit an anomaly threshold on the run's validation split (normal "
                    "images) and save it as detector.json in the run folder; with --input, print "
                    "each input's anomaly score and whether it is above that threshold.")
    d.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    d.add_argument("--input", nargs="+", metavar="FILE_OR_FOLDER",
                   help=".npy/.npz arrays, PNG/JPEG/BMP/GIF images, or folders of them (their "
                        "images and arrays at any depth, sorted), as predict reads them")
    d.add_argument("--fit", action="store_true", help="fit and save the threshold")
    d.add_argument("--overwrite", action="store_true",
                   help="with --fit, replace the run's existing detector.json")
    level = d.add_mutually_exclusive_group()
    level.add_argument("--percentile", type=float,
                       help="threshold at this percentile of the normal scores (default: 99)")
    level.add_argument("--fpr", type=float,
                       help="threshold that flags this share of normal images, e.g. 0.01")
    d.add_argument("--score", choices=["reconstruction", "elbo"], default=None,
                   help="reconstruction error, or -ELBO for VAEs (default: reconstruction)")
    d.add_argument("--split",
                   help="the split of normal images the threshold is fitted on (default: validation)")
    add_data_options(d)
    d.add_argument("--json", action="store_true", help="print one JSON object")
    return d


def _check_options(args) -> None:
    fitting_options = [flag for flag, value in (
        ("--percentile", args.percentile), ("--fpr", args.fpr), ("--score", args.score),
        ("--split", args.split), ("--overwrite", args.overwrite or None)) if value is not None]
    fitting_options += data_options_given(args)
    if args.fit and args.input:
        raise CLIError("give --fit (fit a threshold) or --input (detect), not both")
    if not args.fit and not args.input:
        raise CLIError(f"give --input FILE_OR_FOLDER to detect anomalies, or --fit to fit the "
                       f"threshold first: keras-ae detect {args.model} --fit")
    if args.input and fitting_options:
        raise CLIError(f"{', '.join(fitting_options)} appl{'ies' if len(fitting_options) == 1 else 'y'} "
                       "to --fit; --input scores the files given with the saved threshold")


def run(args) -> int:
    _check_options(args)
    model_path = run_model_path(args.model)
    return _fit(args, model_path) if args.fit else _detect(args, model_path)


def _fit(args, model_path: Path) -> int:
    from keras_ae.analysis.detect import fit_threshold, threshold_path
    from keras_ae.models.saving import load_model

    model = load_model(model_path, compile=False)
    split = args.split or "validation"
    run_data = RunData(args, model_path)
    held_out = run_data.held_out(split)  # a split the data lacks is named first
    saved = threshold_path(model_path)
    if saved.exists() and not args.overwrite:
        raise CLIError(f"{saved} already exists; pass --overwrite to replace it")
    dataset, images = run_data.dataset, held_out.images()
    threshold = fit_threshold(
        model, images, percentile=args.percentile, fpr=args.fpr,
        score=args.score or "reconstruction", verbose=0 if args.json else 1,
        fitted_on=f"{Path(dataset).name} [{split}]", model_file=model_path)
    path = threshold.save(model_path)
    if args.json:
        print_result(json.dumps({"detector": str(path), **threshold.to_dict()}))
    else:
        print_result(f"threshold: {threshold.describe()}")
        print_result(f"saved to {path}")
    return 0


def _detect(args, model_path: Path) -> int:
    from keras_ae.analysis.detect import detect, load_threshold
    from keras_ae.models.saving import load_model
    from keras_ae.data.inputs import read_named_inputs

    model = load_model(model_path, compile=False)  # a file that is no model is named as such
    threshold = load_threshold(model_path)
    image_shape = tuple(int(d) for d in model.encoder.inputs[0].shape[1:])
    images, names = read_named_inputs(args.input, image_shape=image_shape)
    found = detect(model, images, threshold=threshold)
    rows = [{"name": name, "score": float(score), "is_anomaly": bool(flag)}
            for name, score, flag in zip(names, found.scores, found.is_anomaly)]
    if args.json:
        print_result(json.dumps({"threshold": threshold.to_dict(), "inputs": rows}))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        verdict = "ANOMALY" if row["is_anomaly"] else "normal"
        print_result(f"{row['name']:<{width}}  {row['score']:.6g}  {verdict}")
    anomalies = int(found.is_anomaly.sum())
    print_result(f"{anomalies} of {plural(len(rows), 'input')} "
                 f"{'is an anomaly' if anomalies == 1 else 'are anomalies'}; "
                 f"threshold: {threshold.describe()}")
    return 0
