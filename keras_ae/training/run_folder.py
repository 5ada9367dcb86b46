"""The run folder `train` writes: what it may hold, whether a command may use it, and how a run
is continued.

A run folder holds `config.json`, `model.keras` (the best weights), `checkpoints/best.keras`,
`history.csv`, `logs/` and either `backup/` (the state of the last finished epoch while the
run is unfinished: Keras BackupAndRestore) or, once it is finished, `checkpoints/last/` (that
state kept, so that the run can be trained for more epochs). Hidden files (the lock) may sit
beside them.

A command on a folder that holds a run continues it when its options are the run's:
- an unfinished run (interrupted, or diverged) resumes from its last finished epoch;
- a finished run given a different `epochs` (more than it has trained) is extended: its last
  epoch's state moves back to `backup/` and training goes on, history and best checkpoint kept.
Any other difference is refused, naming each option that differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from keras_ae.models.config import RunConfig
from keras_ae.models.saving import MODEL_FILE
from keras_ae.training.runlock import (LOCK_FILE, OWNER_FILE, RunLock, check_not_in_use,
                                       hold_run_lock)

__all__ = [
    "BACKUP_DIR", "BEST_FILE", "CHOICES_FILE", "CONFIG_FILE", "HISTORY_FILE", "LAST_DIR", "LOG_DIR", "RUN_ENTRIES",
    "RunFolderError", "claim_run_dir", "completed_epochs", "keep_last_state", "prepare_run_dir",
    "run_config_of",
]

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
BEST_FILE = "checkpoints/best.keras"
LAST_DIR = "checkpoints/last"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
DETECTOR_FILE = "detector.json"  # keras-ae detect --fit writes the run's threshold here
CHOICES_FILE = "choices.json"  # what training chose by measurement (its precision)
RUN_ENTRIES = {CONFIG_FILE, MODEL_FILE, HISTORY_FILE, "checkpoints", BACKUP_DIR, LOG_DIR, DETECTOR_FILE,
               CHOICES_FILE}
_METADATA = "training_metadata.json"  # BackupAndRestore's record of the epochs done
_LOCK_FILES = {LOCK_FILE, OWNER_FILE}


class RunFolderError(ValueError):
    """The output folder cannot be used for this run."""


def _holds_nothing(run_dir: Path) -> bool:
    return not run_dir.exists() or all(p.name in _LOCK_FILES for p in run_dir.iterdir())


def run_config_of(run_dir: str | os.PathLike) -> RunConfig:
    """The config of the run in `run_dir`; RunFolderError unless the folder holds a keras-ae
    run and nothing else (so that --overwrite never deletes anything of the user's)."""
    run_dir = Path(run_dir)
    foreign = sorted(p.name for p in run_dir.iterdir()
                     if p.name not in RUN_ENTRIES and not p.name.startswith("."))
    try:
        if foreign:
            raise ValueError(f"it holds {', '.join(foreign[:3])}")
        return RunConfig.load(run_dir / CONFIG_FILE)
    except ValueError as err:
        raise RunFolderError(f"{run_dir} is not empty and is not a keras-ae run folder ({err}); "
                             "choose another --output") from None


def completed_epochs(run_dir: str | os.PathLike) -> int:
    """Epochs the run in `run_dir` has finished, as Keras BackupAndRestore recorded them (in
    `backup/` while it is unfinished, `checkpoints/last/` once it is finished)."""
    for folder in (BACKUP_DIR, LAST_DIR):
        try:
            return int(json.loads((Path(run_dir) / folder / _METADATA).read_text())["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return 0


def _finished(run_dir: Path) -> bool:
    return (run_dir / MODEL_FILE).exists() and not (run_dir / BACKUP_DIR).exists()


def prepare_run_dir(run_dir: str | os.PathLike, config: RunConfig, *, overwrite: bool,
                    read_only: bool = False) -> bool:
    """Check whether `config` may train into `run_dir`, changing nothing; True when the folder
    holds a run this config continues (resumes or extends, see the module's docstring).

    Refused with RunFolderError: a path that is a file, a non-empty folder that is not a run
    folder (even with `overwrite`), a finished run without `overwrite` unless extended, a run
    with other options (each difference named); with RunInUseError: a folder another process
    is training into. With `overwrite`, a run folder is replaced (by `claim_run_dir`).
    `read_only` (a non-chief worker of a multi-worker cluster, which writes nothing) skips the
    lock: the chief holds it.
    """
    return _plan(Path(run_dir), config, overwrite=overwrite, locked=read_only)


def _plan(run_dir: Path, config: RunConfig, *, overwrite: bool, locked: bool) -> bool:
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"output {run_dir} exists and is not a folder")
    if _holds_nothing(run_dir):
        return False
    saved = run_config_of(run_dir)
    if not locked:
        check_not_in_use(run_dir)
    if overwrite:
        return False
    differences = "; ".join(saved.differences(config, ignore=("epochs",)))
    done = completed_epochs(run_dir)
    if _finished(run_dir):
        if differences:
            raise RunFolderError(f"{run_dir} holds a trained model with different options: "
                                 f"{differences}; pass --overwrite to replace it")
        if config.epochs == saved.epochs or config.epochs <= done:
            trained = done or saved.epochs
            raise RunFolderError(
                f"{run_dir} already holds a model trained for {trained} "
                f"epoch{'' if trained == 1 else 's'}; pass --epochs N (more) to train it longer, "
                "or --overwrite to replace it")
        if not (run_dir / LAST_DIR / _METADATA).is_file():
            raise RunFolderError(f"{run_dir} cannot be trained longer: it has no state of its "
                                 f"last epoch ({LAST_DIR}/); pass --overwrite to replace it")
        return True
    if differences:
        raise RunFolderError(f"{run_dir} holds an interrupted run with different options: "
                             f"{differences}; rerun the same command to resume it, or pass "
                             "--overwrite")
    if config.epochs < done:
        raise RunFolderError(f"{run_dir} holds an interrupted run that has finished {done} "
                             f"epochs; --epochs must be at least {done} to resume it")
    return True


@contextlib.contextmanager
def claim_run_dir(run_dir: str | os.PathLike, config: RunConfig, *, overwrite: bool,
                  resumed: bool) -> Iterator[RunLock]:
    """Hold the lock of `run_dir` (creating the folder) for the block and make the folder
    ready, after `prepare_run_dir` returned `resumed` and the data and model are ready: an
    overwritten run is deleted (the lock excepted), an extended run's last state goes back to
    `backup/`, and config.json records `config`."""
    run_dir = Path(run_dir)
    with hold_run_lock(run_dir) as lock:
        if _plan(run_dir, config, overwrite=overwrite, locked=True) != resumed:
            raise RunFolderError(f"{run_dir} changed while this run was being prepared; "
                                 "rerun the command")
        if overwrite and not resumed:
            for entry in run_dir.iterdir():
                if entry.name not in _LOCK_FILES:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        if resumed and _finished(run_dir):
            os.replace(run_dir / LAST_DIR, run_dir / BACKUP_DIR)
        if not resumed or RunConfig.load(run_dir / CONFIG_FILE) != config:
            config.save(run_dir / CONFIG_FILE)
        yield lock


def keep_last_state(run_dir: str | os.PathLike) -> None:
    """After `model.keras` is written: keep the last epoch's state (`backup/`, less its older
    generation) as `checkpoints/last/`, from which the run can be extended."""
    run_dir = Path(run_dir)
    backup, last = run_dir / BACKUP_DIR, run_dir / LAST_DIR
    if not backup.is_dir():
        return
    for older in backup.glob("*.bkp"):
        older.unlink()
    shutil.rmtree(last, ignore_errors=True)
    last.parent.mkdir(parents=True, exist_ok=True)
    os.replace(backup, last)
