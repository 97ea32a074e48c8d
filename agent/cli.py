"""The `tierline` command line.

Subcommands live in :mod:`tierline.agent.commands`, one module each, and are discovered at
start-up. An error the user can fix (:class:`~tierline.core.errors.TierlineError`, or an
``OSError`` such as a missing file) is one line on stderr and its exit code, 2 for bad input
(a traceback only with --debug); :mod:`tierline.core.errors` holds the codes.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from tierline.agent import commands
from tierline.core.errors import EXIT_INTERRUPTED, exit_code_for, one_line


def _command_modules() -> list[ModuleType]:
    """Every module of :mod:`tierline.agent.commands`, in name order."""
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.ispkg)
    return [importlib.import_module(f"{commands.__name__}.{n}") for n in names]


def build_parser(modules: list[ModuleType] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="tierline",
        description="Voice call-center bot with live caller tiering.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules if modules is not None else _command_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    modules = _command_modules()
    args = build_parser(modules).parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("tierline: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:
        code = exit_code_for(exc)
        if code is None or args.debug:
            raise
        print(f"tierline: error: {one_line(exc)}", file=sys.stderr)
        return code

if __name__ == "__main__":
    sys.exit(main())
