"""Feature matrices for training and evaluation, from generated dialogs and seed files.

Generated dialogs give one example per prefix (the tier after 0, 1, ..., n turns, since the
model runs after every turn); a seed-format dialog gives one example (its label is the tier
at the end of the call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TIERS, TurnEvidence
from tierline.segmentation.seedfmt import SeedDialog
from tierline.segmentation.state import FEATURE_NAMES, EvidenceState, crm_vector
from tierline.segmentation.training.generator import DialogGenerator, GeneratedDialog


def prefix_vectors(customer: CustomerProfile, evidence: Sequence[TurnEvidence]) -> np.ndarray:
    """Feature vectors after 0..n turns: [n + 1, F]."""
    crm = crm_vector(customer)
    state = EvidenceState()
    rows = [state.vector(crm)]
    for ev in evidence:
        state.add(ev)
        rows.append(state.vector(crm))
    return np.stack(rows)


def from_generated(dialogs: Iterable[GeneratedDialog],
                   final_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) with one row per prefix (or only the whole dialog with ``final_only``)."""
    xs, ys = [], []
    for d in dialogs:
        vecs = prefix_vectors(d.customer, d.evidence)
        labels = [TIERS.index(t) for t in d.labels]
        if final_only:
            vecs, labels = vecs[-1:], labels[-1:]
        xs.append(vecs)
        ys.extend(labels)
    if not xs:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs).astype(np.float32), np.asarray(ys, np.int64)


def seed_evidence(dialog: SeedDialog, gen: DialogGenerator) -> tuple[TurnEvidence, ...]:
    """NLU evidence of a seed dialog's turns (word-based emotion, no voice)."""
    return tuple(gen.evidence(u) for u in dialog.utterances)


def from_seed(dialogs: Iterable[SeedDialog],
              gen: DialogGenerator) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) with one row per seed dialog (its final state)."""
    rows, ys = [], []
    for d in dialogs:
        rows.append(prefix_vectors(d.customer, seed_evidence(d, gen))[-1])
        ys.append(TIERS.index(d.label))
    if not rows:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32), np.zeros(0, np.int64)
    return np.stack(rows).astype(np.float32), np.asarray(ys, np.int64)
