"""The online layer over the tier model's logits, learned from call outcomes.

``adapted = A @ logits + b``, starting at the identity (``A = I``, ``b = 0``). Outcomes train it
as a multinomial logistic regression on the model's logits: ``converted`` → high, ``lost`` →
low, ``churned`` → churn_risk. Guards: every step is bounded (the gradient of one update is
clipped to ``MAX_STEP`` in norm) and the layer never strays further than ``MAX_DRIFT`` from
the identity (Frobenius norm of ``[A - I, b]``), so outcomes can recalibrate the tiers but not
rewrite their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tierline.segmentation.records import TIERS

OUTCOME_TIER = {"converted": "high", "lost": "low", "churned": "churn_risk"}
LEARNING_RATE = 0.05
MAX_STEP = 0.05
MAX_DRIFT = 1.0


@dataclass(frozen=True)
class Adapter:
    """One version of the online layer.

    Attributes:
        version: 0 for the identity, then 1, 2, ... as outcomes accumulate.
        a: 4×4 matrix.
        b: 4 biases.
    """

    version: int = 0
    a: tuple[tuple[float, ...], ...] = tuple(
        tuple(float(i == j) for j in range(len(TIERS))) for i in range(len(TIERS)))
    b: tuple[float, ...] = (0.0,) * len(TIERS)

    @property
    def is_identity(self) -> bool:
        return self == Adapter(self.version)

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Adapted logits for a [4] vector or a [n, 4] batch."""
        if self.is_identity:
            return logits
        return logits @ np.asarray(self.a, np.float32).T + np.asarray(self.b, np.float32)

    def drift(self) -> float:
        a = np.asarray(self.a) - np.eye(len(TIERS))
        return float(np.sqrt((a**2).sum() + (np.asarray(self.b) ** 2).sum()))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def train_step(adapter: Adapter, logits: Sequence[Sequence[float]],
               outcomes: Sequence[str], version: int) -> Adapter:
    """One guarded pass of online logistic regression over new outcomes.

    Args:
        adapter: The current layer.
        logits: Base model logits of each call's final turn.
        outcomes: ``converted``, ``lost`` or ``churned`` per call.
        version: Version number of the result.

    Returns:
        The new layer (bounded steps, drift capped at ``MAX_DRIFT``).
    """
    a = np.asarray(adapter.a, np.float64)
    b = np.asarray(adapter.b, np.float64)
    for z, outcome in zip(logits, outcomes, strict=True):
        z = np.asarray(z, np.float64)
        target = np.zeros(len(TIERS))
        target[TIERS.index(OUTCOME_TIER[outcome])] = 1.0
        err = _softmax(a @ z + b) - target
        grad_a, grad_b = np.outer(err, z), err
        norm = float(np.sqrt((grad_a**2).sum() + (grad_b**2).sum()))
        scale = LEARNING_RATE * min(1.0, MAX_STEP / (LEARNING_RATE * norm)) if norm else 0.0
        a -= scale * grad_a
        b -= scale * grad_b
        delta = np.concatenate([(a - np.eye(len(TIERS))).ravel(), b])
        size = float(np.linalg.norm(delta))
        if size > MAX_DRIFT:
            delta *= MAX_DRIFT / size
            a = np.eye(len(TIERS)) + delta[: a.size].reshape(a.shape)
            b = delta[a.size:]
    return Adapter(version, tuple(tuple(round(float(v), 6) for v in row) for row in a),
                   tuple(round(float(v), 6) for v in b))
