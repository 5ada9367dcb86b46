"""keras_ae: autoencoders for Keras 3 — train, evaluate, use and export them.

Importing keras_ae imports nothing heavy: its public names (and submodules) are imported when
first used, so TensorFlow starts only when something needs it. The model classes are registered with
Keras as soon as Keras is imported (before or after keras_ae), so `keras.saving.load_model`
loads keras_ae's `.keras` files wherever keras_ae is imported. Importing it changes no
environment variable and no stream (the command line quiets TensorFlow's logs itself).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

__version__ = "0.1.0"

_PUBLIC = {
    "PRESETS": "keras_ae.models.presets", "Autoencoder": "keras_ae.models",
    "BaseAutoencoder": "keras_ae.models",
    "ContractiveAutoencoder": "keras_ae.models", "Noise": "keras_ae.data.noise",
    "RunConfig": "keras_ae.models.config", "Sampling": "keras_ae.models",
    "Sparsity": "keras_ae.models", "VQVAE": "keras_ae.models",
    "VariationalAutoencoder": "keras_ae.models", "build": "keras_ae.models.presets",
    "load_model": "keras_ae.models.saving", "preset_config": "keras_ae.models.presets",
}
__all__ = sorted(_PUBLIC)

_MODULES = {
    # short names of modules, `from keras_ae import plots` or `keras_ae.export.export_tflite`
    "arguments": "keras_ae.utils.arguments", "backend": "keras_ae.utils.backend",
    "io": "keras_ae.utils.io", "quiet": "keras_ae.utils.quiet",
    "config": "keras_ae.models.config", "nets": "keras_ae.models.nets",
    "objectives": "keras_ae.models.objectives", "precision": "keras_ae.models.precision",
    "presets": "keras_ae.models.presets", "saving": "keras_ae.models.saving",
    "deep_clustering": "keras_ae.analysis.deep_clustering", "detect": "keras_ae.analysis.detect",
    "evaluate": "keras_ae.analysis.evaluate", "features": "keras_ae.analysis.features",
    "projection": "keras_ae.analysis.projection",
    "plots": "keras_ae.visualization.plots", "report": "keras_ae.visualization.report",
    "report_figures": "keras_ae.visualization.report_figures",
    "callbacks": "keras_ae.training.callbacks",
    "distributed_fit": "keras_ae.training.distributed_fit",
    "divergence": "keras_ae.training.divergence", "run_folder": "keras_ae.training.run_folder",
    "runlock": "keras_ae.training.runlock", "strategies": "keras_ae.training.strategies",
    "tensorboard": "keras_ae.training.tensorboard", "train": "keras_ae.training.train",
    "inputs": "keras_ae.data.inputs", "export": "keras_ae.serving.export",
    "outputs": "keras_ae.serving.outputs", "predict": "keras_ae.serving.predict",
}


def __getattr__(name: str):
    """A public name, a module by its short name or a subpackage, imported on first use
    (PEP 562)."""
    if name in _PUBLIC:
        from keras_ae.utils.backend import require_tensorflow

        require_tensorflow()  # before Keras is imported: one line, not a failure inside it
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif (name.isidentifier() and not name.startswith("_")
          and importlib.util.find_spec(f"{__name__}.{name}") is not None):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])


class _RegisterWithKeras:
    """An import hook, until Keras is imported: once Keras is imported (by anyone) and no
    import of Keras, TensorFlow or a keras_ae module is still running (so none is
    half-initialised), keras_ae.models is imported, whose classes register themselves with
    Keras, and the hook removed."""

    def __init__(self) -> None:
        self._depth = 0
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        watched = name in ("keras", "tensorflow") or name.startswith(f"{__name__}.")
        if not watched or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(name)  # the spec the other finders give
        finally:
            self._finding = False
        if spec is not None and hasattr(spec.loader, "exec_module"):
            exec_module = spec.loader.exec_module

            def exec_then_register(module):
                self._depth += 1
                try:
                    exec_module(module)
                finally:
                    self._depth -= 1
                if self._depth == 0 and "keras" in sys.modules:
                    _register_models()

            spec.loader.exec_module = exec_then_register
        return spec


def _register_models() -> None:
    from keras_ae.utils.backend import keras_backend

    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegisterWithKeras)]
    if keras_backend() == "tensorflow":  # on another backend, the model API refuses to start
        importlib.import_module(f"{__name__}.models")


if "keras" in sys.modules:
    _register_models()  # Keras is loaded already: registering costs little
else:
    sys.meta_path.insert(0, _RegisterWithKeras())
