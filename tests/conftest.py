"""Suite-wide set-up: a private TIERLINE_HOME, markers by layer, the Whisper and data rules.

Layout (tests/README.md): ``unit/<layer>/`` fast tests, fakes allowed; ``model/`` real
models (Whisper, the shipped ONNX models, training smoke runs); ``e2e/`` sample calls
replayed and commands run as a user runs them. Each test gets the marker of its folder.

- **TIERLINE_HOME**: before any test module is imported, the session points TIERLINE_HOME
  at a temporary home with the user's assembled models linked in (helpers/home.py), so no
  test reads or writes the user's outcome store, do-not-call list or caches; child processes
  (the CLI run as a subprocess) inherit it. ``user_home`` is the home as it was. The user's
  other TIERLINE_* settings (LLM endpoint, tier model, ...) and LiveKit credentials are
  removed for the session; TIERLINE_DATA, TIERLINE_REQUIRE_MODELS and the PostgreSQL test
  settings (TIERLINE_TEST_PG_URL, TIERLINE_REQUIRE_POSTGRES) stay.
- **Whisper**: tests marked ``whisper`` need the assembled models (``make model``). Missing,
  they skip with the reason; with ``TIERLINE_REQUIRE_MODELS=1`` (set by ``make test``) they
  fail.
- **Shared data**: the ``shared_data`` fixture is ../shared/data or $TIERLINE_DATA, and
  skips the test with a reason when absent (helpers/data.py for its corpora).
- Fixtures: ``user_home``, ``suite_home``, ``fresh_home`` (an empty home of one test's own),
  ``shared_data``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import home as homes
from helpers.data import shared_data_dir
from helpers.require import missing

LAYERS = ("unit", "model", "e2e")
_TESTS = Path(__file__).resolve().parent
_USER_HOME = pytest.StashKey[Path]()
_HOME_BEFORE = pytest.StashKey[str | None]()
_SETTINGS = pytest.StashKey[dict[str, str]]()
_SUITE_HOME = pytest.StashKey[Path]()
_WHISPER = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    """Switch TIERLINE_HOME to a private home before collection imports any test module."""
    real = homes.user_home()
    home = homes.isolated_home(real, Path(tempfile.mkdtemp(prefix="tierline-test-home-")))
    config.stash[_USER_HOME] = real
    config.stash[_HOME_BEFORE] = os.environ.get(homes.HOME_ENV)
    config.stash[_SETTINGS] = homes.drop_user_settings()
    config.stash[_SUITE_HOME] = home
    os.environ[homes.HOME_ENV] = str(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_SUITE_HOME, None)
    if home is None:
        return
    before = config.stash[_HOME_BEFORE]
    if before is None:
        os.environ.pop(homes.HOME_ENV, None)
    else:
        os.environ[homes.HOME_ENV] = before
    os.environ.update(config.stash[_SETTINGS])
    shutil.rmtree(home, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"TIERLINE_HOME: {config.stash[_SUITE_HOME]} "
            f"(models linked from {config.stash[_USER_HOME]})"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its layer (the first folder under tests/)."""
    for item in items:
        try:
            layer = item.path.resolve().relative_to(_TESTS).parts[0]
        except ValueError:
            continue  # a test file given from outside tests/: leave it alone
        if layer not in LAYERS:
            raise pytest.UsageError(
                f"{item.path}: tests live under tests/unit/<layer>, tests/model or tests/e2e")
        item.add_marker(layer)


def _whisper_problem(config: pytest.Config) -> str | None:
    """Why the assembled Whisper models cannot be used, or None when they can."""
    from tierline.dialects.errors import ModelError
    from tierline.dialects.models import resolve_asr_model, resolve_readings_model

    try:
        resolve_asr_model(None)
        resolve_readings_model(None)
    except ModelError as exc:
        # the suite's models are links to the user's: name the user's home, where to fix it
        where = str(exc).replace(str(config.stash[_SUITE_HOME]), str(config.stash[_USER_HOME]))
        return f"Whisper models not assembled: {where}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("whisper") is None:
        return
    stash = item.config.stash
    if _WHISPER not in stash:
        stash[_WHISPER] = _whisper_problem(item.config)
    if stash[_WHISPER]:
        missing(stash[_WHISPER])


@pytest.fixture(scope="session")
def user_home(pytestconfig: pytest.Config) -> Path:
    """TIERLINE_HOME as it was when pytest started (read-only for tests: never write to it)."""
    return pytestconfig.stash[_USER_HOME]


@pytest.fixture(scope="session")
def suite_home(pytestconfig: pytest.Config) -> Path:
    """The session's private TIERLINE_HOME."""
    return pytestconfig.stash[_SUITE_HOME]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $TIERLINE_DATA); the test skips with a reason when it is absent."""
    return shared_data_dir()


@pytest.fixture()
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TIERLINE_HOME of this test's own, for tests that check what a command writes."""
    home = tmp_path / "home"
    monkeypatch.setenv(homes.HOME_ENV, str(home))
    return home
