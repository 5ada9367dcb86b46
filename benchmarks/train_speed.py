"""Training speed of keras_ae against the plain Keras a user would write, on real digits.

    python benchmarks/train_speed.py --data-dir ../shared/data [--epochs 10] [--rounds 2] [--knobs]
        [--no-jax]

It first prints the CPU it runs on (model, cores, flags). For each preset (seed, conv,
conv_plain, conv_vae) it trains, in this one process and alternating:
- plain Keras on TensorFlow: the same network as a functional model, `compile(Adam(1e-3),
  "mse")` and `fit(x, x, batch_size=128)` on NumPy arrays (for the VAE, the keras.io example's
  model class with its own `train_step`; benchmarks/plain_keras.py);
- keras_ae: `keras_ae.training.train.train(config, run_dir)`, what `keras-ae train` does, run folder
  included;
then the same plain Keras model and fit on the JAX backend, in a subprocess
(`KERAS_BACKEND=jax python benchmarks/plain_keras.py ...`, on the same float images), measured
the same way: skipped, with one note on stderr, where jax is not installed (`pip install -e
".[bench]"`) and for conv_vae, whose keras.io train_step is TensorFlow's.
Each path first trains 2 epochs once, uncounted (its first run in the process pays one-off costs
at its end too). Samples per second leave out the first epoch (tracing, XLA compilation); the
run folder's final writes count. Each path's peak RSS is sampled while it runs. Then the held-out MSE of both after
the same epochs, the wall time of the whole run (first epoch included: the time-to-quality pair
for `conv` against `conv_plain`, the same network trained the way plain Keras does), the ratio
of speeds (keras_ae / plain Keras on TensorFlow and on JAX), and the ceiling: numpy's float32 matrix products of the seed net's shapes alone
(forward and backward), as samples per second.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from keras_ae import data
from keras_ae.models.presets import compile_options, preset_config
from keras_ae.training import train as keras_ae_train
from keras_ae.training.train import train
from keras_ae.utils.machine import cpu_description
from plain_keras import (BATCH, PLAIN, TENSORFLOW_ONLY, EpochClock, PeakRSS,  # noqa: F401
                         held_out_mse, plain_conv, plain_seed, run_plain)

WORKER = Path(__file__).with_name("plain_keras.py")


UNGROUPED = "ungrouped"  # train() options of this benchmark alone: see `knob_patches`
CONVERTED = "converted"
STEPS_ALONE = "steps alone"


def knob_patches() -> dict:
    """For each train() option of this benchmark alone, the part of keras_ae's path it swaps
    (module, attribute) for the one the default is measured against:
    - UNGROUPED: batches one by one (Keras's own multi-step loop fetches each from the
      iterator) instead of in groups;
    - CONVERTED: pipelines that convert each batch to float32 and pair it with itself,
      ``(x, x)``, before the model gets it (as they did), instead of batches as read;
    - STEPS_ALONE: a training group's loop run in a TensorFlow graph, each step compiled with
      XLA alone (as it was), instead of the whole loop compiled with its steps."""
    from keras_ae.data import pipeline
    from keras_ae.models import base

    training_data = keras_ae_train.data.training_data
    grouped_function = base.grouped_function
    return {
        UNGROUPED: (keras_ae_train.data, "training_data", lambda *args, **kwargs: training_data(
            *args, **{**kwargs, "batch_group": 1})),
        CONVERTED: (pipeline, "_as_read", pipeline._clean_pairs),
        STEPS_ALONE: (base, "grouped_function",
                      lambda model, step, whole_loop=False: grouped_function(model, step)),
    }


def run_keras_ae(name, args, x, held_out, folder: Path | None, overrides=None, **train_options):
    config = preset_config(name, dataset=args.dataset, data_dir=args.data_dir,
                           **{"epochs": args.epochs, "seed": 0, **(overrides or {})})
    clock = EpochClock()
    run_dir = None if folder is None else folder / name
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.ExitStack() as patches:
        for option, (module, attribute, replacement) in knob_patches().items():
            if train_options.pop(option, False):
                patches.enter_context(mock.patch.object(module, attribute, replacement))
        rss = patches.enter_context(PeakRSS())
        start = time.perf_counter()
        result = train(config, run_dir, verbose=0, callbacks=[clock], **train_options)
        end = time.perf_counter()
    speed = (args.epochs - 1) * len(x) / (end - clock.started)
    return speed, held_out_mse(result.model, held_out), rss.peak, end - start


def default_label(name: str) -> str:
    """What keras_ae's path for preset `name` does by default, from the product's own settings
    (whatever machine chose or changes them)."""
    config, options = preset_config(name), compile_options(preset_config(name))
    every = inspect.signature(train).parameters["backup_every"].default
    precision = {False: "float32", True: "mixed precision"}.get(config.mixed_precision,
                                                              f"mixed precision {config.mixed_precision}")
    return (f"default: {'XLA' if options.get('jit_compile') else 'no XLA'}, {precision}, batch "
            f"{config.batch_size}, {options['steps_per_execution']} steps per call in groups, "
            f"backups every {every:g} s")


STEPS = compile_options(preset_config("seed"))["steps_per_execution"]

# Each knob: (preset, what is changed, config overrides, train() options, with a run folder).
# Op determinism stays on for the rest of the process once switched on, so it comes last.
KNOBS = [
    ("seed", default_label("seed"), {}, {}, True),
    ("seed", f"{STEPS} steps per call, batches fetched one by one (Keras's own loop)", {},
     {UNGROUPED: True}, True),
    ("seed", "batches converted to float (x, x) pairs in the pipeline", {}, {CONVERTED: True},
     True),
    ("seed", "each step compiled alone, a group's loop in a graph", {}, {STEPS_ALONE: True},
     True),
    ("seed", "no XLA (jit_compile=False)", {"jit_compile": False}, {}, True),
    ("seed", "1 step per call (steps_per_execution=1)", {"steps_per_execution": 1}, {}, True),
    ("seed", f"neither XLA nor {STEPS} steps per call",
     {"jit_compile": False, "steps_per_execution": 1}, {}, True),
    ("seed", "backup and best checkpoint every epoch (--backup-every 0)", {}, {"backup_every": 0},
     True),
    ("seed", "no run folder", {}, {}, False),
    ("conv", default_label("conv"), {}, {}, True),
    ("conv", "1 step per call (steps_per_execution=1)", {"steps_per_execution": 1}, {}, True),
    ("conv", "float32 (--mixed-precision off)", {"mixed_precision": False}, {}, True),
    ("conv", "mixed precision on (--mixed-precision on)", {"mixed_precision": True}, {}, True),
    ("conv", "batch 128", {"batch_size": 128}, {}, True),
    ("conv", "float32, batch 128 (= conv_plain)", {"mixed_precision": False, "batch_size": 128},
     {}, True),
    ("conv", "XLA (jit_compile=True)", {"jit_compile": True}, {}, True),
    ("seed", "op determinism (--deterministic)", {}, {"deterministic": True}, True),
]


def measure_knobs(args, x, held_out) -> None:
    """Each knob's effect on keras_ae's path, against its preset's default, in one process."""
    print("| preset | knob | samples/s | × the preset's default | held-out MSE |")
    print("|---|---|---|---|---|")
    default = {}
    with tempfile.TemporaryDirectory() as folder:
        knobs = [knob for knob in KNOBS if knob[0] in args.models]  # of the presets asked for
        for name in dict.fromkeys(knob[0] for knob in knobs):  # warm-up, not counted
            run_keras_ae(name, args, x, held_out, Path(folder), {"epochs": 2})
        for name, label, overrides, options, with_folder in knobs:
            runs = [run_keras_ae(name, args, x, held_out, Path(folder) if with_folder else None,
                                 overrides, **options) for _ in range(args.rounds)]
            speed = statistics.median(r[0] for r in runs)
            default.setdefault(name, speed)
            print(f"| {name} | {label} | {speed:,.0f} | {speed / default[name]:.2f} "
                  f"| {runs[-1][1]:.5f} |", flush=True)


