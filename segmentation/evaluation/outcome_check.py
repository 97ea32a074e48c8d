"""The held-out check that decides whether a newly learned online layer may go live.

Outcomes from the field are few and may be wrong (a mistyped call id, a test run). Before a
new version of the online layer (:mod:`tierline.segmentation.outcome_layer`) replaces the
active one, both are scored on the same check set: the final turns of generated dialogs from
the *test* template pool with a seed of their own, which neither the tier model nor any
outcome ever saw. The new version goes live only when it is at least as accurate; otherwise
it is kept as a candidate (``tierline feedback --status`` shows both numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.records import TIERS

CHECK_SEED = 20_240_777
"""Generator seed of the check set (neither training nor tier-eval uses it)."""
CHECK_SIZE = 400


@dataclass(frozen=True)
class CheckSet:
    """Base tier-model logits of each check dialog's final turn and its true tier.

    Attributes:
        model_version: Tier model the logits come from.
        logits: [n, 4] base logits (before any online layer).
        labels: [n] true tier indices.
    """

    model_version: str
    logits: np.ndarray
    labels: np.ndarray

    def accuracy(self, adapter: Adapter) -> float:
        """Final-tier accuracy of the model with ``adapter`` on the check set."""
        pred = adapter.apply(self.logits).argmax(axis=1)
        return round(float((pred == self.labels).mean()), 4)


@lru_cache(maxsize=2)
def check_set(model_version: str, size: int = CHECK_SIZE) -> CheckSet:
    """The check set for the shipped tier model (computed once per process, ~3 s).

    Raises:
        TierModelError: the tier model cannot be loaded.
    """
    from tierline.segmentation.model import MAIN, load_model
    from tierline.segmentation.tier import TierScorer
    from tierline.segmentation.training.generator import DialogGenerator

    model = load_model(MAIN)
    logits, labels = [], []
    for dialog in DialogGenerator(split="test").iter(size, CHECK_SEED, "check"):
        scorer = TierScorer(dialog.customer, model, Adapter(), llm=False)
        for evidence in dialog.evidence:
            scorer.update(evidence)
        logits.append(scorer.snapshot().logits)
        labels.append(TIERS.index(dialog.labels[-1]))
    return CheckSet(model.version, np.asarray(logits, np.float32), np.asarray(labels))
