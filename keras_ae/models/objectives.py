"""The objective registry: every objective keras_ae can train, by name.

An objective is one module defining its model class and an `Objective` entry (its options with
their validation, its export signatures and the loss terms it reports); adding one is that module
plus one line in `_ENTRIES`.
"""

from __future__ import annotations

from keras_ae.models import autoencoder, contractive, one_class, vae, vq_vae
from keras_ae.models.objective import Objective, Option

_ENTRIES = (
    autoencoder.OBJECTIVE,
    vae.OBJECTIVE,
    contractive.OBJECTIVE,
    vq_vae.OBJECTIVE,
    one_class.OBJECTIVE,
)

OBJECTIVES: dict[str, Objective] = {entry.name: entry for entry in _ENTRIES}

__all__ = ["OBJECTIVES", "Objective", "Option", "all_options", "get_objective", "objective_of"]


def get_objective(name: str) -> Objective:
    """The objective called `name`, or ValueError listing the known ones."""
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def objective_of(model) -> Objective:
    """The objective a keras_ae model trains (the most specific registered class it is)."""
    for entry in sorted(OBJECTIVES.values(), key=lambda e: -len(e.model_class.__mro__)):
        if isinstance(model, entry.model_class):
            return entry
    raise ValueError(f"{type(model).__name__} is not a keras_ae model (objectives: "
                     f"{', '.join(OBJECTIVES)})")


def all_options() -> dict[str, Option]:
    """Every objective's options by name (an option shared by objectives appears once)."""
    options: dict[str, Option] = {}
    for entry in OBJECTIVES.values():
        for option in entry.options:
            options.setdefault(option.name, option)
    return options
