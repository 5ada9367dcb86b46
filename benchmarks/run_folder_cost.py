"""What the run folder costs keras_ae's training, epoch by epoch, on real digits.

    python benchmarks/run_folder_cost.py --data-dir ../shared/data [--model seed] [--rounds 2]

Trains the preset for 10 epochs with and without a run folder, alternating, in one process, and
prints per run: the seconds before the first epoch, the median epoch after the first (tracing and
compilation), and the seconds after the last epoch (the run folder's final writes); then the
differences, with a run folder minus without.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import keras

from keras_ae.presets import preset_config
from keras_ae.train import train


class EpochTimes(keras.callbacks.Callback):
    """When training began and when each epoch ended."""

    def on_train_begin(self, logs=None):
        self.marks = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.marks.append(time.perf_counter())


def one_run(config, run_dir: Path | None) -> tuple[float, float, float]:
    """(seconds before the first epoch, median later epoch, seconds after the last epoch)."""
    clock = EpochTimes()
    start = time.perf_counter()
    train(config, run_dir, verbose=0, callbacks=[clock])
    end = time.perf_counter()
    epochs = [b - a for a, b in zip(clock.marks, clock.marks[1:])]
    return clock.marks[0] - start, statistics.median(epochs[1:]), end - clock.marks[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--model", default="seed")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = preset_config(args.model, dataset=args.dataset, data_dir=args.data_dir, epochs=10,
                           seed=0)
    train(config, None, verbose=0)  # warm-up: data files, imports
    runs = {"with": [], "without": []}
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        for _ in range(args.rounds):
            shutil.rmtree(run_dir, ignore_errors=True)
            runs["with"].append(one_run(config, run_dir))
            runs["without"].append(one_run(config, None))
    print(f"{args.model}, 10 epochs, {args.rounds} runs each (medians)\n")
    print("| run folder | before the first epoch | an epoch after the first | after the last epoch |")
    print("|---|---|---|---|")
    medians = {key: [statistics.median(r[i] for r in value) for i in range(3)]
               for key, value in runs.items()}
    for key, (before, epoch, after) in medians.items():
        print(f"| {key} | {before:.3f} s | {epoch * 1000:.0f} ms | {after:.3f} s |")
    before, epoch, after = (a - b for a, b in zip(medians["with"], medians["without"]))
    print(f"| difference | {before:+.3f} s | {epoch * 1000:+.0f} ms | {after:+.3f} s |")


if __name__ == "__main__":
    main()
