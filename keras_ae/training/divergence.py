"""Stop a diverging run: a NaN or infinite loss ends training with one clear error, and the run
folder keeps its last good model instead of a model full of NaN.

`StopOnDivergence` works like `keras.callbacks.TerminateOnNaN`, but it raises
`TrainingDivergedError` (naming the epoch, the batch and what to change) instead of stopping
quietly, and it also checks every value logged at the end of an epoch (the validation loss
included) and the weights. Placed first among the callbacks, it raises before the checkpoint,
the history and the backup record a diverged epoch.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from keras_ae.utils.io import atomic_path

__all__ = ["StopOnDivergence", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """Training produced a NaN or infinite loss (or weights); the message is one line."""


class StopOnDivergence(keras.callbacks.Callback):
    """Raise `TrainingDivergedError` as soon as a logged value or a weight is NaN or infinite.

    Args:
        learning_rate: the run's learning rate, named in the hint.
        best: the run's `AtomicBestCheckpoint`; on divergence it writes the best weights it
            kept, and that checkpoint is copied to `model_path`, so the run folder holds the
            best model of the epochs before.
        model_path: where the run's model goes (`RUN/model.keras`).
        batch_group: the batches in each step Keras counts, when it trains on groups of
            batches (`keras_ae.models.batch_groups`), and `epoch_batches` the batches of an
            epoch: the error then names batches, not groups.
    """

    def __init__(self, learning_rate: float | None = None, *, best=None,
                 model_path: str | os.PathLike | None = None, batch_group: int = 1,
                 epoch_batches: int | None = None):
        super().__init__()
        self.learning_rate = learning_rate
        self.best = best
        self.model_path = None if model_path is None else Path(model_path)
        self.batch_group = batch_group
        self.epoch_batches = epoch_batches
        self._epoch = 0
        self._first = 1
        self._steps = None

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps") if self.params else None
        self._steps = self.epoch_batches or (steps and steps * self.batch_group)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._first = 1  # the first batch since the logs were last seen finite (1-based)

    def on_train_batch_end(self, batch, logs=None):
        # with steps_per_execution > 1 Keras reports once per call, after its last batch
        last = (batch + 1) * self.batch_group
        last = min(last, self._steps) if self._steps else last
        bad = _non_finite(logs)
        if bad:
            of = f" of {self._steps}" if self._steps else ""
            where = f"batch {last}" if self._first >= last else f"batches {self._first}-{last}"
            self._diverged(f"{bad} at epoch {self._epoch + 1}, {where}{of}")
        self._first = last + 1

    def on_epoch_end(self, epoch, logs=None):
        bad = _non_finite(logs)
        if bad is None and not all(np.isfinite(w).all() for w in self.model.get_weights()):
            bad = "the weights became non-finite"
        if bad:
            self._diverged(f"{bad} at the end of epoch {epoch + 1}")

    def _diverged(self, where: str) -> None:
        rate = f" (now {self.learning_rate:g})" if self.learning_rate else ""
        kept = self._keep_best_model()
        raise TrainingDivergedError(
            f"training diverged: {where}; lower the learning rate{rate} or check that the inputs "
            f"are images in [0, 1]; {kept}")

    def _keep_best_model(self) -> str:
        """Make the run's model the best checkpoint of the epochs before, if there is one."""
        if self.model_path is None or self.best is None:
            return "the model's weights are not usable"
        self.best.write()
        if not self.best.path.is_file():
            return f"no epoch finished before, so no model was saved in {self.model_path.parent}"
        with atomic_path(self.model_path) as tmp:
            shutil.copyfile(self.best.path, tmp)
        return f"{self.model_path} holds the best model of the epochs before"


def _non_finite(logs) -> str | None:
    """'the loss became nan' for the first logged value that is NaN or infinite (the loss
    itself first), else None."""
    logs = logs or {}
    for name, value in sorted(logs.items(), key=lambda item: item[0] not in ("loss", "val_loss")):
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            return f"the {name.replace('_', ' ')} became {number}"
    return None
