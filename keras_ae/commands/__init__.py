"""The `keras-ae` sub-commands, one module each.

A command module defines `NAME`, `add_parser(subparsers)` (which registers its sub-parser and
returns it) and `run(args) -> int` (the exit status). `keras_ae.cli` lists the modules in
`COMMANDS`; shared options and errors live in `keras_ae.commands.common`.
"""
