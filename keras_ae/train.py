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
from keras_ae.callbacks import AtomicBestCheckpoint, AtomicCSVLogger, read_history
from keras_ae.config import RunConfig
from keras_ae.divergence import StopOnDivergence
from keras_ae.presets import build
from keras_ae.run_folder import (BACKUP_DIR, BEST_FILE, CONFIG_FILE, HISTORY_FILE, LOG_DIR,
                                 RUN_ENTRIES, RunFolderError, claim_run_dir, completed_epochs,
                                 keep_last_state, prepare_run_dir)
from keras_ae.saving import MODEL_FILE, save_model
from keras_ae.tensorboard import HeldOutPictures

__all__ = ["BACKUP_DIR", "BEST_FILE", "CONFIG_FILE", "HISTORY_FILE", "LOG_DIR", "RUN_ENTRIES",
           "RunFolderError", "TrainResult", "prepare_run_dir", "train"]


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
) -> TrainResult:
    """Train the model of `config` on its dataset, validating every epoch.

    With `run_dir`, everything is written there and an interrupted run resumes when the same
    call is repeated; a finished run given more `epochs` (its other options the same) is
    trained on from its last epoch. Without it, nothing is written. With a `config.seed`, the
    process's random seeds are set and TensorFlow's op determinism is switched on (for the rest
    of the process), so that the same config gives the same weights.

    Raises RunFolderError (or RunInUseError, another process training there) before any work
    when `run_dir` cannot take this run, and TrainingDivergedError when the loss becomes NaN
    or infinite (the run folder then keeps the best model of the epochs before).
    """
    with contextlib.ExitStack() as held:  # the run folder's lock, while it is written
        return _train(config, run_dir, overwrite=overwrite, verbose=verbose, callbacks=callbacks,
                      held=held)


def _train(config, run_dir, *, overwrite, verbose, callbacks, held) -> TrainResult:
    resumed = prepare_run_dir(run_dir, config, overwrite=overwrite) if run_dir else False
    _enable_determinism(config.seed)
    train_x, _ = data.load_arrays(config.dataset, "train", data_dir=config.data_dir,
                                  validation_fraction=config.validation_fraction, with_labels=False)
    val_x, _ = data.load_arrays(config.dataset, "validation", data_dir=config.data_dir,
                                validation_fraction=config.validation_fraction, with_labels=False)
    val_ds = data.make_pipeline(val_x, batch_size=config.batch_size, shuffle=False)
    first_epoch = completed_epochs(run_dir) if resumed else 0
    train_ds, steps = data.epoch_pipeline(train_x, batch_size=config.batch_size, seed=config.seed,
                                          epochs=config.epochs, first_epoch=first_epoch)
    model = build(config, input_shape=train_x.shape[1:])

    callbacks = [StopOnDivergence(config.learning_rate,  # first: before anything records an epoch
                                  best_path=run_dir and Path(run_dir) / BEST_FILE,
                                  model_path=run_dir and Path(run_dir) / MODEL_FILE),
                 *(callbacks or [])]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping, restore_best_weights=True))
    if run_dir is not None:
        run_dir = Path(run_dir)
        held.enter_context(claim_run_dir(run_dir, config, overwrite=overwrite, resumed=resumed))
        earlier = read_history(run_dir / HISTORY_FILE)
        best_so_far = min((r["val_loss"] for r in earlier if "val_loss" in r), default=math.inf)
        callbacks += [
            AtomicBestCheckpoint(run_dir / BEST_FILE, initial_best=best_so_far),
            AtomicCSVLogger(run_dir / HISTORY_FILE),
            keras.callbacks.TensorBoard(str(run_dir / LOG_DIR)),
            HeldOutPictures.for_run(run_dir / LOG_DIR, config),  # reconstructions, projector
            # last, so an epoch counts as done only once everything above has recorded it; kept
            # until model.keras is written, so a crash before that resumes instead of restarting
            keras.callbacks.BackupAndRestore(str(run_dir / BACKUP_DIR), delete_checkpoint=False,
                                             double_checkpoint=True),
        ]
    fit = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, steps_per_epoch=steps,
                    callbacks=callbacks, verbose=verbose, shuffle=False)  # the dataset shuffles
    if run_dir is None:
        history = [{"epoch": e, **{k: float(v[e]) for k, v in fit.history.items()}}
                   for e in range(len(fit.history.get("loss", [])))]
        return TrainResult(model, history, None)
    best = run_dir / BEST_FILE
    if best.exists():
        model.load_weights(best)
    save_model(model, run_dir / MODEL_FILE, overwrite=resumed)
    keep_last_state(run_dir)  # backup/ becomes checkpoints/last/, from which the run can go on
    return TrainResult(model, read_history(run_dir / HISTORY_FILE), run_dir, resumed, first_epoch)
