"""Errors raised by the ASR layer for problems the user can fix."""

from tierline.core.errors import TierlineError


class ModelError(TierlineError, RuntimeError):
    """A model is missing, incomplete or corrupt; the message says how to fix it."""
