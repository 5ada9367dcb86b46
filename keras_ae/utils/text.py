"""The wording of one-line messages: an exception's first line, counts and articles."""

from __future__ import annotations


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


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and `noun` in agreement: "1 file", "3 files" (`nouns`: an irregular plural)."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def with_article(noun: str) -> str:
    """`noun` after its indefinite article: "a VQVAE", "an Autoencoder"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
