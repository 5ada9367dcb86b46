"""One training process per run folder: a lock file held while `train` writes the folder.

The lock is an OS file lock (`filelock`, `flock` on Linux and macOS) on `RUN/.keras-ae.lock`,
so it is released by the system when its process ends in any way, SIGKILL included. Beside it,
`RUN/.keras-ae.owner` names the holder (process id, host, start time) for the refusal message;
an owner file left by a process that was killed is detected when the next process takes the
lock over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from keras_ae.utils.io import atomic_write_text

__all__ = ["LOCK_FILE", "OWNER_FILE", "RunInUseError", "RunLock", "check_not_in_use", "hold_run_lock"]

LOCK_FILE = ".keras-ae.lock"
OWNER_FILE = ".keras-ae.owner"
logger = logging.getLogger(__name__)


class RunInUseError(ValueError):
    """Another process is training into the run folder."""


class RunLock:
    """The lock of one run folder. `acquire()` raises RunInUseError naming the process that
    holds it; `taken_over_from` is the process id of a holder that died without releasing."""

    def __init__(self, run_dir: str | os.PathLike):
        from filelock import FileLock

        self.run_dir = Path(run_dir)
        self._lock = FileLock(str(self.run_dir / LOCK_FILE), timeout=0)
        self.taken_over_from: int | None = None

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> RunLock:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise RunInUseError(in_use_message(self.run_dir)) from None
        previous = read_owner(self.run_dir)
        if previous and previous.get("pid") != os.getpid():
            self.taken_over_from = previous.get("pid")
            logger.warning("took over the lock of %s from process %s, which ended without "
                           "releasing it", self.run_dir, self.taken_over_from)
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic_write_text(self.run_dir / OWNER_FILE, json.dumps(owner) + "\n")
        return self

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / OWNER_FILE).unlink()
            self._lock.release()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_owner(run_dir: str | os.PathLike) -> dict | None:
    """What the owner file of `run_dir` says (pid, host, since), or None."""
    try:
        owner = json.loads((Path(run_dir) / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def in_use_message(run_dir: Path) -> str:
    owner = read_owner(run_dir)
    who = "another process"
    if owner:
        host = "" if owner.get("host") in (None, socket.gethostname()) else f" on {owner['host']}"
        since = f", training since {owner['since']}" if owner.get("since") else ""
        who = f"process {owner['pid']}{host}{since}"
    return (f"{run_dir} is in use by {who}; wait for it to finish, or stop it and rerun this "
            "command to resume the run")


def check_not_in_use(run_dir: str | os.PathLike) -> None:
    """Raise RunInUseError if a process holds the lock of `run_dir`; creates no file."""
    run_dir = Path(run_dir)
    if not (run_dir / LOCK_FILE).is_file():
        return
    probe = RunLock(run_dir)
    from filelock import Timeout

    try:
        probe._lock.acquire()
    except Timeout:
        raise RunInUseError(in_use_message(run_dir)) from None
    probe._lock.release()


@contextlib.contextmanager
def hold_run_lock(run_dir: str | os.PathLike) -> Iterator[RunLock]:
    """Create `run_dir` if needed and hold its lock for the block."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir) as lock:
        yield lock
