"""`keras-ae evaluate`: one report for a run — held-out reconstruction error (MSE, BCE, PSNR),
ELBO/NLL, the PCA baseline and, when the data has labels, clustering and few-label probes; as a
terminal table, JSON or a self-contained HTML file."""

from __future__ import annotations

import argparse
import json
from inspect import signature
from pathlib import Path

from keras_ae.commands.common import (CLIError, RunData, add_data_options, check_seed, print_result,
                                      run_model_path)
from keras_ae.utils.text import plural, with_article

NAME = "evaluate"


def add_parser(subparsers) -> argparse.ArgumentParser:
    e = subparsers.add_parser(
        NAME, help="one report: held-out errors, ELBO/NLL, PCA baseline, clustering and probes",
        description="Evaluate a model on held-out data: reconstruction MSE, BCE and PSNR against "
                    "PCA with as many components as the latent size (fitted on the training "
                    "split), -ELBO and NLL for VAEs, and when the data has labels k-means "
                    "clustering of the codes (against raw pixels and PCA) and few-label "
                    "classifiers (probes on codes and pixels, the encoder fine-tuned and trained "
                    "from scratch).")
    e.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    add_data_options(e)
    e.add_argument("--split", help="test | validation | train | all (default: test where the data "
                                   "has one, else validation)")
    e.add_argument("--nll-samples", type=int,
                   help="importance samples for the VAE's NLL (default: 100)")
    e.add_argument("--no-pca", action="store_true", help="skip the PCA baseline")
    e.add_argument("--no-features", action="store_true",
                   help="skip clustering and the few-label probes")
    e.add_argument("--umap", action="store_true",
                   help="also cluster a 10-d UMAP embedding of the codes, fitted on the training "
                        "split (needs umap-learn)")
    e.add_argument("--labels-per-class", type=int, default=100,
                   help="labelled training images per class for the probes (default: 100)")
    e.add_argument("--fine-tune-epochs", type=int, default=30,
                   help="epochs of the fine-tuned and from-scratch classifiers (default: 30)")
    e.add_argument("--seed", type=int, default=0,
                   help="seed of k-means, the labelled subset and the classifiers (default: 0)")
    e.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    e.add_argument("--report", metavar="REPORT.html",
                   help="also write one self-contained HTML report with figures")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --report file")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    return e


def _check(args) -> Path | None:
    for option, value in (("--nll-samples", args.nll_samples),
                          ("--labels-per-class", args.labels_per_class),
                          ("--fine-tune-epochs", args.fine_tune_epochs)):
        if value is not None and value < 1:
            raise CLIError(f"{option} must be >= 1, got {value}")
    check_seed(args.seed)
    if args.umap and args.no_features:
        raise CLIError("--umap clusters the codes; it cannot be combined with --no-features")
    from keras_ae.utils.extras import require

    if args.umap:
        require("umap", "--umap")
    if args.report is None:
        return None
    require("matplotlib", "--report")  # its figures
    report = Path(args.report)
    if report.is_dir():
        raise CLIError(f"--report {report} is a folder; give a file name such as report.html")
    if report.exists() and not args.overwrite:
        raise CLIError(f"{report} already exists; pass --overwrite to replace it")
    existing = next((folder for folder in report.parents if folder.exists()), None)
    if existing is not None and not existing.is_dir():
        raise CLIError(f"cannot write {report}: {existing} is not a folder")
    return report


def run(args) -> int:
    from keras_ae.analysis.evaluate import FEATURE_IMAGES, evaluate_model
    from keras_ae.models.saving import load_model
    from keras_ae.visualization.report import format_tables, report_figures, write_report

    report = _check(args)  # before any long step
    model_path = run_model_path(args.model)
    model = load_model(model_path, compile=False)  # a bad model file is named before the data
    takes_nll = "nll_samples" in signature(model.held_out_metrics).parameters  # the objective's own
    if args.nll_samples is not None and not takes_nll:
        raise CLIError(f"--nll-samples applies to variational autoencoders (their NLL); "
                       f"{model_path} holds {with_article(type(model).__name__)}")
    run_data = RunData(args, model_path)
    dataset = run_data.dataset
    images = run_data.held_out(args.split, model,  # read from disk batch by batch
                               labels_for="--umap" if args.umap else None)
    labels = images.labels if images.has_labels and not args.no_features else None
    train_images = train_labels = None
    if not args.no_pca or labels is not None:
        train_images = run_data.split("train")
        train_labels = train_images.labels if labels is not None else None
    verbose = 0 if args.json or args.quiet else 1
    results = {"model": str(model_path), "dataset": dataset, "split": images.name,
               **evaluate_model(model, images, train_images=train_images,
                                nll_samples=args.nll_samples or 100, labels=labels,
                                train_labels=train_labels, labels_per_class=args.labels_per_class,
                                fine_tune_epochs=args.fine_tune_epochs, seed=args.seed,
                                pca=not args.no_pca, manifold="umap" if args.umap else None,
                                verbose=verbose)}
    if report is not None:
        pictured = images.images(limit=FEATURE_IMAGES)
        write_report(report, results, report_figures(
            model, pictured, None if labels is None else labels[:len(pictured)]),
            overwrite=args.overwrite)
        results["report"] = str(report)
    if args.json:
        print_result(json.dumps(results))
        return 0
    images_read = plural(results["images"], "image")
    print_result(f"{model_path} on {dataset} [{images.name}], {images_read}\n")
    print_result(format_tables(results))
    if report is not None:
        print_result(f"\nreport written to {report}")
    return 0
