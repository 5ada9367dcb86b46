"""`keras-ae evaluate`: held-out reconstruction error, ELBO/NLL and the PCA baseline."""

from __future__ import annotations

import argparse
import json

from keras_ae.commands.common import CLIError, add_data_options, data_of_run, run_model_path

NAME = "evaluate"


def add_parser(subparsers) -> argparse.ArgumentParser:
    e = subparsers.add_parser(
        NAME, help="held-out reconstruction error, ELBO/NLL and PCA baseline",
        description="Evaluate a model on held-out data against PCA with as many components as "
                    "the latent size (fitted on the training split).")
    e.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    add_data_options(e)
    e.add_argument("--split", default="test", help="test | validation | train (default: test)")
    e.add_argument("--nll-samples", type=int, default=100,
                   help="importance samples for the VAE's NLL (default: 100)")
    e.add_argument("--no-pca", action="store_true", help="skip the PCA baseline")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    return e


def run(args) -> int:
    from keras_ae import data
    from keras_ae.evaluate import evaluate_model
    from keras_ae.saving import load_model

    if args.nll_samples < 1:
        raise CLIError(f"--nll-samples must be >= 1, got {args.nll_samples}")
    model_path = run_model_path(args.model)
    model = load_model(model_path, compile=False)  # a bad model file is named before the data
    dataset, load = data_of_run(args, model_path)
    images, _ = data.load_arrays(dataset, args.split, **load)
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
