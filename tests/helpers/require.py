"""Skip a test whose prerequisite is missing, or fail it where the prerequisite is promised.

``make test`` installs the extras, espeak-ng and the assembled Whisper models before it runs
the suite, and sets ``TIERLINE_REQUIRE_MODELS=1``: there a missing prerequisite is a broken
set-up and must fail, not hide behind a skip. Run by hand without it, the test skips and says
what is missing.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REQUIRE_ENV = "TIERLINE_REQUIRE_MODELS"


def required() -> bool:
    """True when prerequisites are promised (``TIERLINE_REQUIRE_MODELS=1``)."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing(reason: str) -> None:
    """Stop the current test: fail when prerequisites are promised, else skip.

    Args:
        reason: What is missing and how to get it (one line).
    """
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def module(name: str, extra: str) -> ModuleType:
    """Import ``name``, or stop the test as :func:`missing` does.

    Args:
        name: Module to import (e.g. ``torch``).
        extra: The pyproject extra that installs it (e.g. ``train``).
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} is not installed: pip install -e '.[{extra}]' (make test does)")
        raise  # unreachable: missing() raises
