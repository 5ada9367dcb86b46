"""Training callbacks that write their files atomically: CSV history and the best checkpoint."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import keras

from keras_ae.io import atomic_write_text
from keras_ae.saving import save_model


def read_history(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a history CSV written by `AtomicCSVLogger` (empty if the file is absent): the
    `epoch` as an int, every other value as a float. A file that is not such a CSV is a
    ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if "epoch" not in (reader.fieldnames or ()):
                raise ValueError("it has no epoch column")
            return [{k: (int(float(v)) if k == "epoch" else float(v))
                     for k, v in row.items() if v not in ("", None) and k is not None}
                    for row in reader]
    except (ValueError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path} is not a training history written by keras-ae "
                         f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None


class EpochOrder(keras.callbacks.Callback):
    """Set `variable` to the epoch about to run, so that a dataset ordered by it
    (`keras_ae.data.TrainingData.one_epoch`) yields that epoch's batches."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class AtomicCSVLogger(keras.callbacks.Callback):
    """Rewrite the whole history CSV (one row per epoch) atomically after every epoch.

    On a resumed run, rows of the epochs already done are kept.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []

    def on_train_begin(self, logs=None):
        self.rows = read_history(self.path)

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [r for r in self.rows if r["epoch"] < epoch]
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        fields = list(dict.fromkeys(k for row in self.rows for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buffer.getvalue())


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Save the model to `path` whenever `monitor` improves; the file is replaced atomically.

    `best` starts from `initial_best` so a resumed run keeps the earlier best.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 initial_best: float = math.inf):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = initial_best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:
            self.best = float(value)
            save_model(self.model, self.path, overwrite=True)
