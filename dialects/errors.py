"""Errors raised by the ASR layer for problems the user can fix."""


class ModelError(RuntimeError):
    """A model is missing, incomplete or corrupt; the message says how to fix it."""
