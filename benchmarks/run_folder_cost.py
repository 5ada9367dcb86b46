"""What the run folder costs keras_ae's training, epoch by epoch, on real digits.

    python benchmarks/run_folder_cost.py --data-dir ../shared/data [--model seed] [--epochs N]
        [--rounds 9] [--hook-rounds 3]

Prints the CPU it runs on, then trains the preset (for its default epochs, as `keras-ae train` does, unless --epochs is given)
with and without a run folder, alternating, in one process, and
prints the medians over the rounds of: the whole `train` call, the seconds before the first
epoch, the first epoch (tracing and compilation, and the run folder's first writes), the median
epoch after the first, and the seconds after the last epoch (the run folder's final writes);
then the median of each round's difference, with a run folder minus without (each round
trains both ways back to back, in turn with the run folder first and second, so that neither
order is favoured), and those differences as shares of the run and of an epoch
without a run folder (target: under 5 % of an epoch). Last, where the run folder's time goes,
from `--hook-rounds` more runs with one, apart so that timing costs the rounds nothing: the
milliseconds spent in each of its callbacks' hooks (medians), in the first epoch (training's
beginning included), in each later epoch and at the end of training, with their writes (the
best checkpoint's and the backup's Keras saves, history.csv) apart. It times the public
methods of the public callback classes a run folder is written by (wrapped on the classes, so
whatever instances `train` makes), nothing private.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gc
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import keras

from keras_ae.models.presets import preset_config
from keras_ae.training.callbacks import AtomicBestCheckpoint, AtomicCSVLogger, TimedBackup
from keras_ae.training.tensorboard import EpochTensorBoard, HeldOutPictures
from keras_ae.training.train import train
from keras_ae.utils.machine import cpu_description


class EpochTimes(keras.callbacks.Callback):
    """When training began and when each epoch ended; the epoch running."""

    def on_train_begin(self, logs=None):
        self.marks, self.epoch = [time.perf_counter()], 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.marks.append(time.perf_counter())


HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
         "on_test_begin", "on_test_end", "on_epoch_end", "on_train_end")
RUN_FOLDER = (AtomicBestCheckpoint, AtomicCSVLogger, TimedBackup, EpochTensorBoard, HeldOutPictures)
"""The public callback classes whose instances write a run folder (keras_ae.training)."""
PARTS_OF = {TimedBackup: {"epoch_trained": ("the epoch's end marked (as the first callbacks "
                                            "end it)", False),
                          "write": ("its writes (the records, then the backup)", True)},
            AtomicBestCheckpoint: {"write": ("the best checkpoint (a Keras .keras save)", True)},
            AtomicCSVLogger: {"write": ("history.csv", True)}}
"""Public methods timed apart, by class: (label, whether it runs inside the hooks above, so
that its time is a part of theirs; `epoch_trained` is called by another callback's hook)."""
PHASES = ("first", "later", "end")


class HookClock:
    """Seconds spent in the hooks of the run folder's callbacks during one run, by callback and
    phase: "first" (training's beginning and the first epoch), "later" (the other epochs) and
    "end" (`on_train_end`); each method of PARTS_OF also under its own name. It wraps the
    classes' public methods (`timing`), whatever instances `train` makes of them."""

    def __init__(self, epochs: EpochTimes):
        self.epochs, self.ending = epochs, False
        self.spent: dict[tuple[str, str], float] = collections.defaultdict(float)

    def _timed(self, name: str, method, end: bool):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            start, self.ending = time.perf_counter(), self.ending or end
            try:
                return method(*args, **kwargs)
            finally:
                phase = "end" if self.ending else "first" if self.epochs.epoch == 0 else "later"
                self.spent[name, phase] += time.perf_counter() - start
                self.ending = self.ending and not end
        return timed

    @contextlib.contextmanager
    def timing(self):
        """While active, every run-folder callback's hooks (and PARTS_OF) are timed."""
        with contextlib.ExitStack() as patches:
            for kind in RUN_FOLDER:
                for hook in HOOKS:
                    patches.enter_context(mock.patch.object(
                        kind, hook, self._timed(kind.__name__, getattr(kind, hook),
                                                hook == "on_train_end")))
                for method, (label, _) in PARTS_OF.get(kind, {}).items():
                    patches.enter_context(mock.patch.object(
                        kind, method, self._timed(f"{kind.__name__}: {label}",
                                                  getattr(kind, method), False)))
            yield


PARTS = ("whole run", "before the first epoch", "first epoch", "an epoch after the first",
         "after the last epoch")


def one_run(config, run_dir: Path | None, hooks: list[HookClock] | None) -> tuple[float, ...]:
    """The seconds of each of PARTS in one `train` call (with `hooks`, the run folder's
    callbacks are timed too, appended to it)."""
    clock = EpochTimes()
    hook_clock = HookClock(clock)
    timed = hook_clock.timing() if hooks is not None else contextlib.nullcontext()
    gc.collect()  # the earlier runs' garbage is not collected during this one
    with timed:
        start = time.perf_counter()
        train(config, run_dir, verbose=0, callbacks=[clock])
        end = time.perf_counter()
    if hooks is not None:
        hooks.append(hook_clock)
        return ()
    epochs = [b - a for a, b in zip(clock.marks, clock.marks[1:])]
    return (end - start, clock.marks[0] - start, epochs[0], statistics.median(epochs[1:]),
            end - clock.marks[-1])


def print_hook_times(hooks: list[HookClock], epochs: int) -> float:
    """Per callback (and part), the median over runs of its milliseconds in each phase; returns
    the median over runs of the seconds in all the hooks."""
    print(f"\nwhere the run folder's time goes (ms in each callback's hooks, medians over "
          f"{len(hooks)} more runs with one, its callbacks' methods timed):\n")
    print("| callback | first epoch (and training's beginning) | each later epoch | end of training |")
    print("|---|---|---|---|")
    nested = {f"{kind.__name__}: {label}" for kind, parts in PARTS_OF.items()
              for label, inside in parts.values() if inside}
    names = list(dict.fromkeys(name for clock in hooks for name, _ in clock.spent))
    for name in names:
        cells = [statistics.median(clock.spent[name, phase] for clock in hooks) * 1000
                 for phase in PHASES]
        cells[1] /= max(1, epochs - 1)
        label = name.replace(": ", "'s, of which ", 1) if name in nested else name
        print(f"| {label} | {' | '.join(f'{cell:.1f}' for cell in cells)} |")
    per_run = [sum(t for (name, _), t in clock.spent.items() if name not in nested)
               for clock in hooks]
    return statistics.median(per_run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--model", default="seed")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the preset's)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--hook-rounds", type=int, default=3,
                        help="runs with a run folder whose callbacks are timed, after the rounds")
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    options = {} if args.epochs is None else {"epochs": args.epochs}
    config = preset_config(args.model, dataset=args.dataset, data_dir=args.data_dir, seed=0,
                           **options)
    train(config, None, verbose=0)  # warm-up: data files, imports
    runs: dict[str, list] = {"with": [], "without": []}
    hooks: list[HookClock] = []
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        for round_ in range(args.rounds):  # with, without; then without, with; ...
            for key in ("with", "without")[::1 if round_ % 2 == 0 else -1]:
                shutil.rmtree(run_dir, ignore_errors=True)
                runs[key].append(one_run(config, run_dir if key == "with" else None, None))
        for _ in range(args.hook_rounds):  # apart, so that timing them costs the rounds nothing
            shutil.rmtree(run_dir, ignore_errors=True)
            one_run(config, run_dir, hooks)
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
    share = difference[3] / epoch
    print(f"\nthe run folder's share: {difference[0] / without:+.1%} of the whole run without one, "
          f"{share:+.1%} of an epoch after the first ({difference[3] * 1000:+.1f} ms; target: "
          f"under 5 %, {'met' if share < 0.05 else 'MISSED'})")
    in_hooks = print_hook_times(hooks, config.epochs)
    print(f"\nall the hooks: {in_hooks * 1000:.0f} ms a run (median), {in_hooks / without:.1%} of "
          "the whole run without a run folder")


if __name__ == "__main__":
    main()
