"""Training: one call (or one CLI command) turns a RunConfig into a run folder.

A run folder holds `config.json`, `model.keras` (the best weights by validation loss),
`checkpoints/best.keras`, `history.csv`, `logs/` (TensorBoard) and, while training runs,
`backup/` (Keras BackupAndRestore), from which an interrupted run resumes; a finished run keeps
that last state as `checkpoints/last/`, from which it can be trained for more epochs (see
`keras_ae.training.run_folder`). One process at a time trains into a folder
(`keras_ae.training.runlock`), and a diverging run stops with its best model kept
(`keras_ae.training.divergence`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from keras_ae import data
from keras_ae.models.batch_groups import training_on_groups
from keras_ae.models.config import RunConfig
from keras_ae.models.presets import build, compile_options
from keras_ae.models.saving import MODEL_FILE, save_model
from keras_ae.training.callbacks import (AtomicBestCheckpoint, AtomicCSVLogger, EpochOrder,
                                         StopOnInterrupt, TimedBackup, read_history)
from keras_ae.training.distributed_fit import barrier, fit_function, keras_fit_works
from keras_ae.training.divergence import StopOnDivergence
from keras_ae.training.precision_choice import (PrecisionChoice, applies, choose_precision,
                                                record_choice, recorded_choice)
from keras_ae.training.run_folder import (BACKUP_DIR, BEST_FILE, CONFIG_FILE, HISTORY_FILE, LOG_DIR,
                                          RUN_ENTRIES, RunFolderError, claim_run_dir,
                                          completed_epochs, keep_last_state, prepare_run_dir)
from keras_ae.training.strategies import get_strategy, is_chief
from keras_ae.training.tensorboard import EpochTensorBoard, HeldOutPictures
from keras_ae.utils.io import atomic_path

logger = logging.getLogger(__name__)

__all__ = ["BACKUP_DIR", "BEST_FILE", "CONFIG_FILE", "HISTORY_FILE", "LOG_DIR", "RUN_ENTRIES",
           "RunFolderError", "TrainResult", "prepare_run_dir", "train"]


class RestoreOnly(keras.callbacks.BackupAndRestore):
    """BackupAndRestore for a worker that writes nothing: it restores the chief's backup when
    training begins and never saves or deletes one."""

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, delete_checkpoint=False)

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the trained model, its per-epoch history and the run folder."""

    model: keras.Model
    history: list[dict[str, float]]
    run_dir: Path | None
    resumed: bool = False
    first_epoch: int = 0


