"""Classification quality of one system on one text set: accuracy, per-label F1, macro-F1,
confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tierline.nlu.vocab import INTENTS

__all__ = ["Scores", "score"]


@dataclass(frozen=True)
class Scores:
    """Classification quality of one system on one text set.

    Attributes:
        n: Number of texts.
        accuracy: Share of exact labels.
        macro_f1: Mean F1 over the labels present in truth or prediction.
        f1: F1 per label.
        confusion: ``confusion[truth][predicted]`` counts.
    """

    n: int
    accuracy: float
    macro_f1: float
    f1: dict[str, float] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4),
                "macro_f1": round(self.macro_f1, 4),
                "f1": {k: round(v, 4) for k, v in self.f1.items()},
                "confusion": self.confusion}


def score(truth: Sequence[str], predicted: Sequence[str],
          labels: Sequence[str] = INTENTS) -> Scores:
    """Accuracy, per-label F1, macro-F1 and the confusion matrix.

    Labels with neither a true nor a predicted example are left out of the macro mean.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    f1: dict[str, float] = {}
    for lab in labels:
        tp = confusion[lab][lab]
        n_true = sum(confusion[lab].values())
        n_pred = sum(confusion[t][lab] for t in labels)
        if n_true == 0 and n_pred == 0:
            continue
        f1[lab] = 2 * tp / (n_true + n_pred)
    n = len(truth)
    acc = sum(t == p for t, p in zip(truth, predicted, strict=True)) / n if n else 0.0
    macro = sum(f1.values()) / len(f1) if f1 else 0.0
    return Scores(n, acc, macro, f1, confusion)
