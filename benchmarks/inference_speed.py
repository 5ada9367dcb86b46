"""Inference speed of every way to run a model: Keras, the SavedModel signature and TFLite.

    python benchmarks/inference_speed.py [--models seed conv conv_vae] [--repeats 200]

For each preset (weights as built: speed does not depend on them) it times the `reconstruct`
computation as Keras `predict`, the Keras model called as a `tf.function`, the exported
SavedModel's signature and the float32 TFLite file in the LiteRT interpreter (XNNPACK, one and
all cores), all in one process, each measured alternately. It prints the median batch-1 latency
and the batch-256 throughput, each with its ratio to Keras `predict`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import keras_ae
from keras_ae.serving.export import export_saved_model, export_tflite
from keras_ae.serving.predict import load_exported
from keras_ae.utils.machine import cpu_description


def runners(model, folder: Path) -> dict:
    """name -> function(images) -> reconstructions, for each way of running `model`."""
    saved = load_exported(export_saved_model(model, folder / "saved"))
    tflite_path = export_tflite(model, folder / "model.tflite")
    tflite_one = load_exported(tflite_path, num_threads=1)
    tflite_all = load_exported(tflite_path, num_threads=os.cpu_count())
    function = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return {
        "Keras predict": lambda x: model.predict(x, batch_size=256, verbose=0),
        "Keras tf.function": lambda x: function(x).numpy(),
        "SavedModel signature": lambda x: saved.run("reconstruct", image=x)["image"],
        "TFLite, 1 thread": lambda x: tflite_one.run("reconstruct", image=x)["image"],
        f"TFLite, {os.cpu_count()} threads": lambda x: tflite_all.run("reconstruct", image=x)["image"],
    }


def measure(functions: dict, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function on `x`, calls interleaved across functions."""
    for function in functions.values():  # warm-up: tracing, allocation
        function(x)
        function(x)
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function(x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["seed", "conv", "conv_vae"])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    rng = np.random.default_rng(0)
    print("| model | path | batch-1 latency | × Keras predict | batch-256 images/s | × Keras predict |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        model = keras_ae.build(name)
        images = rng.random((256, *model.image_shape)).astype("float32")
        with tempfile.TemporaryDirectory() as folder:
            functions = runners(model, Path(folder))
            one = measure(functions, images[:1], args.repeats)
            many = measure(functions, images, max(10, args.repeats // 20))
        for path in functions:
            print(f"| {name} | {path} | {one[path] * 1e3:.3f} ms | {one['Keras predict'] / one[path]:.1f}x "
                  f"| {256 / many[path]:,.0f} | {many['Keras predict'] / many[path]:.1f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
