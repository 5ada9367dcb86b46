"""The `keras-ae` command line: train, evaluate, export and predict."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from keras_ae.export import QUANTIZATIONS
from keras_ae.models.losses import RECONSTRUCTION_LOSSES
from keras_ae.models.vae import LIKELIHOODS
from keras_ae.presets import PRESETS


class CLIError(Exception):
    """A problem with the user's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + error
        command = self.prog.removeprefix("keras-ae").strip()
        raise CLIError(f"{command}: {message}" if command else message)


def _add_data_options(p: argparse.ArgumentParser, dataset_default: str | None) -> None:
    p.add_argument("--dataset", default=dataset_default,
                   help="tfds name (mnist, fashion_mnist, …), a folder of IDX files or an .npz file"
                        + (f" (default: {dataset_default})" if dataset_default else
                           " (default: the run's dataset)"))
    p.add_argument("--data-dir", help="local folder with the dataset's IDX files, or a tfds data dir")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="keras-ae", description="Autoencoders for Keras: train, evaluate, export.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model and write a run folder",
                       description="Train an autoencoder; writes config.json, model.keras, "
                                   "history.csv and TensorBoard logs to the run folder. Rerunning "
                                   "the same command on an interrupted run resumes it.")
    t.add_argument("--model", choices=list(PRESETS), help="preset (default: seed)")
    t.add_argument("--config", help="a config.json to start from (options given here override it)")
    _add_data_options(t, None)
    t.add_argument("--epochs", type=int)
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--loss", choices=RECONSTRUCTION_LOSSES, help="reconstruction loss of autoencoders")
    t.add_argument("--denoise", metavar="KIND:AMOUNT",
                   help="train on corrupted inputs: gaussian:SIGMA, masking:P or salt_pepper:P")
    t.add_argument("--sparse", metavar="SPEC", help="latent sparsity: l1:WEIGHT or kl:RHO[:WEIGHT]")
    t.add_argument("--beta", type=float, help="weight of the VAE's KL term (beta-VAE)")
    t.add_argument("--likelihood", choices=LIKELIHOODS, help="VAE decoder likelihood")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--validation-fraction", type=float)
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a better validation loss")
    t.add_argument("--seed", type=int, help="random seed; the same seed gives the same weights")
    t.add_argument("--output", help="run folder (default: runs/MODEL-DATASET)")
    t.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("evaluate", help="held-out reconstruction error, ELBO/NLL and PCA baseline",
                       description="Evaluate a model on held-out data against PCA with as many "
                                   "components as the latent size (fitted on the training split).")
    e.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    _add_data_options(e, None)
    e.add_argument("--split", default="test", help="test | validation | train (default: test)")
    e.add_argument("--nll-samples", type=int, default=100,
                   help="importance samples for the VAE's NLL (default: 100)")
    e.add_argument("--no-pca", action="store_true", help="skip the PCA baseline")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    x = sub.add_parser("export", help="write a SavedModel or a TFLite file",
                       description="Export a model with the signatures encode, decode, "
                                   "reconstruct, anomaly_score (and sample for VAEs).")
    x.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    x.add_argument("--format", choices=["saved_model", "tflite"], default="saved_model")
    x.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                   help="TFLite weights/activations (default: none = float32)")
    _add_data_options(x, None)
    x.add_argument("--output", help="SavedModel folder or .tflite file (default: saved_models/NAME)")
    x.add_argument("--overwrite", action="store_true", help="replace an existing export")

    r = sub.add_parser("predict", help="run an exported model on .npy or PNG files",
                       description="Run a SavedModel or .tflite file on user files, as an app "
                                   "would, and write each output as .npy (and PNG for images).")
    r.add_argument("model", metavar="MODEL_TFLITE_OR_SAVEDMODEL")
    r.add_argument("--input", nargs="+", required=True, metavar="FILE",
                   help=".npy arrays or PNG images (images); a .npy of codes for decode/sample")
    r.add_argument("--signature", default="reconstruct",
                   help="encode | decode | reconstruct | anomaly_score | sample (default: reconstruct)")
    r.add_argument("--output", default="predictions", help="output folder (default: predictions)")
    r.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return parser


def _absolute_if_path(value: str | None) -> str | None:
    """Local paths are stored absolute in config.json, so a run can be used from anywhere."""
    return str(Path(value).resolve()) if value and Path(value).exists() else value


def _run_config(args):
    from keras_ae.config import RunConfig
    from keras_ae.presets import preset_config

    overrides = dict(dataset=_absolute_if_path(args.dataset),
                     data_dir=_absolute_if_path(args.data_dir), epochs=args.epochs,
                     latent_dim=args.latent_dim, loss=args.loss, denoise=args.denoise,
                     sparsity=args.sparse, beta=args.beta, likelihood=args.likelihood,
                     batch_size=args.batch_size, learning_rate=args.learning_rate,
                     validation_fraction=args.validation_fraction,
                     early_stopping=args.early_stopping, seed=args.seed)
    if args.config:
        if args.model:
            raise CLIError("give --model or --config, not both (the config names its preset)")
        return RunConfig.load(args.config).replace(**overrides)
    return preset_config(args.model or "seed", **overrides)


