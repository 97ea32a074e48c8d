"""A private TIERLINE_HOME for the test session, with the user's assembled models linked in,
and none of the user's tierline settings.

TIERLINE_HOME holds both the assembled models (``models/``) and per-user state: the CRM
database (``crm.sqlite3``: the calls a replay writes, the outcome store whose learned
adjustment every tier scorer applies, the do-not-call list), training caches. Tests must see
the models and none of the state, so the suite runs in a fresh home whose ``models/`` holds one
symlink per model the user has assembled. Each model is linked, not ``models/`` itself, so a
test that writes a new model under ``$TIERLINE_HOME/models`` writes into the temporary home.

The user's settings go too (an LLM endpoint, a tier model of their own, a LiveKit server):
a test that wants one sets it itself. Where the data and the models are found stays.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "TIERLINE_HOME"
KEPT = frozenset({HOME_ENV, "TIERLINE_DATA", "TIERLINE_REQUIRE_MODELS",
                  "TIERLINE_TEST_PG_URL", "TIERLINE_REQUIRE_POSTGRES"})
"""TIERLINE_* variables the suite keeps; every other one is a user setting and is removed."""
USER_SETTINGS = ("TIERLINE_", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


def user_home(environ: dict[str, str] | os._Environ = os.environ) -> Path:
    """The home tierline would use outside the tests: ``$TIERLINE_HOME`` or ~/.cache/tierline."""
    return Path(environ.get(HOME_ENV) or Path.home() / ".cache" / "tierline").expanduser()


def isolated_home(real: Path, into: Path) -> Path:
    """Make ``into`` a home holding links to ``real``'s models and nothing else.

    Args:
        real: The user's home (may not exist: then no model is linked).
        into: An empty or missing directory to build the home in.

    Returns:
        ``into``.
    """
    models = into / "models"
    models.mkdir(parents=True, exist_ok=True)
    source = real / "models"
    if source.is_dir():
        for entry in sorted(source.iterdir()):
            (models / entry.name).symlink_to(entry.resolve(), entry.is_dir())
    return into


def drop_user_settings(environ: dict[str, str] | os._Environ = os.environ) -> dict[str, str]:
    """Remove the user's tierline and LiveKit settings from ``environ``.

    Returns:
        The removed variables with their values (to put back afterwards).
    """
    removed = {name: value for name, value in environ.items()
               if name.startswith(USER_SETTINGS) and name not in KEPT}
    for name in removed:
        del environ[name]
    return removed
