"""What the run folder costs keras_ae's training, epoch by epoch, on real digits.

    python benchmarks/run_folder_cost.py --data-dir ../shared/data [--model seed] [--epochs N]
        [--rounds 9]

Trains the preset (for its default epochs, as `keras-ae train` does, unless --epochs is given)
with and without a run folder, alternating, in one process, and
prints the medians over the rounds of: the whole `train` call, the seconds before the first
epoch, the first epoch (tracing and compilation, and the run folder's first writes), the median
epoch after the first, and the seconds after the last epoch (the run folder's final writes);
then the median of each round's difference, with a run folder minus without (each round
trains both ways back to back), and those differences as shares of the run and of an epoch
without a run folder.
"""

from __future__ import annotations

import argparse
import gc
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


PARTS = ("whole run", "before the first epoch", "first epoch", "an epoch after the first",
         "after the last epoch")


def one_run(config, run_dir: Path | None) -> tuple[float, ...]:
    """The seconds of each of PARTS in one `train` call."""
    clock = EpochTimes()
    gc.collect()  # the earlier runs' garbage is not collected during this one
    start = time.perf_counter()
    train(config, run_dir, verbose=0, callbacks=[clock])
    end = time.perf_counter()
    epochs = [b - a for a, b in zip(clock.marks, clock.marks[1:])]
    return (end - start, clock.marks[0] - start, epochs[0], statistics.median(epochs[1:]),
            end - clock.marks[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--model", default="seed")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the preset's)")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    options = {} if args.epochs is None else {"epochs": args.epochs}
    config = preset_config(args.model, dataset=args.dataset, data_dir=args.data_dir, seed=0,
                           **options)
    train(config, None, verbose=0)  # warm-up: data files, imports
    runs = {"with": [], "without": []}
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        for _ in range(args.rounds):
            shutil.rmtree(run_dir, ignore_errors=True)
            runs["with"].append(one_run(config, run_dir))
            runs["without"].append(one_run(config, None))
    print(f"{args.model}, {config.epochs} epochs, {args.rounds} runs each way (medians)\n")
    print(f"| run folder | {' | '.join(PARTS)} |")
    print("|---" * (len(PARTS) + 1) + "|")
    for key, value in runs.items():
        parts = [statistics.median(r[i] for r in value) for i in range(len(PARTS))]
        print(f"| {key} | {' | '.join(f'{part:.3f} s' for part in parts)} |")
    # each round ran both ways back to back: the median of its differences drifts least
    difference = [statistics.median(a[i] - b[i] for a, b in zip(runs["with"], runs["without"]))
                  for i in range(len(PARTS))]
    print(f"| difference (median of the rounds') | "
          f"{' | '.join(f'{part:+.3f} s' for part in difference)} |")
    without = statistics.median(r[0] for r in runs["without"])
    epoch = statistics.median(r[3] for r in runs["without"])
    print(f"\nthe run folder's share: {difference[0] / without:+.1%} of the whole run without one, "
          f"{difference[3] / epoch:+.1%} of an epoch after the first")


if __name__ == "__main__":
    main()
