"""Optional dependencies, installed by the extras of keras-ae (`pip install "keras-ae[plots]"`).

    umap = require("umap", "method 'umap'")   # the module, or MissingExtra in one line
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtra", "require"]

EXTRAS = {"matplotlib": ("plots", "matplotlib"), "umap": ("umap", "umap-learn")}
"""Top-level module -> (the extra of keras-ae that installs it, its distribution's name)."""


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require(module: str, needed_by: str) -> ModuleType:
    """Import `module` (one of EXTRAS, or a submodule of one), else raise MissingExtra:
    "`needed_by` needs DIST, which is not installed: pip install "keras-ae[EXTRA]"". A module
    that is installed but fails to import raises its own error."""
    top = module.partition(".")[0]
    extra, dist = EXTRAS[top]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name not in (top, module):
            raise
        raise MissingExtra(f'{needed_by} needs {dist}, which is not installed: '
                           f'pip install "keras-ae[{extra}]"', name=top) from None
