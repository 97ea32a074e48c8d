"""Per-call tiering with the trained model: evidence in, calibrated tier with reasons out.

After every caller turn :class:`TierScorer` folds the turn into the call's
:class:`~tierline.segmentation.state.EvidenceState`, runs the ONNX tier model on the evidence
plus the CRM record (and, in the same batch, on the occluded copies that measure each reason),
applies the online layer learned from outcomes, optionally blends in an LLM's opinion, and
decides the label with hysteresis:

- the label changes only when the new leader's probability exceeds the current label's by
  ``HYSTERESIS`` (one ambiguous turn cannot flip it);
- a decisive signal ("年度预算100万", "合同到期就不续了") moves the probabilities far more than
  that margin, so it switches the tier at once.

churn_risk is ruled out for a caller who is not an existing customer (contract_value 0 or
unknown), as ARCHITECTURE.md defines it; the model's other tiers share that probability.

Tier semantics are those of ARCHITECTURE.md, as encoded by the training labels
(:mod:`tierline.segmentation.labels`). The hand-weighted scorer that came first lives on as
:class:`tierline.segmentation.rules.RuleTierScorer`, a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.model import TierModel, load_model
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.reasons import explain, occluded, present_groups
from tierline.segmentation.records import TIERS, TierUpdate, TurnEvidence
from tierline.segmentation.state import EvidenceState, crm_vector

HYSTERESIS = 0.15
"""Probability lead the new leader needs over the current label to replace it."""
_CHURN = TIERS.index("churn_risk")
_HIGH = TIERS.index("high")
HELD_BACK = "not high yet: no budget >= 500,000 CNY, >= 100 seats or other large-value signal"
"""Reason added when the model leans to high but the tier's rules hold it back."""
_IMPOSSIBLE = -1e4


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class TierSnapshot:
    """What a finished call leaves for learning from its outcome.

    Attributes:
        features: The final feature vector.
        logits: Base model logits for it (before the online layer).
        label: Final tier.
        model_version: Version of the tier model.
        adapter_version: Version of the online layer in use.
    """

    features: tuple[float, ...]
    logits: tuple[float, ...]
    label: str
    model_version: str
    adapter_version: int


def _default_adapter(model_version: str) -> Adapter:
    from tierline.segmentation.outcomes import active_adapter

    return active_adapter(model_version)


def _default_llm():
    from tierline.segmentation.llm_opinion import llm_from_env

    return llm_from_env()


@dataclass
class TierScorer:
    """Per-call tier state: feed one :class:`TurnEvidence` per caller turn.

    Args:
        customer: CRM record of the caller (defaults when unknown).
        model: Tier model (default: the shipped one, or ``$TIERLINE_TIER_MODEL``).
        adapter: Online layer (default: the active version in the outcome store).
        llm: Optional LLM scorer (default: from ``TIERLINE_LLM_URL``, off when unset;
            ``False`` turns it off regardless).

    Raises:
        TierModelError: the model cannot be loaded.
    """

    customer: CustomerProfile = field(default_factory=CustomerProfile)
    model: TierModel | None = None
    adapter: Adapter | None = None
    llm: object | None = field(default=None)
    _state: EvidenceState = field(default_factory=EvidenceState)
    _last: TierUpdate | None = None
    _features: np.ndarray | None = None
    _logits: np.ndarray | None = None
    _texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.model = self.model or load_model()
        self.adapter = self.adapter or _default_adapter(self.model.version)
        if self.llm is None:
            self.llm = _default_llm()
        self._crm = crm_vector(self.customer)

    def initial(self) -> TierUpdate:
        """Tier from the CRM features alone (before any caller turn)."""
        self._last = self._score()
        return self._last

    def update(self, evidence: TurnEvidence) -> TierUpdate:
        """Add one caller turn and return the new tier."""
        self._state.add(evidence)
        if evidence.text:
            self._texts.append(evidence.text)
        self._last = self._score()
        if self.llm and self._texts:
            self.llm.submit(tuple(self._texts), self.customer)
        return self._last

    @property
    def state(self) -> EvidenceState:
        return self._state

    def snapshot(self) -> TierSnapshot:
        """The final evidence and logits, for :mod:`tierline.segmentation.outcomes`."""
        if self._features is None or self._logits is None or self._last is None:
            self.initial()
        assert self._features is not None and self._logits is not None and self._last
        return TierSnapshot(
            tuple(round(float(v), 5) for v in self._features),
            tuple(round(float(v), 5) for v in self._logits), self._last.label,
            self.model.version, self.adapter.version)

    # -- scoring ---------------------------------------------------------------------------

    def _score(self) -> TierUpdate:
        x = self._state.vector(self._crm)
        groups = present_groups(x)
        base = self.model.logits(occluded(x, groups))
        self._features, self._logits = x, base[0]
        adapted = self.adapter.apply(base)
        if not self.customer.is_existing_customer:  # churn_risk needs contract_value > 0
            adapted = adapted.copy()
            adapted[:, _CHURN] = _IMPOSSIBLE
        model_log_probs = log_softmax(adapted)  # what the model says; reasons measure it
        log_probs, held_back = model_log_probs, False
        if not self._state.large_value(self.customer.is_existing_customer):
            # high needs a large-value signal (the tier's own rules): many weak turns of a
            # long call must not add up to it
            held_back = int(np.argmax(model_log_probs[0])) == _HIGH
            adapted = adapted.copy()
            adapted[:, _HIGH] = _IMPOSSIBLE
            log_probs = log_softmax(adapted)
        probs = np.exp(log_probs[0])
        llm_note = None
        if self.llm:
            opinion = self.llm.latest()
            if opinion is not None:
                probs = (1 - self.llm.weight) * probs + self.llm.weight * opinion.probs
                llm_note = opinion.reason
        label = TIERS[int(np.argmax(probs))]
        previous = self._last.label if self._last else None
        if previous and previous != label:
            lead = probs[TIERS.index(label)] - probs[TIERS.index(previous)]
            if lead < HYSTERESIS:
                label = previous
        reasons = explain(model_log_probs, groups, TIERS.index(label), self._state,
                          self.customer)
        if held_back:
            reasons = (*reasons, HELD_BACK)
        if llm_note:
            reasons = (*reasons, llm_note)
        return TierUpdate(
            label=label,
            scores={t: round(float(p), 4) for t, p in zip(TIERS, probs, strict=True)},
            reasons=reasons,
            turn=self._state.turns,
            changed=previous is not None and previous != label,
        )
