"""Scoring a dialect identifier: speaker-disjoint folds, confusion matrix, accuracy.

Pure numpy. The folds keep every speaker group on one side: a classifier that has heard a
speaker's other clips recognises the voice, not the dialect, so a random split overstates
what a new caller gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tierline.core.errors import TierlineError


class SplitError(TierlineError, ValueError):
    """The data cannot be split by speaker as asked (too few speakers for the folds)."""


def speaker_folds(families: Sequence[str], speakers: Sequence[str], k: int,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) index pairs with no speaker on both sides, each family's speakers
    spread over the folds.

    Every speaker group goes to one fold: a family's groups are shuffled (seeded) and dealt
    round-robin, largest first, so each fold holds about 1/k of each family.

    Raises:
        SplitError: a family has fewer speaker groups than folds, or a speaker appears under
            two families.
    """
    families = np.asarray(families)
    speakers = np.asarray(speakers)
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    for family in sorted(set(families.tolist())):
        groups = sorted(set(speakers[families == family].tolist()))
        if len(groups) < k:
            raise SplitError(f"{family}: {len(groups)} speaker(s), too few for {k} "
                             "speaker-disjoint folds (need at least one per fold)")
        sizes = {g: int((speakers == g).sum()) for g in groups}
        order = [groups[i] for i in rng.permutation(len(groups))]
        order.sort(key=lambda g: -sizes[g])
        load = np.zeros(k)
        for group in order:
            if group in fold_of:
                raise SplitError(f"speaker {group} is labelled with two families")
            fold = int(np.argmin(load + rng.random(k) * 1e-3))
            fold_of[group] = fold
            load[fold] += sizes[group]
    assignment = np.array([fold_of[s] for s in speakers.tolist()])
    out = []
    for fold in range(k):
        test = np.nonzero(assignment == fold)[0]
        train = np.nonzero(assignment != fold)[0]
        assert not set(speakers[test].tolist()) & set(speakers[train].tolist())
        out.append((train, test))
    return out


@dataclass(frozen=True)
class Scores:
    """Accuracy of predictions against truth over a set of labels.

    Attributes:
        labels: Row/column order of :attr:`confusion` (the true families; a last column
            ``unknown`` counts abstentions when there were any).
        confusion: (true, predicted) counts.
        n: Items scored.
        accuracy: Share predicted right (an abstention counts as wrong).
        balanced: Mean per-family recall.
        recall: Family → recall.
    """

    labels: tuple[str, ...]
    columns: tuple[str, ...]
    confusion: np.ndarray
    n: int
    accuracy: float
    balanced: float
    recall: dict[str, float]

    def to_dict(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4),
                "balanced_accuracy": round(self.balanced, 4),
                "recall": {k: round(v, 4) for k, v in self.recall.items()},
                "confusion": {"rows_true": list(self.labels), "columns_predicted":
                              list(self.columns), "counts": self.confusion.tolist()}}

    def table(self) -> str:
        """The confusion matrix as aligned text (rows: true family)."""
        width = max(8, *(len(c) for c in self.columns)) + 1
        head = "true \\ said".ljust(12) + "".join(c.rjust(width) for c in self.columns)
        rows = [head]
        for label, counts in zip(self.labels, self.confusion, strict=True):
            rows.append(label.ljust(12) + "".join(str(int(c)).rjust(width) for c in counts)
                        + f"   recall {self.recall[label]:.2f}")
        return "\n".join(rows)


def score(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> Scores:
    """Confusion matrix and accuracies of ``predicted`` against ``truth``.

    Args:
        truth: True family of each item.
        predicted: Predicted family or ``unknown``.
        labels: The families, in row order.
    """
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    columns = list(labels)
    extra = sorted(set(predicted.tolist()) - set(columns))
    columns += extra
    confusion = np.zeros((len(labels), len(columns)), dtype=int)
    for t, p in zip(truth.tolist(), predicted.tolist(), strict=True):
        confusion[labels.index(t), columns.index(p)] += 1
    recall = {f: float(confusion[i, i] / confusion[i].sum())
              for i, f in enumerate(labels) if confusion[i].sum()}
    n = int(confusion.sum())
    accuracy = float(np.trace(confusion[:, : len(labels)]) / n) if n else 0.0
    balanced = float(np.mean(list(recall.values()))) if recall else 0.0
    return Scores(tuple(labels), tuple(columns), confusion, n, accuracy, balanced, recall)
