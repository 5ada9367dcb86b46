"""Memory and input speed of training on folders of images: 2,000 against 20,000 64x64 RGB PNGs.

    python benchmarks/data_scale.py --data-dir ../shared/data

Builds four folders in a temporary directory (deleted afterwards) from real Fashion-MNIST
training images, upscaled from 28x28 to 64x64 (bilinear) with the gray repeated into three
channels, one PNG file each: 2,000 and 20,000 images, each in ten class subfolders and flat (the
same files, hard-linked, in one folder). It prints the CPU (model, cores and flags), then
measures:

1. the memory of ``keras-ae train --model conv --dataset FOLDER --epochs 1`` on each folder
   (one full epoch, the default seed, so with TensorFlow's op determinism as a user gets it):
   the resident memory sampled every 50 ms (/proc/PID/status), its peak during training
   (until the epoch's last progress line, validation included) and after it (the end of
   training: projector, best checkpoint, model.keras, the summary), and the peak of the whole
   process (ru_maxrss, from os.wait4), which no sample can miss;
2. the images per second the input pipeline alone delivers: one epoch of the training
   pipeline of the 20,000-image folder (`keras_ae.data.training_data`), read from disk and
   decoded, with no model;
3. the images per second the conv preset consumes at 64x64x3: ``model.fit`` on one in-memory
   batch repeated (so no input cost), timed after a warm-up.

Targets: for flat and class-subfolder folders alike, peak memory on 20,000 images within +150 MB
of that on 2,000, after training included; the pipeline at least 5x faster than the model
consumes images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from keras_ae.utils.machine import cpu_description

SIZES = (2_000, 20_000)
LAYOUTS = ("class subfolders", "flat")
SIDE = 64
TARGET_MB = 150


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """One 64x64 RGB PNG per image, in class subfolders."""
    for label in np.unique(labels):
        (root / f"class_{label}").mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        big = Image.fromarray(image[..., 0]).resize((SIDE, SIDE), Image.BILINEAR).convert("RGB")
        big.save(root / f"class_{label}" / f"{i:05d}.png")


def flat_copy(classes: Path, flat: Path) -> None:
    """The PNG files of a class-subfolder folder in one folder (hard links where possible)."""
    flat.mkdir(parents=True)
    for path in sorted(classes.glob("*/*.png")):
        try:
            os.link(path, flat / path.name)
        except OSError:
            shutil.copyfile(path, flat / path.name)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    return None


def train_memory(folder: Path, run_dir: Path) -> dict[str, float]:
    """Memory (MB) and seconds of `keras-ae train --model conv` for one epoch on `folder`:
    peak RSS sampled during the epoch and after it, and the process's peak (ru_maxrss)."""
    command = [sys.executable, "-m", "keras_ae.cli", "train", "--model", "conv", "--dataset",
               str(folder), "--epochs", "1", "--output", str(run_dir)]
    start = time.perf_counter()
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
    epoch_end = []  # when the progress bar shows the epoch's validation loss

    def watch_progress():
        seen = b""
        for chunk in iter(lambda: process.stdout.read1(4096), b""):
            seen = (seen + chunk)[-4096:]
            if not epoch_end and b"val_loss" in seen:
                epoch_end.append(time.perf_counter())

    watcher = threading.Thread(target=watch_progress, daemon=True)
    watcher.start()
    samples = []
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        rss = _rss_mb(process.pid)
        if rss is not None:
            samples.append((time.perf_counter(), rss))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped by os.wait4
    watcher.join(5)
    if process.returncode != 0 or not epoch_end:
        errors.seek(0)
        raise SystemExit(f"training failed:\n{errors.read().decode()[-2000:]}")
    errors.close()
    return {"during": max((r for t, r in samples if t <= epoch_end[0]), default=0.0),
            "after": max((r for t, r in samples if t > epoch_end[0]), default=0.0),
            "peak": usage.ru_maxrss / 1024,  # ru_maxrss is in KiB on Linux
            "seconds": seconds}


def pipeline_images_per_second(folder: Path) -> tuple[float, int]:
    """Images per second of one training epoch of the input pipeline alone (no model)."""
    import tensorflow as tf

    from keras_ae import data
    from keras_ae.models.presets import preset_config

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

    from keras_ae.models.presets import build, compile_options, preset_config

    config = preset_config("conv")
    batch = config.batch_size  # the preset's own
    model = build(config, input_shape=(SIDE, SIDE, 3))
    model.compile(optimizer=model.optimizer, **compile_options(config))  # as train compiles it
    x = tf.random.stateless_uniform((batch, SIDE, SIDE, 3), seed=(0, 0))
    batches = tf.data.Dataset.from_tensors((x, x)).repeat()
    model.fit(batches, steps_per_epoch=5, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data",
                        help="folder holding fashion-mnist/ IDX files")
    parser.add_argument("--model-steps", type=int, default=40, help="timed training steps")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    from keras_ae import data

    images, labels = data.load_arrays("fashion_mnist", "train", data_dir=args.data_dir)
    scratch = Path(tempfile.mkdtemp(prefix="keras_ae_data_scale_"))
    try:
        folders = {}
        for count in SIZES:
            start = time.perf_counter()
            classes = folders[LAYOUTS[0], count] = scratch / f"fashion_{count}"
            write_folder(classes, images[:count], labels[:count])
            flat_copy(classes, scratch / f"fashion_{count}_flat")
            folders[LAYOUTS[1], count] = scratch / f"fashion_{count}_flat"
            print(f"wrote {count} PNG files of {SIDE}x{SIDE}x3 in {time.perf_counter() - start:.0f} s",
                  flush=True)

        memory = {}
        for layout in LAYOUTS:
            for count in SIZES:
                m = memory[layout, count] = train_memory(folders[layout, count],
                                                         scratch / f"run_{count}_{layout[:4]}")
                print(f"keras-ae train --model conv --epochs 1 on {count} images ({layout}): "
                      f"peak RSS {m['during']:.0f} MB during training, {m['after']:.0f} MB after "
                      f"it, {m['peak']:.0f} MB for the process ({m['seconds']:.0f} s)", flush=True)

        pipeline, seen = pipeline_images_per_second(folders[LAYOUTS[0], SIZES[1]])
        print(f"input pipeline alone: {pipeline:.0f} images/s ({seen} images, one epoch)", flush=True)
        model = model_images_per_second(args.model_steps)
        print(f"conv preset training at {SIDE}x{SIDE}x3: {model:.0f} images/s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    ratio = pipeline / model
    print()
    print("| measure (`keras-ae train --model conv --epochs 1`) | 2,000 images | 20,000 images "
          "| target |")
    print("|---|---|---|---|")
    for layout in LAYOUTS:
        for key, what in (("during", "during training"), ("after", "after training"),
                          ("peak", "of the process (ru_maxrss)")):
            small, large = memory[layout, SIZES[0]][key], memory[layout, SIZES[1]][key]
            growth = large - small
            target = "" if key == "during" else (
                f"+{TARGET_MB} MB at most: {'met' if growth <= TARGET_MB else 'MISSED'}")
            print(f"| peak RSS {what}, {layout} | {small:.0f} MB | {large:.0f} MB "
                  f"({growth:+.0f} MB) | {target} |")
    print(f"| input pipeline alone / conv training, images/s | - | {pipeline:.0f} / {model:.0f} "
          f"= {ratio:.1f}x | 5x at least: {'met' if ratio >= 5 else 'MISSED'} |")


if __name__ == "__main__":
    main()
