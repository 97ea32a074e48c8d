"""Errors raised by the audio layer."""

from __future__ import annotations

from tierline.core.errors import TierlineError


class AudioError(TierlineError, ValueError):
    """Bad audio input, described in one human-readable line.

    Raised for missing, empty, truncated or unrecognised files, unsupported sample
    rates, invalid channel choices and invalid endpointer settings. The command line
    prints the message and exits with code 2.
    """