def _cmd_train(args) -> int:
    from keras_ae.train import train

    config = _run_config(args)
    dataset_name = Path(config.dataset).stem or "data"
    output = Path(args.output or f"runs/{config.preset}-{dataset_name}")
    result = train(config, output, overwrite=args.overwrite, verbose=0 if args.quiet else "auto")
    last = result.history[-1] if result.history else {}
    summary = ", ".join(f"{k}={v:.5g}" for k, v in last.items() if k != "epoch")
    print(f"{'resumed and ' if result.resumed else ''}trained {config.preset} for "
          f"{len(result.history)} epochs: {summary}")
    print(f"run folder: {output}")
    return 0


def _cmd_evaluate(args) -> int:
    from keras_ae import data
    from keras_ae.evaluate import evaluate_model
    from keras_ae.saving import load_model, resolve_model_path

    if args.nll_samples < 1:
        raise CLIError(f"--nll-samples must be >= 1, got {args.nll_samples}")
    model_path = resolve_model_path(args.model)
    dataset, load = _data_of_run(args, model_path)
    images, _ = data.load_arrays(dataset, args.split, **load)
    model = load_model(model_path, compile=False)
    expected = tuple(model.encoder.inputs[0].shape[1:])
    if tuple(images.shape[1:]) != expected:
        raise CLIError(f"{dataset} images have shape {images.shape[1:]} "
                       f"but the model expects {expected}")
    train_images = None if args.no_pca else data.load_arrays(dataset, "train", **load)[0]
    results = {"model": str(model_path), "dataset": dataset, "split": args.split,
               **evaluate_model(model, images, train_images=train_images,
                                nll_samples=args.nll_samples)}
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{model_path} on {dataset} [{args.split}], {results['images']} images")
    print(f"  per-pixel MSE  {results['mse']:.6f}")
    print(f"  per-pixel BCE  {results['bce']:.6f}")
    if "nll" in results:
        print(f"  -ELBO          {results['neg_elbo']:.2f} nats")
        print(f"  NLL (k={results['nll_samples']})   {results['nll']:.2f} nats")
    if "pca" in results:
        pca = results["pca"]
        print(f"  PCA-{pca['components']} baseline: MSE {pca['mse']:.6f}, BCE {pca['bce']:.6f}")
    return 0


def _cmd_export(args) -> int:
    from keras_ae import data, export
    from keras_ae.saving import load_model, resolve_model_path

    model_path = resolve_model_path(args.model)
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
    if args.format == "saved_model":
        export.export_saved_model(model, output, overwrite=args.overwrite)
    else:
        representative = None
        if args.quantize == "int8":
            dataset, load = _data_of_run(args, model_path)
            images = data.load_arrays(dataset, "train", **load)[0]
            representative = data.as_float_images(images[:export.REPRESENTATIVE_SAMPLES])
        export.export_tflite(model, output, quantize=args.quantize,
                             representative_data=representative, overwrite=args.overwrite)
    print(f"exported {model_path} -> {output} ({', '.join(export.signature_names(model))})")
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    from keras_ae.predict import load_exported, read_named_inputs, write_outputs

    exported = load_exported(args.model)
    inputs = exported.inputs(args.signature)
    (input_name,) = inputs
    if input_name == "image":
        array, names = read_named_inputs(args.input, image_shape=exported.image_shape)
    else:
        if len(args.input) != 1 or not args.input[0].endswith(".npy"):
            raise CLIError(f"signature {args.signature!r} takes one .npy file of {input_name} "
                           "vectors (batch, latent)")
        array, names = np.load(args.input[0], allow_pickle=False).astype("float32"), None
    outputs = exported.run(args.signature, **{input_name: array})
    written = write_outputs(outputs, args.output, names=names, overwrite=args.overwrite)
    for key, value in outputs.items():
        print(f"{key}: shape {tuple(value.shape)}")
        if value.ndim == 1:
            for label, v in zip(names or range(len(value)), value):
                print(f"  {label}: {v:.6g}")
    print(f"wrote {len(written)} files to {args.output}")
    return 0


def _data_of_run(args, model_path: Path) -> tuple[str, dict]:
    """The dataset and `load_arrays` options: --dataset/--data-dir, else the config.json of the
    run the model belongs to (model.keras or checkpoints/best.keras), else MNIST."""
    from keras_ae.config import RunConfig

    beside = [folder / "config.json" for folder in (model_path.parent, model_path.parent.parent)]
    config_path = next((path for path in beside if path.is_file()), None)
    config = RunConfig.load(config_path) if config_path else None
    dataset = args.dataset or (config.dataset if config else "mnist")
    data_dir = args.data_dir or (config.data_dir if config and not args.dataset else None)
    fraction = config.validation_fraction if config else 0.1
    return dataset, dict(data_dir=data_dir, validation_fraction=fraction, with_labels=False)


COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "export": _cmd_export,
            "predict": _cmd_predict}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 with a one-line reason on stderr)."""
    from keras_ae.data.errors import first_line

    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (CLIError, ValueError, OSError, RuntimeError) as err:
        # RuntimeError covers ExportError and TensorFlow's errors (out of memory included)
        print(f"keras-ae: error: {first_line(err, with_type=isinstance(err, OSError))}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("keras-ae: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a user gets one line, a developer the traceback
        if os.environ.get("KERAS_AE_DEBUG") == "1":
            raise
        print(f"keras-ae: error: unexpected {first_line(err, with_type=True)} "
              "(set KERAS_AE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
