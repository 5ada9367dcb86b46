"""Ctrl-C that is not lost. SIGINT raises KeyboardInterrupt as usual, and is also remembered:
one that lands inside a C extension's import surfaces as an ImportError (or aborts the
process), and one that lands in a garbage-collector callback is swallowed. So the heavy imports
run `deferred()` (the interrupt is raised once they are done), and long-running code asks
`check()` at safe points."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["check", "deferred", "noted", "received"]

_received: list[int] = []
_deferring: list[bool] = []


def received() -> bool:
    """Whether a SIGINT came while `noted()` was active."""
    return bool(_received)


def check() -> None:
    """KeyboardInterrupt if a SIGINT came (and was perhaps swallowed on its way)."""
    if _received:
        raise KeyboardInterrupt


def _note(signum, frame) -> None:
    _received.append(signum)
    if not _deferring or len(_received) > 1:  # a second Ctrl-C does not wait
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside the block a first SIGINT is only noted (under `noted()`) and raised as
    KeyboardInterrupt when the block ends; a second one is raised at once."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    check()


@contextlib.contextmanager
def noted() -> Iterator[None]:
    """Remember SIGINTs inside the block (in the main thread, where Python's own handler is in
    place: a handler someone else installed is left alone); they are forgotten when it ends."""
    ours = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    _received.clear()
    if ours:
        signal.signal(signal.SIGINT, _note)
    try:
        yield
    finally:
        _received.clear()  # a later `check()` outside the block (train() in Python) goes on
        if ours:
            signal.signal(signal.SIGINT, signal.default_int_handler)
