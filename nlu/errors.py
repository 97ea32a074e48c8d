"""The NLU layer's bad-input error (the command line prints it as one line, exit code 2)."""

from __future__ import annotations

from tierline.core.errors import TierlineError

__all__ = ["NluError"]


class NluError(TierlineError, ValueError):
    """A corpus, model file, data directory or training dependency is missing or unreadable."""
