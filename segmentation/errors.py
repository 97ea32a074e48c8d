"""Errors of the tiering layer that mean bad input (the CLI prints them as one line, exit 2)."""

from __future__ import annotations

from tierline.core.errors import TierlineError


class TierDataError(TierlineError, ValueError):
    """A tiering input file (seed-format CSVs, customer base, outcomes) is malformed."""

