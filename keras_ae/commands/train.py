"""`keras-ae train`: train a model and write a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_ae.commands.common import CLIError, absolute_if_path, add_data_options, print_result
from keras_ae.models.objectives import OBJECTIVES, all_options
from keras_ae.models.presets import PRESETS
from keras_ae.training.strategies import STRATEGIES
from keras_ae.utils.text import plural

NAME = "train"


def add_parser(subparsers) -> argparse.ArgumentParser:
    t = subparsers.add_parser(
        NAME, help="train a model and write a run folder",
        description="Train an autoencoder; writes config.json, model.keras, history.csv and "
                    "TensorBoard logs to the run folder. Rerunning the same command on an "
                    "interrupted run resumes it; rerunning it with a larger --epochs (or "
                    "--resume RUN_DIR --epochs N) trains a finished run for longer.")
    t.add_argument("--model", choices=list(PRESETS), help="preset (default: seed)")
    t.add_argument("--config", help="a config.json to start from (options given here override it)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR with its own options: resume it if it was "
                        "interrupted, or train it up to a larger --epochs")
    add_data_options(t)
    t.add_argument("--epochs", type=int)
    t.add_argument("--latent-dim", type=int)
    _add_objective_options(t)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--validation-fraction", type=float)
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a better validation loss")
    t.add_argument("--seed", type=int, help="random seed; the same seed gives the same weights")
    t.add_argument("--deterministic", action="store_true",
                   help="switch on TensorFlow's op determinism: the same seed gives the same "
                        "weights on any device (a seeded run on a CPU does so without it), "
                        "at a cost in speed")
    t.add_argument("--backup-every", type=float, default=60.0, metavar="SECONDS",
                   help="write the backup an interrupted run resumes from at most this often "
                        "(0: after every epoch; always when training ends or is stopped with "
                        "Ctrl-C; default: 60)")
    t.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="spread each batch over devices: mirrored = this machine's GPUs (or "
                        "logical CPUs), multiworker = the machines of TF_CONFIG, tpu (default: "
                        "default, one device)")
    t.add_argument("--mixed-precision", nargs="?", const="on", choices=["on", "off", "auto"],
                   help="on: compute in float16 on a GPU, bfloat16 on a CPU (losses stay "
                        "float32); auto: so where the hardware computes it natively; off: "
                        "float32 (default: the preset's)")
    t.add_argument("--output", help="run folder (default: runs/MODEL-DATASET)")
    t.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    return t


_MIXED_PRECISION = {"on": True, "off": False, "auto": "auto"}


def _add_objective_options(parser: argparse.ArgumentParser) -> None:
    """One flag per objective option, from the registry; each says which objectives take it."""
    group = parser.add_argument_group("objective options (each applies to the objectives named)")
    for option in all_options().values():
        takers = [name for name, entry in OBJECTIVES.items() if option.name in entry.option_names]
        group.add_argument(option.cli_flag, dest=option.name, type=option.cli_type,
                           choices=option.choices, metavar=option.metavar,
                           help=f"{option.help} [{', '.join(takers)}]")


def run_config(args):
    """The RunConfig the command line describes: a preset or --config, with overrides."""
    from keras_ae.models.config import RunConfig
    from keras_ae.models.presets import preset_config

    overrides = dict(dataset=absolute_if_path(args.dataset),
                     data_dir=absolute_if_path(args.data_dir), epochs=args.epochs,
                     latent_dim=args.latent_dim, batch_size=args.batch_size,
                     learning_rate=args.learning_rate,
                     validation_fraction=args.validation_fraction,
                     image_size=args.image_size, color_mode=args.color_mode,
                     skip_bad_images=args.skip_bad_images,
                     early_stopping=args.early_stopping, seed=args.seed,
                     mixed_precision=_MIXED_PRECISION.get(args.mixed_precision),
                     **{name: getattr(args, name) for name in all_options()})
    given = [flag for flag, value in (("--model", args.model), ("--config", args.config),
                                      ("--resume", args.resume)) if value]
    if len(given) > 1:
        which = f"both {given[0]} and {given[1]}" if len(given) == 2 else "all three"
        raise CLIError(f"give one of --model, --config and --resume, not {which} (a config or a "
                       "run names its preset)")
    if args.resume:
        from keras_ae.training.run_folder import CONFIG_FILE

        if args.output and Path(args.output).resolve() != Path(args.resume).resolve():
            raise CLIError("--resume continues the run in its own folder; leave out --output")
        if not (Path(args.resume) / CONFIG_FILE).is_file():
            raise CLIError(f"--resume {args.resume}: no keras-ae run there (no {CONFIG_FILE})")
        return RunConfig.load(Path(args.resume) / CONFIG_FILE).replace(**overrides)
    if args.config:
        return RunConfig.load(args.config).replace(**overrides)
    return preset_config(args.model or "seed", **overrides)


def run(args) -> int:
    from keras_ae.training.train import train

    config = run_config(args)
    if args.resume and args.overwrite:
        raise CLIError("--resume continues a run; --overwrite would replace it")
    dataset_name = Path(config.dataset).stem or "data"
    output = Path(args.resume or args.output or f"runs/{config.preset}-{dataset_name}")
    result = train(config, output, overwrite=args.overwrite, verbose=0 if args.quiet else "auto",
                   strategy=args.strategy, deterministic=args.deterministic,
                   backup_every=args.backup_every)
    last = result.history[-1] if result.history else {}
    summary = ", ".join(f"{k}={v:.5g}" for k, v in last.items() if k != "epoch")
    continued = f"continued from epoch {result.first_epoch} and " if result.resumed else ""
    print_result(f"{continued}trained {config.preset} for {plural(len(result.history), 'epoch')}: "
                 f"{summary}")
    print_result(f"run folder: {output}")
    return 0
