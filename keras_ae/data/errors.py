"""The single exception type raised for every data problem (its wording: keras_ae.utils.text)."""

from __future__ import annotations


class DataError(ValueError):
    """A data source is missing, malformed or cannot be loaded.

    The message is always a single line that names the problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
