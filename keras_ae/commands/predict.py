"""`keras-ae predict`: run an exported model on the user's files, as an app would."""

from __future__ import annotations

import argparse

from keras_ae.commands.common import CLIError, add_resize_option, print_result
from keras_ae.utils.text import plural

NAME = "predict"


def add_parser(subparsers) -> argparse.ArgumentParser:
    r = subparsers.add_parser(
        NAME, help="run an exported model on images or .npy/.npz files",
        description="Run a SavedModel or .tflite file on user files, as an app would, and write "
                    "each output as .npy (and PNG for images).")
    r.add_argument("model", metavar="MODEL_TFLITE_OR_SAVEDMODEL")
    r.add_argument("--input", nargs="+", required=True, metavar="FILE",
                   help="images: .npy/.npz arrays, PNG/JPEG/BMP/GIF files or folders of them "
                        "(their images and arrays at any depth, sorted, as detect reads them); "
                        "a .npy of codes for decode/sample")
    add_resize_option(r)
    r.add_argument("--signature", default="reconstruct",
                   help="encode | decode | reconstruct | anomaly_score | sample | is_anomaly "
                        "(default: reconstruct)")
    r.add_argument("--output", default="predictions", help="output folder (default: predictions)")
    r.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return r


def run(args) -> int:
    from keras_ae.data.arrays import read_npy
    from keras_ae.data.inputs import read_named_inputs
    from keras_ae.serving.outputs import write_outputs
    from keras_ae.serving.predict import load_exported

    exported = load_exported(args.model)
    inputs = exported.inputs(args.signature)
    (input_name,) = inputs
    if input_name == "image":
        array, names = read_named_inputs(args.input, image_shape=exported.image_shape,
                                         resize=args.resize)
    else:
        if len(args.input) != 1 or not args.input[0].endswith(".npy"):
            shape = ", ".join("batch" if d is None else str(d) for d in inputs[input_name])
            raise CLIError(f"signature {args.signature!r} takes one .npy file of {input_name} "
                           f"({shape}), {exported.input_dtypes(args.signature)[input_name]}")
        array, names = read_npy(args.input[0]), None
    outputs = exported.run(args.signature, **{input_name: array})
    written = write_outputs(outputs, args.output, names=names, overwrite=args.overwrite)
    for key, value in outputs.items():
        print_result(f"{key}: shape {tuple(value.shape)}")
        if value.ndim == 1:
            for label, v in zip(names or range(len(value)), value):
                print_result(f"  {label}: {v:.6g}")
    print_result(f"wrote {plural(len(written), 'file')} to {args.output}")
    return 0
