"""The one error base of Tierline and the exit codes of the command line.

Every error a user can fix (a bad file, a missing model, a wrong setting) derives from
:class:`TierlineError`. The command line prints such an error as one line on stderr and
exits with its :attr:`~TierlineError.exit_code`; anything else is a bug and keeps its
traceback. Layer errors also derive from the built-in type they always were (``ValueError``,
``RuntimeError``), so ``except ValueError`` in callers keeps working.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 2
"""Bad input or setup: a file, a value, a missing model. One line on stderr."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), as a shell reports it."""


class TierlineError(Exception):
    """An error the user can fix; the message is one line that says how.

    Attributes:
        exit_code: What the command line exits with (default :data:`EXIT_BAD_INPUT`).
    """

    exit_code: int = EXIT_BAD_INPUT


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an error the command line reports in one line, or None for a bug.

    ``OSError`` counts as the user's (a missing file, a full disk, a refused port).
    """
    if isinstance(exc, TierlineError):
        return exc.exit_code
    if isinstance(exc, OSError):
        return EXIT_BAD_INPUT
    return None


def one_line(exc: BaseException) -> str:
    """The one-line message of a user error (``OSError`` with its file name)."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    text = str(exc) or type(exc).__name__
    return text.replace("\n", " ")
