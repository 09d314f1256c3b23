"""The `atlas` command. Each subcommand lives in its own module here, exposing `register`.

Modules are discovered, so adding a command means adding a module with
`register(subparsers) -> None` that sets `func` (returning an exit code) on its parser.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from atlas.errors import AtlasError


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atlas", description="The RNN Solution Atlas.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CommandError, AtlasError) as exc:  # a user's mistake (AtlasError: not found, ...)
        print(f"atlas {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
