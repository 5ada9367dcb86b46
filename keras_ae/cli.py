"""The `keras-ae` command line; each sub-command lives in its own module of keras_ae.commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from keras_ae.commands import detect, evaluate, export, plot, predict, sample, train
from keras_ae.commands.common import CLIError, Parser
from keras_ae.quiet import initialise_devices_quietly, quiet_python_logs
from keras_ae.strategies import start_strategy

COMMANDS = {module.NAME: module for module in (train, evaluate, export, predict, detect, plot, sample)}


def _parser() -> Parser:
    parser = Parser(prog="keras-ae", description="Autoencoders for Keras: train, evaluate, export.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 with a one-line reason on stderr)."""
    from keras_ae.data.errors import first_line

    try:
        args = _parser().parse_args(argv)
        with quiet_python_logs():
            start_strategy(getattr(args, "strategy", None))  # before devices: multiworker's
            initialise_devices_quietly()
            return COMMANDS[args.command].run(args)
    except (CLIError, ValueError, OSError, RuntimeError) as err:
        # RuntimeError covers ExportError and TensorFlow's errors (out of memory included)
        print(f"keras-ae: error: {first_line(err, with_type=isinstance(err, OSError))}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("keras-ae: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a user gets one line, a developer the traceback
        if os.environ.get("KERAS_AE_DEBUG") == "1":
            raise
        print(f"keras-ae: error: unexpected {first_line(err, with_type=True)} "
              "(set KERAS_AE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
