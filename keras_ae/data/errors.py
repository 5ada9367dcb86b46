"""The single exception type raised for every data problem."""

from __future__ import annotations


class DataError(ValueError):
    """A data source is missing, malformed or cannot be loaded.

    The message is always a single line that names the problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def first_line(exc: BaseException, limit: int = 300, *, with_type: bool = False) -> str:
    """A short one-line description of ``exc``: its first non-empty line (TensorFlow's messages
    run to pages), prefixed with the exception's type when ``with_type``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    if not line:
        return type(exc).__name__
    return f"{type(exc).__name__}: {line}" if with_type else line
