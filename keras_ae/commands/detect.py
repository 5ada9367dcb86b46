"""`keras-ae detect`: fit an anomaly threshold on a run's validation data (or on labelled
images), or flag inputs, with p-values and optionally error maps."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from keras_ae.commands.common import (CLIError, RunData, add_data_options, add_resize_option,
                                      data_options_given, print_result, run_model_path)
from keras_ae.utils.text import plural

NAME = "detect"


def add_parser(subparsers) -> argparse.ArgumentParser:
    d = subparsers.add_parser(
        NAME, help="anomaly detection: fit a threshold, or score and flag inputs",
        description="With --fit, fit an anomaly threshold on the run's validation split (normal "
                    "images), or on labelled images, and save it as detector.json in the run "
                    "folder; with --input, print each input's anomaly score, its p-value and "
                    "whether it is above that threshold.")
    d.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    d.add_argument("--input", nargs="+", metavar="FILE_OR_FOLDER",
                   help=".npy/.npz arrays, PNG/JPEG/BMP/GIF images, or folders of them (their "
                        "images and arrays at any depth, sorted), as predict reads them")
    add_resize_option(d, "with --input, ")
    d.add_argument("--maps", metavar="DIR",
                   help="with --input, write each flagged input's per-pixel error map as "
                        "DIR/NAME.npy (float32 H x W) and DIR/NAME.png")
    d.add_argument("--fit", action="store_true", help="fit and save the threshold")
    d.add_argument("--overwrite", action="store_true",
                   help="with --fit, replace the run's existing detector.json; with --maps, "
                        "earlier maps")
    level = d.add_mutually_exclusive_group()
    level.add_argument("--percentile", type=float,
                       help="threshold at this percentile of the normal scores (default: 99)")
    level.add_argument("--fpr", type=float,
                       help="threshold that flags this share of normal images, e.g. 0.01")
    level.add_argument("--contamination", type=float,
                       help="the fitting images are not clean: this share of them (0 < P < 0.5) "
                            "is expected to be anomalous, and is flagged")
    level.add_argument("--labels", metavar="FILE.npz",
                       help="fit on labelled images instead: an .npz with arrays images and "
                            "labels (1 = anomaly, 0 = normal); the threshold of the best F1")
    d.add_argument("--precision", type=float,
                   help="with --labels, the lowest threshold whose precision reaches this")
    d.add_argument("--score", choices=["reconstruction", "elbo", "neighbours"], default=None,
                   help="reconstruction error, -ELBO (VAEs) or the distance to the nearest "
                        "training images (one_class); default: the model's own anomaly score "
                        "(neighbours for one_class, else reconstruction)")
    d.add_argument("--split",
                   help="the split of normal images the threshold is fitted on (default: validation)")
    add_data_options(d)
    d.add_argument("--json", action="store_true", help="print one JSON object")
    return d


def _check_options(args) -> None:
    fitting_options = [flag for flag, value in (
        ("--percentile", args.percentile), ("--fpr", args.fpr),
        ("--contamination", args.contamination), ("--labels", args.labels),
        ("--precision", args.precision), ("--score", args.score), ("--split", args.split),
        ("--overwrite", None if args.maps else args.overwrite or None)) if value is not None]
    fitting_options += data_options_given(args)
    if args.fit and args.input:
        raise CLIError("give --fit (fit a threshold) or --input (detect), not both")
    if not args.fit and not args.input:
        raise CLIError(f"give --input FILE_OR_FOLDER to detect anomalies, or --fit to fit the "
                       f"threshold first: keras-ae detect {args.model} --fit")
    if args.input and fitting_options:
        raise CLIError(f"{', '.join(fitting_options)} appl{'ies' if len(fitting_options) == 1 else 'y'} "
                       "to --fit; --input scores the files given with the saved threshold")
    if args.maps and not args.input:
        raise CLIError("--maps writes the error maps of flagged inputs: give it with --input")
    if args.resize and not args.input:
        raise CLIError("--resize converts the images given with --input: give it with --input")
    if args.precision is not None and args.labels is None:
        raise CLIError("--precision applies to a threshold from labelled images: give --labels FILE.npz")
    if args.labels is not None:
        from_data = [flag for flag, value in (("--split", args.split),) if value is not None]
        from_data += data_options_given(args)
        if from_data:
            raise CLIError(f"{', '.join(from_data)} choose{'s' if len(from_data) == 1 else ''} "
                           "the run's images; --labels fits on the images of its file")
    from keras_ae.analysis.detect import check_level

    for method in ("contamination", "precision"):  # a bad level before any model is loaded
        if getattr(args, method) is not None:
            try:
                check_level(method, getattr(args, method))
            except ValueError as err:
                raise CLIError(f"--{err}") from None


def run(args) -> int:
    _check_options(args)
    model_path = run_model_path(args.model)
    return _fit(args, model_path) if args.fit else _detect(args, model_path)


def _shown(threshold) -> dict:
    """The threshold as results show it: its fields but the normal scores."""
    return {key: value for key, value in threshold.to_dict().items() if key != "normal_scores"}


def _fit(args, model_path: Path) -> int:
    from keras_ae.analysis.detect import fit_threshold, read_labelled, threshold_path
    from keras_ae.models.saving import load_model

    labels = None
    if args.labels is not None:  # the file is read, and checked, before the model
        images, labels = read_labelled(args.labels)
        fitted_on = Path(args.labels).name
    model = load_model(model_path, compile=False)
    saved = threshold_path(model_path)
    if args.labels is None:
        split = args.split or "validation"
        run_data = RunData(args, model_path)
        held_out = run_data.held_out(split, model)  # a split the data lacks is named first
        if saved.exists() and not args.overwrite:
            raise CLIError(f"{saved} already exists; pass --overwrite to replace it")
        images, fitted_on = held_out.images(), f"{Path(run_data.dataset).name} [{split}]"
    elif saved.exists() and not args.overwrite:
        raise CLIError(f"{saved} already exists; pass --overwrite to replace it")
    threshold = fit_threshold(
        model, images, percentile=args.percentile, fpr=args.fpr,
        contamination=args.contamination, labels=labels, precision=args.precision,
        # no progress bar for labelled images (a few, hand-labelled): an unreachable precision,
        # known once they are scored, is then the one line on stderr
        score=args.score, verbose=0 if args.json or labels is not None else 1,
        fitted_on=fitted_on, model_file=model_path)
    path = threshold.save(model_path)
    if args.json:
        print_result(json.dumps({"detector": str(path), **_shown(threshold)}))
    else:
        print_result(f"threshold: {threshold.describe()}")
        print_result(f"saved to {path}")
    return 0


def _detect(args, model_path: Path) -> int:
    from keras_ae.analysis.detect import detect, error_maps, load_threshold, threshold_path
    from keras_ae.models.saving import load_model
    from keras_ae.data.inputs import read_named_inputs

    model = load_model(model_path, compile=False)  # a file that is no model is named as such
    threshold = load_threshold(model_path)
    if args.maps:
        from keras_ae.serving.error_maps import check_maps_folder, write_error_maps

        check_maps_folder(args.maps)  # before any image is read
    image_shape = tuple(int(d) for d in model.encoder.inputs[0].shape[1:])
    images, names = read_named_inputs(args.input, image_shape=image_shape, resize=args.resize)
    found = detect(model, images, threshold=threshold)
    if found.p_values is None:
        logging.getLogger("keras_ae").warning(
            "%s has no normal scores (fitted by an older keras-ae): p-values are unavailable; "
            "refit it with `keras-ae detect %s --fit --overwrite`", threshold_path(model_path),
            args.model)
    rows = [{"name": name, "score": float(score), "is_anomaly": bool(flag),
             "p_value": None if found.p_values is None else float(found.p_values[i])}
            for i, (name, score, flag) in enumerate(zip(names, found.scores, found.is_anomaly))]
    if args.maps:
        flagged = [i for i, row in enumerate(rows) if row["is_anomaly"]]
        written = write_error_maps(error_maps(model, images[flagged]), [names[i] for i in flagged],
                                   args.maps, overwrite=args.overwrite) if flagged else []
        for i, path in zip(flagged, written):
            rows[i]["map"] = str(path)
    if args.json:
        print_result(json.dumps({"threshold": _shown(threshold), "inputs": rows}))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        verdict = "ANOMALY" if row["is_anomaly"] else "normal"
        p_value = "" if row["p_value"] is None else f"  p {row['p_value']:<8.3g}"
        print_result(f"{row['name']:<{width}}  {row['score']:<10.6g}{p_value}  {verdict}")
    anomalies = int(found.is_anomaly.sum())
    print_result(f"{anomalies} of {plural(len(rows), 'input')} "
                 f"{'is an anomaly' if anomalies == 1 else 'are anomalies'}; "
                 f"threshold: {threshold.describe()}")
    if args.maps:
        print_result(f"error maps of {plural(anomalies, 'flagged input')} written to {args.maps}"
                     if anomalies else "no input is flagged: no error maps written")
    return 0
