"""The suite runs in its own TIERLINE_HOME (tests/conftest.py): the user's assembled models are
linked in, and none of the user's learned state reaches a test.

e2e/test_isolation.py runs this file with a learned adjustment active in the user's home.
"""

from __future__ import annotations

import os
from pathlib import Path

from tierline.dialects.models import tierline_home
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.tier import TierScorer


def test_the_suite_has_its_own_home_with_the_users_models_linked(suite_home: Path,
                                                                  user_home: Path) -> None:
    assert Path(os.environ["TIERLINE_HOME"]) == tierline_home() == suite_home
    assert suite_home.resolve() != user_home.resolve()
    users = user_home / "models"
    for model in users.iterdir() if users.is_dir() else ():
        link = suite_home / "models" / model.name
        assert link.is_symlink() and link.resolve() == model.resolve()
    # a model a test assembles (e.g. Kokoro, when the user has none) lands in the suite's home
    assert (suite_home / "models").is_dir() and not (suite_home / "models").is_symlink()


def test_the_default_tier_scorer_applies_no_learned_adjustment() -> None:
    default = TierScorer(CustomerProfile(), llm=False)
    shipped = TierScorer(CustomerProfile(), adapter=Adapter(), llm=False)
    assert default.adapter.is_identity
    assert default.initial().scores == shipped.initial().scores
