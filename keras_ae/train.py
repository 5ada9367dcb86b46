"""Training: one call (or one CLI command) turns a RunConfig into a run folder.

A run folder holds `config.json`, `model.keras` (the best weights by validation loss),
`checkpoints/best.keras`, `history.csv`, `logs/` (TensorBoard) and, while training runs,
`backup/` (Keras BackupAndRestore), from which an interrupted run resumes; a finished run keeps
that last state as `checkpoints/last/`, from which it can be trained for more epochs (see
`keras_ae.run_folder`). One process at a time trains into a folder (`keras_ae.runlock`), and a
diverging run stops with its best model kept (`keras_ae.divergence`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from pathlib import Path

import keras
import tensorflow as tf

from keras_ae import data
from keras_ae.callbacks import AtomicBestCheckpoint, AtomicCSVLogger, EpochOrder, read_history
from keras_ae.config import RunConfig
from keras_ae.distributed_fit import barrier, fit_function, keras_fit_works
from keras_ae.divergence import StopOnDivergence
from keras_ae.presets import build
from keras_ae.run_folder import (BACKUP_DIR, BEST_FILE, CONFIG_FILE, HISTORY_FILE, LOG_DIR,
                                 RUN_ENTRIES, RunFolderError, claim_run_dir, completed_epochs,
                                 keep_last_state, prepare_run_dir)
from keras_ae.saving import MODEL_FILE, save_model
from keras_ae.strategies import get_strategy, is_chief
from keras_ae.tensorboard import HeldOutPictures

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


def _enable_determinism(seed: int | None) -> None:
    if seed is not None:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()


def train(
    config: RunConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    verbose: int | str = "auto",
    callbacks: list[keras.callbacks.Callback] | None = None,
    strategy: str | tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Train the model of `config` on its dataset, validating every epoch.

    With `run_dir`, everything is written there and an interrupted run resumes when the same
    call is repeated; a finished run given more `epochs` (its other options the same) is
    trained on from its last epoch. Without it, nothing is written. With a `config.seed`, the
    process's random seeds are set and TensorFlow's op determinism is switched on (for the rest
    of the process), so that the same config gives the same weights.

    `strategy` (a name in `keras_ae.strategies.STRATEGIES` or a `tf.distribute.Strategy`)
    spreads each global batch of `config.batch_size` over its replicas. In a multi-worker
    cluster every worker runs this same call; only the chief writes `run_dir` (holding its
    lock), which must be a folder every worker can read for an interrupted run to resume.

    Raises RunFolderError (or RunInUseError, another process training there) before any work
    when `run_dir` cannot take this run, and TrainingDivergedError when the loss becomes NaN
    or infinite (the run folder then keeps the best model of the epochs before).
    """
    with contextlib.ExitStack() as held:  # the run folder's lock, while it is written
        return _train(config, run_dir, overwrite=overwrite, verbose=verbose, callbacks=callbacks,
                      strategy=strategy, held=held)


def _train(config, run_dir, *, overwrite, verbose, callbacks, strategy, held) -> TrainResult:
    strategy = get_strategy(strategy)
    chief = is_chief(strategy)
    resumed = (prepare_run_dir(run_dir, config, overwrite=overwrite, read_only=not chief)
               if run_dir else False)
    _enable_determinism(config.seed)
    first_epoch = completed_epochs(run_dir) if resumed else 0
    inputs = data.training_data(config, first_epoch=first_epoch)  # read from disk as it trains
    with strategy.scope():
        model = build(config, input_shape=inputs.image_shape)

    writes = run_dir is not None and chief
    callbacks = [StopOnDivergence(config.learning_rate,  # first: before anything records an epoch
                                  best_path=Path(run_dir) / BEST_FILE if writes else None,
                                  model_path=Path(run_dir) / MODEL_FILE if writes else None),
                 *(callbacks or [])]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping, restore_best_weights=True))
    if run_dir is not None:
        run_dir = Path(run_dir)
        if chief:  # the lock, and the folder made ready (overwrite, extend, config.json)
            held.enter_context(claim_run_dir(run_dir, config, overwrite=overwrite, resumed=resumed))
        barrier(strategy)  # the other workers restore the backup the chief has put in place
        callbacks += (_run_folder_callbacks(run_dir, config) if chief
                      else [RestoreOnly(str(run_dir / BACKUP_DIR))])
    if keras_fit_works(strategy):  # one pass over `one_epoch` per epoch, ordered by EpochOrder
        batches, per_epoch = inputs.one_epoch, {}
        callbacks.insert(0, EpochOrder(inputs.epoch))
    else:  # keras_ae's loop takes each epoch's steps from one stream of every epoch's batches
        batches, per_epoch = inputs.train, {"steps_per_epoch": inputs.steps_per_epoch}
    with data.reading_errors():  # a damaged image file is a DataError naming it
        fit = fit_function(model, strategy)(
            batches, validation_data=inputs.validation, epochs=config.epochs,
            initial_epoch=first_epoch, callbacks=callbacks, verbose=verbose if chief else 0,
            shuffle=False, **per_epoch)  # the dataset shuffles
    if run_dir is None:
        return TrainResult(model, _history_rows(fit, first_epoch), None)
    barrier(strategy)  # every worker reads the chief's records of the last epoch
    best = run_dir / BEST_FILE
    if best.exists():
        model.load_weights(best)
    if chief:
        save_model(model, run_dir / MODEL_FILE, overwrite=resumed)
        keep_last_state(run_dir)  # backup/ becomes checkpoints/last/, from which the run goes on
    # a worker that cannot see the chief's run folder reports the epochs it trained
    history = read_history(run_dir / HISTORY_FILE) or _history_rows(fit, first_epoch)
    return TrainResult(model, history, run_dir, resumed, first_epoch)


def _history_rows(fit: keras.callbacks.History, first_epoch: int) -> list[dict[str, float]]:
    """One row per epoch trained in this call, as history.csv has them."""
    epochs = range(len(fit.history.get("loss", [])))
    return [{"epoch": first_epoch + e, **{k: float(v[e]) for k, v in fit.history.items()}}
            for e in epochs]


def _run_folder_callbacks(run_dir: Path, config: RunConfig) -> list:
    """The callbacks that write the run folder (the chief's, once `claim_run_dir` made it
    ready): best checkpoint, history, logs and the backup an interrupted run resumes from."""
    earlier = read_history(run_dir / HISTORY_FILE)
    best_so_far = min((r["val_loss"] for r in earlier if "val_loss" in r), default=math.inf)
    return [
        AtomicBestCheckpoint(run_dir / BEST_FILE, initial_best=best_so_far),
        AtomicCSVLogger(run_dir / HISTORY_FILE),
        keras.callbacks.TensorBoard(str(run_dir / LOG_DIR)),
        HeldOutPictures.for_run(run_dir / LOG_DIR, config),  # reconstructions, projector
        # last, so an epoch counts as done only once everything above has recorded it; kept
        # until model.keras is written, so a crash before that resumes instead of restarting
        keras.callbacks.BackupAndRestore(str(run_dir / BACKUP_DIR), delete_checkpoint=False,
                                         double_checkpoint=True),
    ]
