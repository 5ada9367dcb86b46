"""What an objective is: its model class, its options (validated here) and what it reports.

Each objective module (`models/autoencoder.py`, `models/vae.py`, …) defines one `Objective`;
`keras_ae.models.objectives` lists them. `build`, the command line, export and evaluation read the
objective instead of branching on model classes, so a new objective is one module and one
entry in that list.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any


CODE_SHAPES = ("vector", "map")


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of an objective: its config key, default, parser and command-line form.

    `parse` turns a user's value into the normalised, JSON-ready value stored in config.json,
    or raises ValueError naming the problem. `flag` defaults to `--name` with dashes.
    """

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    flag: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    cli_type: Callable[[str], Any] = str

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Objective:
    """An objective: `name`, the model class that trains it and the options that class takes.

    The model class declares its export signatures (`SIGNATURES`), the loss terms it reports
    as metrics (`loss_term_names(options)`) and any other metrics (`metric_names(options)`). Hooks: `latent_activation(options)` (the code's
    activation the objective needs, or None), `check(options, architecture)` (cross-option rules,
    raising ValueError) and `regularises(options)` (whether an overcomplete code is safe).
    `xla` says whether XLA may compile its training step where that is faster (dense nets).
    """

    name: str
    model_class: type
    options: tuple[Option, ...]
    description: str
    encoder_heads: int = 1
    architectures: tuple[str, ...] = ("dense", "conv", "linear")
    code: str = "vector"
    latent_activation: Callable[[Mapping[str, Any]], str | None] = lambda options: None
    check: Callable[[Mapping[str, Any], str], None] = lambda options, architecture: None
    regularises: Callable[[Mapping[str, Any]], bool] = lambda options: False
    xla: bool = True

    def __post_init__(self) -> None:
        if self.code not in CODE_SHAPES:
            raise ValueError(f"unknown code shape {self.code!r} of objective {self.name!r}; "
                             f"choose one of {', '.join(CODE_SHAPES)}")

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    @property
    def signatures(self) -> tuple[str, ...]:
        """The export signatures of this objective's models."""
        return tuple(self.model_class.SIGNATURES)

    def metrics(self, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The metrics a model of this objective reports besides `loss`: its loss terms, then
        any others (the VQ-VAE's codebook usage and perplexity)."""
        return tuple(self.model_class.metric_names(self.resolve(options or {})))

    def defaults(self) -> dict[str, Any]:
        return {option.name: option.default for option in self.options}

    def resolve(self, options: Mapping[str, Any], architecture: str | None = None) -> dict[str, Any]:
        """The defaults updated with `options`, each parsed; an option of another objective, or
        an architecture this objective cannot use, is a ValueError naming the objective."""
        unknown = [key for key in options if key not in self.option_names]
        if unknown:
            raise ValueError(
                f"option {unknown[0]!r} does not apply to the {self.name} objective "
                f"(its options: {', '.join(self.option_names) or 'none'})")
        if architecture is not None and architecture not in self.architectures:
            raise ValueError(f"the {self.name} objective takes the {' or '.join(self.architectures)} "
                             f"architecture, not {architecture!r}")
        resolved = self.defaults()
        for option in self.options:
            if option.name in options:
                resolved[option.name] = option.parse(options[option.name])
        if architecture is not None:
            self.check(resolved, architecture)
        return resolved

    def build(self, encoder, decoder, options: Mapping[str, Any], *, seed: int | None,
              name: str | None = None):
        """The model of this objective around `encoder` and `decoder`."""
        return self.model_class(encoder, decoder, **self.resolve(options), seed=seed, name=name)


# --- parsers shared by the objectives' options -----------------------------------------------
def choice(name: str, choices: Sequence[str]) -> Callable[[Any], str]:
    """A parser accepting one of `choices`."""

    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        return value

    return parse


def number(name: str, *, minimum: float = 0.0, inclusive: bool = True) -> Callable[[Any], float]:
    """A parser accepting a finite number >= `minimum` (> with `inclusive=False`)."""

    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        ok = value >= minimum if inclusive else value > minimum
        if not (math.isfinite(value) and ok):
            bound = ">=" if inclusive else ">"
            raise ValueError(f"{name} must be a finite number {bound} {minimum:g}, got {value!r}")
        return float(value)

    return parse


def integer(name: str, *, minimum: int = 0) -> Callable[[Any], int]:
    """A parser accepting an integer >= `minimum` (a float with an integral value counts)."""

    def parse(value: Any) -> int:
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return int(value)

    return parse


def optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, letting None (off) through."""
    return lambda value: None if value is None else parse(value)
