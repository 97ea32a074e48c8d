"""A learned adjustment in the user's TIERLINE_HOME does not reach the suite.

The user's home is made here as a user makes one: `tierline tier` records calls,
`tierline feedback` turns their outcomes into an adjustment and the user makes it live.
Outside pytest that home moves the tier scores (the control, so the check below can fail);
the suite run with it as TIERLINE_HOME still scores with the shipped model and leaves the
home as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.home import HOME_ENV
from helpers.paths import ROOT

from tierline.agent.cli import main

SCORES = ("import json; from tierline.segmentation.features import CustomerProfile; "
          "from tierline.segmentation.tier import TierScorer; "
          "print(json.dumps(TierScorer(CustomerProfile(), llm=False).initial().scores))")
PROBE = ROOT / "tests" / "unit" / "segmentation" / "test_suite_home.py"


def _in_home(home: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, HOME_ENV: str(home)})


def _digest(home: Path) -> str:
    """The CRM database of ``home`` (its file and write-ahead log) as bytes hashed."""
    digest = hashlib.sha256()
    for name in ("crm.sqlite3", "crm.sqlite3-wal"):
        if (home / name).is_file():
            digest.update((home / name).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def learned_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's home where 20 calls converted: outcome-layer version 1 is active."""
    home = tmp_path_factory.mktemp("user-home")
    dialogs = home.parent / "dialogs.json"
    dialogs.write_text(json.dumps([{"id": f"call{i}", "utterances": ["你好，价格多少？",
                                                                      "我再考虑一下。"]}
                                   for i in range(20)], ensure_ascii=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(home))
        assert main(["tier", "--dialog", str(dialogs), "--json"]) == 0
        for i in range(20):
            assert main(["feedback", "--call", f"call{i}", "--outcome", "converted"]) == 0
        # it fails the held-out check, so it waits as a candidate: the user makes it live
        assert main(["feedback", "--rollback", "--to", "1"]) == 0
    return home


def test_the_users_adjustment_moves_the_scores_outside_the_suite(learned_home: Path,
                                                                 suite_home: Path) -> None:
    shipped = json.loads(_in_home(suite_home, "-c", SCORES).stdout)
    learned = json.loads(_in_home(learned_home, "-c", SCORES).stdout)
    assert learned != shipped  # the adjustment is live in that home: it moves the scores


def test_the_suite_run_in_that_home_sees_the_shipped_model(learned_home: Path) -> None:
    before = _digest(learned_home)
    run = _in_home(learned_home, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PROBE))
    assert run.returncode == 0, run.stdout[-3000:]
    assert "2 passed" in run.stdout
    assert _digest(learned_home) == before  # the suite wrote nothing into the user's home
