"""What export costs: file sizes, parity, held-out quality and latency of each export format.

    python benchmarks/export.py --data-dir ../shared/data --epochs 5

Trains seed, conv and conv_vae on real digits (MNIST's train/validation split as keras_ae.data
carves it: from a folder holding only the 10k test digits, 9k train and 1k held out), exports each as a SavedModel and as TFLite in every quantisation, and
prints a markdown table: size on disk, max abs difference from the Keras model (for
`reconstruct`, and over all signatures), held-out reconstruction MSE and its change vs TFLite float32, and batch-1
`reconstruct` latency (median) of the LiteRT interpreter vs the Keras model called as a
`tf.function`, with their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_ae  # noqa: E402
from keras_ae import data  # noqa: E402
from keras_ae.serving.export import export_saved_model, export_tflite  # noqa: E402
from keras_ae.serving.predict import load_exported, parity  # noqa: E402
from keras_ae.utils.machine import cpu_description  # noqa: E402

MODELS = ("seed", "conv", "conv_vae")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def median_ms(fn, runs: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def size_text(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.2f} MiB"


def ratio_text(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data",
                        help="folder holding the MNIST IDX files (directly or in mnist/)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=300, help="timed batch-1 calls per format")
    parser.add_argument("--only", nargs="*", choices=MODELS, help="models to run (default: all)")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    train_x, held_out = (
        data.as_float_images(data.load_arrays("mnist", split, data_dir=args.data_dir)[0])
        for split in ("train", "validation"))
    one = held_out[:1]
    print(f"MNIST digits: {len(train_x)} train / {len(held_out)} held out, {args.epochs} epochs, "
          f"batch-1 latency = median of {args.runs} `reconstruct` calls\n")
    print("| model | format | size | max abs diff: reconstruct | max abs diff: all signatures "
          "| held-out MSE | MSE vs float32 | batch-1 latency | Keras tf.function / this |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.only or MODELS:
        model = keras_ae.build(name)
        start = time.perf_counter()
        model.fit(train_x, epochs=args.epochs, batch_size=128, verbose=0)
        print(f"{name}: trained in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

        serve = tf.function(lambda x: model(x, training=False))
        one_tensor = tf.constant(one)
        keras_ms = median_ms(lambda: serve(one_tensor).numpy(), args.runs)
        keras_mse = float(np.mean((np.asarray(model.predict(held_out, batch_size=500, verbose=0))
                                   - held_out) ** 2))
        with tempfile.TemporaryDirectory() as tmp:
            saved = export_saved_model(model, Path(tmp) / "saved_model")
            diffs = parity(model, saved, held_out[:256])
            rows = [("Keras / SavedModel", dir_size(saved), diffs, keras_mse, keras_ms)]
            for quantize in QUANTIZATIONS:
                path = export_tflite(saved, Path(tmp) / f"{quantize}.tflite", quantize=quantize,
                                     representative_data=train_x if quantize == "int8" else None)
                diffs = parity(model, path, held_out[:256])
                exported = load_exported(path)
                x_hat = exported.run("reconstruct", image=held_out)["image"]
                mse = float(np.mean((x_hat - held_out) ** 2))
                ms = median_ms(lambda: exported.run("reconstruct", image=one), args.runs)
                label = "TFLite float32" if quantize == "none" else f"TFLite {quantize}"
                rows.append((label, path.stat().st_size, diffs, mse, ms))
        float32_mse = rows[1][3]
        for label, size, diffs, mse, ms in rows:
            change = 100 * (mse - float32_mse) / float32_mse
            print(f"| {name} | {label} | {size_text(size)} | {diffs['reconstruct']:.1e} "
                  f"| {max(diffs.values()):.1e} | {mse:.5f} | {change:+.2f}% | {ms:.3f} ms "
                  f"| {ratio_text(keras_ms / ms)} |", flush=True)


if __name__ == "__main__":
    main()
