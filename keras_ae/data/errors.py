"""The single exception type raised for every data problem."""

from __future__ import annotations


class DataError(ValueError):
    """A data source is missing, malformed or cannot be loaded.

    The message is always a single line that names the problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def first_line(exc: BaseException, limit: int = 160) -> str:
    """Return a short one-line description of ``exc``."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else ""
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
