"""Atomic file writes (a file is written under a temporary name and moved into place), and the
error for outputs that exist."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path


class OutputExistsError(FileExistsError):
    """Outputs that exist, replaced only when asked: the message names the `overwrite`
    argument, `command_line()` the same with keras-ae's `--overwrite`."""

    def __init__(self, paths: Sequence[str | os.PathLike]):
        self.paths = [Path(path) for path in paths]
        super().__init__(self._says(" (pass overwrite to replace {})"))

    def _says(self, advice: str) -> str:
        first, more = self.paths[0], len(self.paths) - 1
        if more:
            return f"{first} and {more} more already exist" + advice.format("them")
        return f"{first} already exists" + advice.format("it")

    def command_line(self) -> str:
        """The message as the command line gives it."""
        return self._says("; pass --overwrite to replace {}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    The temporary name keeps the final suffix (Keras checks `.keras`, TFLite `.tflite`). A
    directory written there (a SavedModel) is moved into place too. On error nothing is left.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExistsError([path])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp = tmp_dir / path.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written for {path}")
        if path.is_dir() and tmp.is_dir():
            backup = tmp_dir / (path.name + ".old")
            os.replace(path, backup)
            try:
                os.replace(tmp, path)
            except OSError:
                os.replace(backup, path)  # put the old folder back before giving up
                raise
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
