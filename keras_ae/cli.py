"""The `keras-ae` command line; each sub-command lives in its own module of keras_ae.commands.

Importing this module imports nothing heavy: TensorFlow and the command modules are imported
inside `main`, so that Ctrl-C at any moment ends the command with one line."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from keras_ae.utils import interrupts  # standard library only

COMMAND_NAMES = ("train", "evaluate", "export", "predict", "detect", "plot", "sample")
RESUMABLE = ("train",)  # the commands that continue where an interrupted run stopped


def commands() -> dict[str, ModuleType]:
    """The sub-command modules by name (importing them imports TensorFlow)."""
    return {name: importlib.import_module(f"keras_ae.commands.{name}") for name in COMMAND_NAMES}


def __getattr__(name: str):
    if name == "COMMANDS":  # the modules by name, imported on first use
        return commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _parser(modules: dict[str, ModuleType]):
    from keras_ae.commands.common import Parser

    parser = Parser(prog="keras-ae", description="Autoencoders for Keras: train, evaluate, export.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in modules.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0; 2 with a one-line reason on stderr; 130 with one
    line after Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with interrupts.noted():
        try:
            status = _run(argv)
            if not interrupts.received():  # else a Ctrl-C was swallowed on its way
                return status
        except KeyboardInterrupt:
            pass
        except Exception:
            if not interrupts.received():
                raise
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    resume = "; rerun the same command to resume" if command in RESUMABLE else ""
    print(f"keras-ae: interrupted{resume}", file=sys.stderr)
    return 130


def _run(argv: list[str]) -> int:
    from keras_ae.utils.backend import require_tensorflow

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow starts: no INFO lines

    try:
        require_tensorflow()
    except RuntimeError as err:
        print(f"keras-ae: error: {err}", file=sys.stderr)
        return 2
    from keras_ae.utils.quiet import (command_streams, import_tensorflow_quietly,
                                      initialise_devices_quietly, quiet_python_logs)

    with interrupts.deferred():  # Ctrl-C inside a C extension's import can abort the process
        import_tensorflow_quietly()
    from keras_ae.commands.common import CLIError
    from keras_ae.training.strategies import start_strategy
    from keras_ae.utils.extras import MissingExtra
    from keras_ae.utils.io import OutputExistsError
    from keras_ae.utils.text import first_line

    try:
        with interrupts.deferred():
            modules = commands()
        args = _parser(modules).parse_args(argv)
        with quiet_python_logs(), command_streams():
            start_strategy(getattr(args, "strategy", None))  # before devices: multiworker's
            initialise_devices_quietly()
            return modules[args.command].run(args)
    except (CLIError, ValueError, OSError, RuntimeError, MissingExtra) as err:
        if interrupts.received():  # an ImportError (or TensorFlow's error) Ctrl-C caused
            raise KeyboardInterrupt from err
        # RuntimeError covers ExportError and TensorFlow's errors (out of memory included);
        # MissingExtra names the extra of keras-ae to install
        # an OSError of the system's (it has an errno) is named; keras_ae's own say the problem
        message = (err.command_line() if isinstance(err, OutputExistsError) else
                   first_line(err, with_type=isinstance(err, OSError) and err.errno is not None))
        print(f"keras-ae: error: {message}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a user gets one line, a developer the traceback
        if interrupts.received():
            raise KeyboardInterrupt from err
        if os.environ.get("KERAS_AE_DEBUG") == "1":
            raise
        print(f"keras-ae: error: unexpected {first_line(err, with_type=True)} "
              "(set KERAS_AE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