def matmul_ceiling(repeats: int = 200) -> float:
    """Samples per second of the seed net's float32 matrix products alone (numpy): for each
    layer, the forward product and the two backward ones, on a batch of 128."""
    rng = np.random.default_rng(0)
    sizes = [784, 128, 64, 32, 64, 128, 784]
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    activations = [rng.standard_normal((BATCH, a), dtype=np.float32) for a in sizes]
    grads = [rng.standard_normal((BATCH, b), dtype=np.float32) for b in sizes[1:]]

    def step():
        for a, w, g in zip(activations, weights, grads):
            a @ w
            g @ w.T
            a.T @ g

    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return repeats * BATCH / (time.perf_counter() - start)


def jax_note() -> str | None:
    """Why there are no JAX rows, or None."""
    if importlib.util.find_spec("jax") is None:
        return 'no JAX rows: jax is not installed (pip install -e ".[bench]")'
    return None


def run_plain_jax(name: str, arrays: Path, args) -> list[tuple] | str:
    """The plain Keras runs of preset `name` on the JAX backend, in a worker process (a 2-epoch
    warm-up, then `args.rounds` counted runs), as run_plain's tuples; or why there are none."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(WORKER), "--arrays", str(arrays), "--model", name,
                           "--epochs", str(args.epochs), "--rounds", str(args.rounds)],
                          env=env, capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not rows or any(row["backend"] != "jax" for row in rows):
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"{name}: no JAX row ({reason})"
    return [(row["speed"], row["mse"], row["rss"], row["wall"]) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per preset")
    parser.add_argument("--models", nargs="+", default=["seed", "conv", "conv_plain", "conv_vae"])
    parser.add_argument("--knobs", action="store_true",
                        help="measure each knob of keras_ae's path instead (see KNOBS)")
    parser.add_argument("--no-jax", action="store_true", help="leave out the JAX rows")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    x, _ = data.load_arrays(args.dataset, "train", data_dir=args.data_dir)
    held_out, _ = data.load_arrays(args.dataset, "validation", data_dir=args.data_dir)
    floats, held_floats = data.as_float_images(x), data.as_float_images(held_out)
    print(f"{args.dataset}: {len(x)} train / {len(held_out)} held-out images, {args.epochs} "
          f"epochs, batch {BATCH} for plain Keras, {args.rounds} alternating rounds\n")
    if args.knobs:
        measure_knobs(args, x, held_floats)
        return
    note = "no JAX rows: --no-jax" if args.no_jax else jax_note()
    if note is not None and not args.no_jax:
        print(note, file=sys.stderr, flush=True)
    print("| preset | path | samples/s | × plain Keras on TensorFlow | held-out MSE | wall time "
          "| peak RSS |")
    print("|---|---|---|---|---|---|---|")
    ratios = {}
    with tempfile.TemporaryDirectory() as folder:
        arrays = Path(folder) / "arrays.npz"  # what the JAX worker trains on: the same floats
        if note is None:
            np.savez(arrays, train=floats, held_out=held_floats)
        for name in args.models:
            plain, ours = [], []
            # warm-up, not counted: each path's first run in the process also pays one-off
            # costs at its end (imports, Keras's first saves)
            run_plain(name, floats, held_floats, 2)
            run_keras_ae(name, args, x, held_floats, Path(folder), {"epochs": 2})
            for round_ in range(args.rounds):
                order = ("plain", "ours") if round_ % 2 == 0 else ("ours", "plain")
                for path in order:
                    if path == "plain":
                        plain.append(run_plain(name, floats, held_floats, args.epochs))
                    else:
                        ours.append(run_keras_ae(name, args, x, held_floats, Path(folder)))
            paths = [("plain Keras fit(numpy), TensorFlow", plain, "plain"),
                     ("keras_ae train (run folder)", ours, "ours")]
            if note is None and name in TENSORFLOW_ONLY:
                print(f"{name}: no JAX row (the keras.io example's train_step is TensorFlow's)",
                      file=sys.stderr, flush=True)
            elif note is None:
                jax = run_plain_jax(name, arrays, args)
                if isinstance(jax, str):
                    print(jax, file=sys.stderr, flush=True)
                else:
                    paths.insert(1, ("plain Keras fit(numpy), JAX", jax, "jax"))
            speed = {key: statistics.median(r[0] for r in results) for _, results, key in paths}
            for label, results, key in paths:
                print(f"| {name} | {label} | {speed[key]:,.0f} | {speed[key] / speed['plain']:.2f} "
                      f"| {results[-1][1]:.5f} | {statistics.median(r[3] for r in results):.1f} s "
                      f"| {max(r[2] for r in results) / 2**20:,.0f} MB |",
                      flush=True)
            ratios[name] = (speed["ours"] / speed["plain"],
                            speed["ours"] / speed["jax"] if "jax" in speed else None)
    print("\n| preset | keras_ae / plain Keras on TensorFlow | keras_ae / plain Keras on JAX |")
    print("|---|---|---|")
    for name, (tf_ratio, jax_ratio) in ratios.items():
        print(f"| {name} | {tf_ratio:.2f} | {'-' if jax_ratio is None else f'{jax_ratio:.2f}'} |")
    print(f"\nceiling: numpy float32 matrix products of the seed net's shapes alone, "
          f"{matmul_ceiling():,.0f} samples/s")


if __name__ == "__main__":
    main()
