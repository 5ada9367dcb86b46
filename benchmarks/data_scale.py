"""Memory and input speed of training on folders of images: 2,000 against 20,000 64x64 RGB PNGs.

    python benchmarks/data_scale.py --data-dir ../shared/data

Builds two folders in a temporary directory (deleted afterwards) from real Fashion-MNIST training
images, upscaled from 28x28 to 64x64 (bilinear) with the gray repeated into three channels, one
PNG file each in ten class subfolders. Then it measures:

1. the peak resident memory (ru_maxrss of the process, from os.wait4) of
   ``keras-ae train --model conv --dataset FOLDER --epochs 1`` on each folder (one full epoch,
   the default seed, so with TensorFlow's op determinism as a user gets it);
2. the images per second the input pipeline alone delivers: one epoch of the training
   pipeline of the 20,000-image folder (`keras_ae.data.training_data`), read from disk and
   decoded, with no model;
3. the images per second the conv preset consumes at 64x64x3: ``model.fit`` on one in-memory
   batch repeated (so no input cost), timed after a warm-up.

Targets: peak memory on 20,000 images within +150 MB of that on 2,000; the pipeline at least 5x
faster than the model consumes images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZES = (2_000, 20_000)
SIDE = 64
BATCH = 128  # the conv preset's batch size


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """One 64x64 RGB PNG per image, in class subfolders."""
    for label in np.unique(labels):
        (root / f"class_{label}").mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        big = Image.fromarray(image[..., 0]).resize((SIDE, SIDE), Image.BILINEAR).convert("RGB")
        big.save(root / f"class_{label}" / f"{i:05d}.png")


def peak_rss_mb(folder: Path, run_dir: Path) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of `keras-ae train --model conv` for one epoch on `folder`."""
    command = [sys.executable, "-m", "keras_ae.cli", "train", "--model", "conv", "--dataset",
               str(folder), "--epochs", "1", "--output", str(run_dir), "--quiet"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"training failed:\n{stderr.decode()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def pipeline_images_per_second(folder: Path) -> tuple[float, int]:
    """Images per second of one training epoch of the input pipeline alone (no model)."""
    import tensorflow as tf

    from keras_ae import data
    from keras_ae.presets import preset_config

    tf.config.experimental.enable_op_determinism()  # as `train` runs with a seed
    config = preset_config("conv", dataset=str(folder), epochs=1)
    start = time.perf_counter()
    inputs = data.training_data(config)
    count = 0
    for x in inputs.train:
        count += int(x.shape[0])
    return count / (time.perf_counter() - start), count


def model_images_per_second(steps: int) -> float:
    """Images per second the conv preset trains on at 64x64x3, inputs already in memory."""
    import tensorflow as tf

    from keras_ae.presets import build

    model = build("conv", input_shape=(SIDE, SIDE, 3))
    x = tf.random.stateless_uniform((BATCH, SIDE, SIDE, 3), seed=(0, 0))
    batches = tf.data.Dataset.from_tensors((x, x)).repeat()
    model.fit(batches, steps_per_epoch=5, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data",
                        help="folder holding fashion-mnist/ IDX files")
    parser.add_argument("--model-steps", type=int, default=40, help="timed training steps")
    args = parser.parse_args()

    from keras_ae import data

    images, labels = data.load_arrays("fashion_mnist", "train", data_dir=args.data_dir)
    scratch = Path(tempfile.mkdtemp(prefix="keras_ae_data_scale_"))
    try:
        folders = {}
        for count in SIZES:
            start = time.perf_counter()
            folders[count] = scratch / f"fashion_{count}"
            write_folder(folders[count], images[:count], labels[:count])
            print(f"wrote {count} PNG files of {SIDE}x{SIDE}x3 in {time.perf_counter() - start:.0f} s",
                  flush=True)

        rss = {}
        for count in SIZES:
            rss[count], seconds = peak_rss_mb(folders[count], scratch / f"run_{count}")
            print(f"keras-ae train --model conv --epochs 1 on {count} images: peak RSS "
                  f"{rss[count]:.0f} MB ({seconds:.0f} s)", flush=True)
        growth = rss[SIZES[1]] - rss[SIZES[0]]

        pipeline, seen = pipeline_images_per_second(folders[SIZES[1]])
        print(f"input pipeline alone: {pipeline:.0f} images/s ({seen} images, one epoch)", flush=True)
        model = model_images_per_second(args.model_steps)
        print(f"conv preset training at {SIDE}x{SIDE}x3: {model:.0f} images/s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    ratio = pipeline / model
    print()
    print("| measure | 2,000 images | 20,000 images | target |")
    print("|---|---|---|---|")
    print(f"| peak RSS of `keras-ae train --model conv --epochs 1` | {rss[SIZES[0]]:.0f} MB "
          f"| {rss[SIZES[1]]:.0f} MB (+{growth:.0f} MB) | +150 MB at most: "
          f"{'met' if growth <= 150 else 'MISSED'} |")
    print(f"| input pipeline alone / conv training, images/s | - | {pipeline:.0f} / {model:.0f} "
          f"= {ratio:.1f}x | 5x at least: {'met' if ratio >= 5 else 'MISSED'} |")


if __name__ == "__main__":
    main()
