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
                                         TimedBackup, read_history)
from keras_ae.training.distributed_fit import barrier, fit_function, keras_fit_works
from keras_ae.training.divergence import StopOnDivergence
from keras_ae.training.precision_choice import (applies, choose_precision, record_choice,
                                                recorded_choice)
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


def _train(config, run_dir, *, overwrite, verbose, callbacks, strategy, deterministic,
           backup_every, held) -> TrainResult:
    if isinstance(backup_every, bool) or not (isinstance(backup_every, (int, float))
                                              and 0 <= backup_every < math.inf):
        raise ValueError(f"backup_every is a number of seconds >= 0, got {backup_every!r}")
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

    recorders: list = []  # the chief's writers of the run folder
    if run_dir is not None:
        run_dir = Path(run_dir)
        if chief:  # the lock, and the folder made ready (overwrite, extend, config.json)
            held.enter_context(claim_run_dir(run_dir, config, overwrite=overwrite, resumed=resumed))
            if choice is not None:
                record_choice(run_dir, choice)
            recorders = _run_folder_callbacks(run_dir, config, first_epoch, backup_every)
        barrier(strategy)  # the other workers restore the backup the chief has put in place
        if not chief:
            recorders = [RestoreOnly(str(run_dir / BACKUP_DIR))]
    best = next((c for c in recorders if isinstance(c, AtomicBestCheckpoint)), None)
    # an epoch the first rejects is not kept; from the mark on, one is, whichever callback fails
    marks = [c.trained_mark() for c in recorders if isinstance(c, TimedBackup)]
    callbacks = [StopOnDivergence(config.learning_rate,  # first: before anything records an epoch
                                  best=best, model_path=run_dir / MODEL_FILE if best else None,
                                  batch_group=inputs.batch_group,
                                  epoch_batches=inputs.steps_per_epoch),
                 *marks, *(callbacks or [])]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping, restore_best_weights=True))
    callbacks += recorders
    grouped = training_on_groups(model) if inputs.batch_group > 1 else contextlib.nullcontext()
    if in_keras_fit and inputs.batch_group == 1:  # one pass over `one_epoch` per epoch, ordered
        batches, per_epoch = inputs.one_epoch, {}  # by EpochOrder (a call never spans epochs)
        callbacks.insert(0, EpochOrder(inputs.epoch))
    else:  # each epoch's steps (or groups) from one stream of every epoch's batches
        batches, per_epoch = inputs.train, {"steps_per_epoch": inputs.elements_per_epoch}
    try:
        with data.reading_errors(), grouped:  # a damaged image file is a DataError naming it
            fit = fit_function(model, strategy)(
                batches, validation_data=inputs.validation, epochs=config.epochs,
                initial_epoch=first_epoch, callbacks=callbacks, verbose=verbose if chief else 0,
                shuffle=False, **per_epoch)  # the dataset shuffles
    except BaseException:  # Ctrl-C, divergence: keep the last finished epoch to resume from
        for recorder in recorders:
            if isinstance(recorder, TimedBackup):
                recorder.write_interrupted()
        raise
    if run_dir is None:
        return TrainResult(model, _history_rows(fit, first_epoch), None)
    barrier(strategy)  # every worker reads the chief's records of the last epoch
    best_file = run_dir / BEST_FILE
    if best is not None and best.weights is not None:  # the chief kept them: no need to read
        model.set_weights(best.weights)
    elif best_file.exists():
        model.load_weights(best_file)
    if chief:
        write_model_file(model, run_dir, overwrite=resumed)
        keep_last_state(run_dir)  # backup/ becomes checkpoints/last/, from which the run goes on
    # a worker that cannot see the chief's run folder reports the epochs it trained
    history = read_history(run_dir / HISTORY_FILE) or _history_rows(fit, first_epoch)
    return TrainResult(model, history, run_dir, resumed, first_epoch)


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