def _seed_everything(seed: int | None, deterministic: bool) -> None:
    """Seed Python, NumPy and Keras; with `deterministic`, also switch on TensorFlow's op
    determinism (for the rest of the process)."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def train(
    config: RunConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    verbose: int | str = "auto",
    callbacks: list[keras.callbacks.Callback] | None = None,
    strategy: str | tf.distribute.Strategy | None = None,
    deterministic: bool = False,
    backup_every: float = 60.0,
) -> TrainResult:
    """Train the model of `config` on its dataset, validating every epoch.

    With `run_dir`, everything is written there and an interrupted run resumes when the same
    call is repeated; a finished run given more `epochs` (its other options the same) is
    trained on from its last epoch. Without it, nothing is written. With a `config.seed`, the
    process's random seeds are set, so that the same config gives the same weights (on a CPU;
    `deterministic` also switches on TensorFlow's op determinism, for the rest of the process,
    which guarantees it on every device at a cost in speed: benchmarks/train_speed.py).

    The backup an interrupted run resumes from (and the best checkpoint) is written at most
    every `backup_every` seconds (0: every epoch) and when training ends.

    `strategy` (a name in `keras_ae.training.strategies.STRATEGIES` or a `tf.distribute.Strategy`)
    spreads each global batch of `config.batch_size` over its replicas. In a multi-worker
    cluster every worker runs this same call; only the chief writes `run_dir` (holding its
    lock), which must be a folder every worker can read for an interrupted run to resume.

    Raises RunFolderError (or RunInUseError, another process training there) before any work
    when `run_dir` cannot take this run, and TrainingDivergedError when the loss becomes NaN
    or infinite (the run folder then keeps the best model of the epochs before).
    """
    with contextlib.ExitStack() as held:  # the run folder's lock, while it is written
        return _train(config, run_dir, overwrite=overwrite, verbose=verbose, callbacks=callbacks,
                      strategy=strategy, deterministic=deterministic,
                      backup_every=backup_every, held=held)


@dataclasses.dataclass
class _Start:
    """What a run starts from: where it runs, from which epoch, on what data, with what model."""

    strategy: tf.distribute.Strategy
    chief: bool
    resumed: bool
    first_epoch: int
    in_keras_fit: bool
    inputs: data.TrainingData
    model: keras.Model
    choice: PrecisionChoice | None


def _train(config, run_dir, *, overwrite, verbose, callbacks, strategy, deterministic,
           backup_every, held) -> TrainResult:
    if isinstance(backup_every, bool) or not (isinstance(backup_every, (int, float))
                                              and 0 <= backup_every < math.inf):
        raise ValueError(f"backup_every is a number of seconds >= 0, got {backup_every!r}")
    start = _start(config, run_dir, strategy=strategy, overwrite=overwrite, verbose=verbose,
                   deterministic=deterministic)
    recorders: list = []  # the chief's writers of the run folder
    if run_dir is not None:
        run_dir = Path(run_dir)
        recorders = _claim(run_dir, config, start, overwrite=overwrite, held=held,
                           backup_every=backup_every)
    best = next((c for c in recorders if isinstance(c, AtomicBestCheckpoint)), None)
    fit = _fit(config, start, _callbacks(config, start, recorders, best, run_dir, callbacks),
               recorders, verbose=verbose)
    if run_dir is None:
        return TrainResult(start.model, _history_rows(fit, start.first_epoch), None)
    return _finish(run_dir, start, best, fit)


def _start(config: RunConfig, run_dir, *, strategy, overwrite: bool, verbose,
           deterministic: bool) -> _Start:
    """The strategy, whether the run resumes (the run folder checked, not yet claimed), its
    training data from the first epoch to train, and its model built, compiled (in the
    precision `auto` measures the faster, or the one a resumed run chose) and adapted to the
    training images (a resumed run then restores its own state)."""
    strategy = get_strategy(strategy)
    chief = is_chief(strategy)
    resumed = (prepare_run_dir(run_dir, config, overwrite=overwrite, read_only=not chief)
               if run_dir else False)
    _seed_everything(config.seed, deterministic)
    first_epoch = completed_epochs(run_dir) if resumed else 0
    in_keras_fit = keras_fit_works(strategy)
    # several steps per call: their batches come stacked in one element (batch_groups)
    group = compile_options(config)["steps_per_execution"] if in_keras_fit else 1
    inputs = data.training_data(config, first_epoch=first_epoch,  # read from disk as it trains
                                batch_group=group)
    choice = None
    if applies(config, strategy.num_replicas_in_sync):  # "auto": the faster, measured
        choice = (recorded_choice(run_dir) if resumed else None) or choose_precision(
            config, inputs.image_shape)
        if verbose:
            logger.warning(choice.describe())
        _seed_everything(config.seed, deterministic)  # the measurement drew random numbers
    built = config if choice is None else config.replace(mixed_precision=choice.policy != "float32")
    with strategy.scope():
        model = build(built, input_shape=inputs.image_shape)
        model.compile(optimizer=model.optimizer, **compile_options(config))  # for speed
    model.check_training(inputs.train_size, config.batch_size)  # before the run folder is claimed
    with data.reading_errors():
        model.adapt(inputs.adapt)  # state from data (a memory of training images), if any
    return _Start(strategy, chief, resumed, first_epoch, in_keras_fit, inputs, model, choice)


def _claim(run_dir: Path, config: RunConfig, start: _Start, *, overwrite: bool, held,
           backup_every: float) -> list:
    """Claim the run folder (the chief: its lock, held in `held`, and the folder made ready:
    overwritten, extended, config.json) and return the callbacks that write it; another worker
    only restores the backup the chief has put in place."""
    if not start.chief:
        barrier(start.strategy)
        return [RestoreOnly(str(run_dir / BACKUP_DIR))]
    held.enter_context(claim_run_dir(run_dir, config, overwrite=overwrite, resumed=start.resumed))
    if start.choice is not None:
        record_choice(run_dir, start.choice)
    recorders = _run_folder_callbacks(run_dir, config, start.first_epoch, backup_every)
    barrier(start.strategy)
    return recorders


def _callbacks(config: RunConfig, start: _Start, recorders: list, best, run_dir,
               user: list | None) -> list:
    """Divergence first (before anything records an epoch), the mark from which an epoch is
    kept whichever callback fails, the user's callbacks, early stopping, the run folder's, and
    the check for a Ctrl-C that was swallowed."""
    marks = [c.trained_mark() for c in recorders if isinstance(c, TimedBackup)]
    callbacks = [StopOnDivergence(config.learning_rate, best=best,
                                  model_path=run_dir / MODEL_FILE if best else None,
                                  batch_group=start.inputs.batch_group,
                                  epoch_batches=start.inputs.steps_per_epoch),
                 *marks, *(user or [])]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping, restore_best_weights=True))
    return [*callbacks, *recorders, StopOnInterrupt()]  # last: the epoch is recorded first


def _fit(config: RunConfig, start: _Start, callbacks: list, recorders: list, *,
         verbose) -> keras.callbacks.History:
    """Keras's `fit` (or the distributed loop) over the run's epochs; on an interruption (Ctrl-C,
    divergence) the last finished epoch is kept to resume from."""
    inputs = start.inputs
    grouped = (training_on_groups(start.model) if inputs.batch_group > 1
               else contextlib.nullcontext())
    if start.in_keras_fit and inputs.batch_group == 1:
        # one pass over `one_epoch` per epoch, ordered by EpochOrder (a call never spans epochs)
        batches, per_epoch = inputs.one_epoch, {}
        callbacks = [EpochOrder(inputs.epoch), *callbacks]
    else:  # each epoch's steps (or groups) from one stream of every epoch's batches
        batches, per_epoch = inputs.train, {"steps_per_epoch": inputs.elements_per_epoch}
    try:
        with data.reading_errors(), grouped:  # a damaged image file is a DataError naming it
            return fit_function(start.model, start.strategy)(
                batches, validation_data=inputs.validation, epochs=config.epochs,
                initial_epoch=start.first_epoch, callbacks=callbacks,
                verbose=verbose if start.chief else 0,
                shuffle=False, **per_epoch)  # the dataset shuffles
    except BaseException:
        for recorder in recorders:
            if isinstance(recorder, TimedBackup):
                recorder.write_interrupted()
            elif isinstance(recorder, EpochTensorBoard):
                recorder.on_train_end()  # the scalars of the epochs kept in memory
        raise


def _finish(run_dir: Path, start: _Start, best, fit) -> TrainResult:
    """The best weights in the model, model.keras written and the last state kept (the chief),
    and the run's whole history."""
    model = start.model
    barrier(start.strategy)  # every worker reads the chief's records of the last epoch
    best_file = run_dir / BEST_FILE
    if best is not None and best.weights is not None:  # the chief kept them: no need to read
        model.set_weights(best.weights)
    elif best_file.exists():
        model.load_weights(best_file)
    if start.chief:
        write_model_file(model, run_dir, overwrite=start.resumed)
        keep_last_state(run_dir)  # backup/ becomes checkpoints/last/, from which the run goes on
    # a worker that cannot see the chief's run folder reports the epochs it trained
    history = read_history(run_dir / HISTORY_FILE) or _history_rows(fit, start.first_epoch)
    return TrainResult(model, history, run_dir, start.resumed, start.first_epoch)


