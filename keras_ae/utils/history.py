"""The training history a run folder keeps (`history.csv`, written by
`keras_ae.training.callbacks.AtomicCSVLogger`), read back."""

from __future__ import annotations

import csv
import os
from pathlib import Path


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
