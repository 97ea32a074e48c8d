"""The `tierline` command line.

Subcommands live in :mod:`tierline.agent.commands`, one module each, and are discovered at
start-up. Bad input: one line on stderr and exit code 2 (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from tierline.agent import commands
from tierline.agent.clikit import EXIT_BAD_INPUT, UsageError


def _command_modules() -> list[ModuleType]:
    """Every module of :mod:`tierline.agent.commands`, in name order."""
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.ispkg)
    return [importlib.import_module(f"{commands.__name__}.{n}") for n in names]


def _input_errors(modules: list[ModuleType]) -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input (message printed, exit 2)."""
    from tierline.agent.text_dialogs import DialogError
    from tierline.audio.errors import AudioError
    from tierline.dialects.errors import ModelError
    from tierline.dialects.evaluation.cer import ManifestError
    from tierline.segmentation.features import CustomerError

    errors: list[type[BaseException]] = [UsageError, AudioError, CustomerError, ModelError,
                                         ManifestError, DialogError, OSError]
    for module in modules:
        errors.extend(getattr(module, "INPUT_ERRORS", ()))
    return tuple(errors)


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
        return 130
    except BrokenPipeError:
        return 0
    except _input_errors(modules) as exc:
        if args.debug:
            raise
        msg = str(exc)
        if isinstance(exc, OSError) and exc.filename:
            msg = f"{exc.strerror}: {exc.filename}"
        print(f"tierline: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