def write_model_file(model: keras.Model, run_dir: Path, *, overwrite: bool) -> None:
    """Write the run's model.keras (atomically): a copy of its best checkpoint, else `model`."""
    best_file = run_dir / BEST_FILE
    if best_file.exists():
        with atomic_path(run_dir / MODEL_FILE, overwrite=overwrite) as tmp:
            shutil.copyfile(best_file, tmp)
    else:
        save_model(model, run_dir / MODEL_FILE, overwrite=overwrite)


def _history_rows(fit: keras.callbacks.History, first_epoch: int) -> list[dict[str, float]]:
    """One row per epoch trained in this call, as history.csv has them."""
    epochs = range(len(fit.history.get("loss", [])))
    return [{"epoch": first_epoch + e, **{k: float(v[e]) for k, v in fit.history.items()}}
            for e in epochs]


HISTORY_EVERY = 1.0  # history.csv is rewritten at most every second (and with each backup)


def _run_folder_callbacks(run_dir: Path, config: RunConfig, first_epoch: int,
                          backup_every: float) -> list:
    """The callbacks that write the run folder (the chief's, once `claim_run_dir` made it
    ready): best checkpoint, history, logs and the backup an interrupted run resumes from."""
    earlier = [row for row in read_history(run_dir / HISTORY_FILE) if row["epoch"] < first_epoch]
    best_so_far = min((r["val_loss"] for r in earlier if "val_loss" in r), default=math.inf)
    best = AtomicBestCheckpoint(run_dir / BEST_FILE, initial_best=best_so_far)
    history = AtomicCSVLogger(run_dir / HISTORY_FILE, every=HISTORY_EVERY)
    return [
        best,
        history,
        # after the records, so an epoch counts as done once they have it, and before the logs,
        # so an epoch whose logging fails is kept to resume from; kept until model.keras is
        # written, so a crash before that resumes instead of restarting
        TimedBackup(str(run_dir / BACKUP_DIR), (best, history), every=backup_every),
        EpochTensorBoard(str(run_dir / LOG_DIR)),
        HeldOutPictures.for_run(run_dir / LOG_DIR, config, every=backup_every, best=best),
    ]
