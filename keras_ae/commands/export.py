"""`keras-ae export`: write a SavedModel folder or a multi-signature TFLite file."""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_ae.commands.common import (CLIError, add_data_options, data_of_run, print_result,
                                      run_model_path)
from keras_ae.serving.export import QUANTIZATIONS

NAME = "export"


def add_parser(subparsers) -> argparse.ArgumentParser:
    x = subparsers.add_parser(
        NAME, help="write a SavedModel or a TFLite file",
        description="Export a model with the signatures encode, decode, reconstruct, "
                    "anomaly_score (and sample for VAEs, and is_anomaly when the run has a "
                    "threshold fitted with `keras-ae detect --fit`).")
    x.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    x.add_argument("--format", choices=["saved_model", "tflite"], default="saved_model")
    x.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                   help="TFLite weights/activations (default: none = float32)")
    add_data_options(x)
    x.add_argument("--output", help="SavedModel folder or .tflite file (default: saved_models/NAME)")
    x.add_argument("--overwrite", action="store_true", help="replace an existing export")
    return x


def saved_threshold(model_path: Path):
    """The anomaly threshold fitted for this model (`keras-ae detect --fit`), or None."""
    from keras_ae.analysis.detect import load_threshold, threshold_path

    return load_threshold(model_path) if threshold_path(model_path).is_file() else None


def run(args) -> int:
    from keras_ae import data
    from keras_ae.models.saving import load_model
    from keras_ae.serving import export

    model_path = run_model_path(args.model)
    name = model_path.parent.name if model_path.name == "model.keras" else model_path.stem
    if args.format == "saved_model":
        if args.quantize != "none":
            raise CLIError("--quantize applies to --format tflite")
        output = Path(args.output or f"saved_models/{name}")
    else:
        suffix = "" if args.quantize == "none" else f"_{args.quantize}"
        output = Path(args.output or f"saved_models/{name}{suffix}.tflite")
    if output.exists() and not args.overwrite:
        raise CLIError(f"{output} already exists; pass --overwrite to replace it")
    model = load_model(model_path, compile=False)
    threshold = saved_threshold(model_path)
    if args.format == "saved_model":
        export.export_saved_model(model, output, overwrite=args.overwrite, threshold=threshold)
    else:
        representative = None
        if args.quantize == "int8":
            dataset, load = data_of_run(args, model_path)
            train = data.open_split(dataset, "train", **load)
            representative = data.as_float_images(train.images(limit=export.REPRESENTATIVE_SAMPLES))
        export.export_tflite(model, output, quantize=args.quantize, representative_data=representative,
                             overwrite=args.overwrite, threshold=threshold)
    signatures = ", ".join(export.signature_names(model, threshold))
    print_result(f"exported {model_path} -> {output} ({signatures})")
    return 0
