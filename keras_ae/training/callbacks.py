"""Training callbacks that write a run folder: CSV history, the best checkpoint and the backup.

The best weights are kept in memory when the validation loss improves, and the history rows as
epochs end; both are written with the backup, which is written at most every `every` seconds
and when training ends (the history also at most every second): the costly writes are then a
small share of training however short its epochs, and an interrupted run resumes from the last
backup written, with the history and best checkpoint of its epochs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import keras

from keras_ae.models.saving import save_model
from keras_ae.utils import interrupts
from keras_ae.utils.history import read_history
from keras_ae.utils.io import atomic_write_text


class EpochOrder(keras.callbacks.Callback):
    """Set `variable` to the epoch about to run, so that a dataset ordered by it
    (`keras_ae.data.TrainingData.one_epoch`) yields that epoch's batches."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class StopOnInterrupt(keras.callbacks.Callback):
    """End training with KeyboardInterrupt once a Ctrl-C has come that something on its way
    swallowed (`keras_ae.utils.interrupts`): at the start, and after each epoch is recorded."""

    def on_train_begin(self, logs=None):
        interrupts.check()

    def on_epoch_end(self, epoch, logs=None):
        interrupts.check()


class AtomicCSVLogger(keras.callbacks.Callback):
    """Rewrite the whole history CSV (one row per epoch) atomically after an epoch that ends
    `every` seconds or more after the last write (0: after every epoch), when training ends and
    when `write()` is called.

    On a resumed run, rows of the epochs already done are kept.
    """

    def __init__(self, path: str | os.PathLike, every: float = 0.0):
        super().__init__()
        self.path, self.every = Path(path), float(every)
        self.rows: list[dict[str, float]] = []
        self._written, self._pending = time.monotonic(), False

    def on_train_begin(self, logs=None):
        self.rows = read_history(self.path)
        self._written, self._pending = time.monotonic(), False

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [r for r in self.rows if r["epoch"] < epoch]
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        self._pending = True
        if time.monotonic() - self._written >= self.every:
            self.write()

    def on_train_end(self, logs=None):
        self.write()

    def write(self) -> None:
        """Write the rows of the epochs ended since the last write, if any."""
        if not self._pending:
            return
        fields = list(dict.fromkeys(k for row in self.rows for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buffer.getvalue())
        self._written, self._pending = time.monotonic(), False


def read_values(variables: list) -> list:
    """The present values of Keras `variables`, as tensors and without a copy: TensorFlow
    copies a variable's buffer before writing to one that a tensor still holds, so these keep
    their values as training goes on. All are read in one operation (`tf.identity_n`), cheaper
    than one read a variable or `.numpy()` copies (benchmarks/run_folder_cost.py); assigning
    them back (`values_set`) is cheaper than assigning arrays."""
    import tensorflow as tf

    return list(tf.identity_n([variable.value for variable in variables])) if variables else []


@contextlib.contextmanager
def values_set(variables: list, values: list | None) -> Iterator[None]:
    """Within the block, `variables` hold `values` (None: they keep theirs); afterwards they get
    their own values back."""
    if values is None:
        yield
        return
    own = read_values(variables)
    for variable, value in zip(variables, values):
        variable.assign(value)
    try:
        yield
    finally:
        for variable, value in zip(variables, own):
            variable.assign(value)


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Keep the weights of the epoch whose `monitor` is lowest; `write()` saves the model with
    them to `path` (replaced atomically) if they changed since the last write.

    `best` starts from `initial_best` so a resumed run keeps the earlier best; `weights` are the
    best epoch's of this training, as tensors in the order of `model.weights` (None before one
    improves on `initial_best`).
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 initial_best: float = math.inf):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = initial_best
        self.weights = None
        self._pending = False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:
            self.best = float(value)
            self.weights, self._pending = read_values(self.model.weights), True

    def write(self) -> None:
        """Save the best weights kept since the last write (the model's own are restored)."""
        if not self._pending:
            return
        with values_set(self.model.weights, self.weights):
            save_model(self.model, self.path, overwrite=True)
        self._pending = False


class TimedBackup(keras.callbacks.BackupAndRestore):
    """Keras's BackupAndRestore, writing the backup at most every `every` seconds (0: after
    every epoch) and when training ends, rather than every epoch; each time, `records` (the
    best checkpoint, the history: callbacks with a `write()`) are written first, so that they
    are never older than the backup a run resumes from.

    It restores as Keras's does. Between writes it keeps the state of the last finished epoch
    in memory (read in one operation, `read_values`), and `write_interrupted` (called when
    training stops with an exception: Ctrl-C, a diverging loss) writes that state: an
    interrupted run resumes from its last finished epoch, a killed one from the last backup
    written, at most `every` seconds of epochs before. An epoch counts as finished once the
    callback `trained_mark()` returns has seen it end: placed before the callbacks that may fail
    at an epoch's end, it keeps an epoch whose end one of them fails on (recorded and backed up
    with the model's state when the failure stopped training, as this callback would have
    kept it at that epoch's end; the mark itself reads nothing).
    """

    def __init__(self, backup_dir: str, records: tuple = (), every: float = 60.0):
        super().__init__(backup_dir, delete_checkpoint=False, double_checkpoint=True)
        self.records, self.every = tuple(records), float(every)
        self._written = time.monotonic()
        self._finished = None  # (epoch, state) of the last finished epoch, if not written yet
        self._trained = None  # (epoch, logs) of an epoch whose end is under way

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._written = time.monotonic()

    def trained_mark(self) -> keras.callbacks.Callback:
        """A callback whose `on_epoch_end` marks the epoch as trained (see the class)."""
        return _EpochTrained(self)

    def epoch_trained(self, epoch: int, logs: dict | None) -> None:
        """Mark `epoch` (with its logs) as trained, its end under way. Nothing is read: should
        the end fail, training stops there, and `write_interrupted` reads the state then."""
        self._trained = (epoch, dict(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        self._trained = None
        if time.monotonic() - self._written >= self.every:
            self.write(epoch)
        else:
            self._finished = (epoch, self._state())

    def on_train_end(self, logs=None):
        if self._finished is not None:
            self.write(self._finished[0])

    def write(self, epoch: int) -> None:
        """Write the records, then (through Keras's own end of epoch `epoch`) the backup of the
        model's present state, which a resumed run continues after `epoch`."""
        for record in self.records:
            record.write()
        super().on_epoch_end(epoch)
        self._written, self._finished = time.monotonic(), None

    def write_interrupted(self) -> None:
        """Write the backup of the last finished epoch, if it is not written yet."""
        if self._trained is not None:  # its end failed: recorded and backed up as it stopped
            epoch, logs = self._trained
            for record in self.records:
                record.on_epoch_end(epoch, logs)
            self._finished = (epoch, self._state())
        if self._finished is None:
            return
        epoch, state = self._finished
        with values_set(self._variables(), state):
            self.write(epoch)

    def _variables(self) -> list:
        return [*self.model.variables, *self.model.optimizer.variables]

    def _state(self) -> list:
        return read_values(self._variables())


class _EpochTrained(keras.callbacks.Callback):
    """Tells a `TimedBackup` that an epoch's training is over (`TimedBackup.trained_mark`)."""

    def __init__(self, backup: TimedBackup):
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch, logs=None):
        self.backup.epoch_trained(epoch, logs)
