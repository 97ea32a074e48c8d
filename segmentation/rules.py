"""Hand-weighted tier scorer: transparent weighted evidence, fused with CRM features.

Each piece of evidence adds a weight to one tier's logit and carries the sentence that
explains it; tier probabilities are the softmax of the logits, and the reasons are the
largest contributions to the winning tier. Evidence accumulates across turns: amounts and
seat counts persist at their maximum, intent evidence decays with age (``INTENT_DECAY`` per
turn) so the latest turns weigh most. Hysteresis keeps the label unless another tier leads by
``HYSTERESIS`` probability, except for decisive evidence (weight >= ``DECISIVE``) which
switches at once. The weights implement the tier semantics of ARCHITECTURE.md:

- high: budget >= 500,000 CNY, >= 100 seats, enterprise integration or bulk purchase with
  purchase intent, an existing customer buying more, three or more customisation asks.
- medium: interest (prices, features, trial, invoices) or routine questions; hesitation.
- low: refusal, no need, "too expensive, forget it", at most two users (trivial use).
- churn_risk: an existing customer (contract_value > 0) who signals leaving, complains
  repeatedly or is angry.

The trained model (:class:`tierline.segmentation.tier.TierScorer`) replaced these hand-set
weights; this scorer stays as a transparent baseline in the evaluation.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from tierline.nlu.amounts import corrects_earlier
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TIERS, TierUpdate, TurnEvidence
from tierline.segmentation.state import HIGH_BUDGET_CNY, HIGH_SEATS, TRIVIAL_SEATS

INTENT_DECAY = 0.6
HYSTERESIS = 0.15
DECISIVE = 3.0
INTENT_THRESHOLD = 0.35
"""An intent counts as said when its probability is at least this."""

_INTEREST = {
    "price_inquiry": "asked about prices",
    "product_question": "asked about features",
    "trial_request": "asked for a trial",
    "payment_invoice": "asked about payment or invoices",
    "tech_support": "needs technical support",
    "hesitation": "is hesitating",
}


@dataclass(frozen=True)
class _Contribution:
    tier: str
    weight: float
    reason: str


def _fmt_cny(value: float) -> str:
    return f"{value:,.0f} CNY"


@dataclass
class RuleTierScorer:
    """Per-call tier state: feed one :class:`TurnEvidence` per caller turn.

    Args:
        customer: CRM record of the caller (defaults when unknown).
    """

    customer: CustomerProfile = field(default_factory=CustomerProfile)
    _turns: list[TurnEvidence] = field(default_factory=list)
    _last: TierUpdate | None = None

    def initial(self) -> TierUpdate:
        """Tier from the CRM features alone (before any caller turn)."""
        update = self._score(decisive_now=True)
        self._last = update
        return update

    def update(self, evidence: TurnEvidence) -> TierUpdate:
        """Add one caller turn and return the new tier."""
        self._turns.append(evidence)
        update = self._score(decisive_now=False)
        self._last = update
        return update

    # -- scoring ---------------------------------------------------------------------------

    def _crm(self) -> list[_Contribution]:
        f = self.customer.features
        out: list[_Contribution] = []
        existing = f["contract_value"] > 0
        if existing:
            cv = f["contract_value"]
            out.append(_Contribution("medium", 0.4, f"existing customer, contract {_fmt_cny(cv)}"))
            if cv >= HIGH_BUDGET_CNY:
                out.append(_Contribution("high", 0.6, f"large existing contract {_fmt_cny(cv)}"))
            if f["renewal_rate"] < 0.5:
                out.append(_Contribution(
                    "churn_risk", 0.5, f"low renewal rate {f['renewal_rate']:.0%}"))
            if f["complaint_count"] >= 3:
                out.append(_Contribution(
                    "churn_risk", 1.0,
                    f"existing customer, {f['complaint_count']:.0f} complaints on record"))
        engagement = (f["browse_duration"] >= 30) + (f["click_times"] >= 50) + (
            f["consult_count"] >= 3)
        if engagement:
            out.append(_Contribution(
                "medium", 0.3 * engagement,
                f"engaged prospect ({f['consult_count']:.0f} enquiries, "
                f"{f['browse_duration']:.0f} min browsing)"))
        elif not existing:
            out.append(_Contribution("low", 0.3, "little recorded engagement"))
        if f["referral_count"] >= 2:
            out.append(_Contribution(
                "high", 0.3, f"referred {f['referral_count']:.0f} customers"))
        if self.customer.defaulted:
            n = len(self.customer.defaulted)
            note = ("no CRM record, features defaulted" if n == 8
                    else f"CRM features defaulted: {', '.join(self.customer.defaulted)}")
            out.append(_Contribution("medium", 0.0, note))
        return out

    def _said(self) -> tuple[Counter[str], dict[str, float]]:
        """Count of turns per intent, and decayed weight per intent (latest turn = 1)."""
        counts: Counter[str] = Counter()
        decayed: dict[str, float] = {}
        n = len(self._turns)
        for i, ev in enumerate(self._turns):
            age = n - 1 - i
            for intent, p in ev.intent_scores.items():
                if p >= INTENT_THRESHOLD and intent != "other":
                    counts[intent] += 1
                    decayed[intent] = decayed.get(intent, 0.0) + p * INTENT_DECAY**age
        return counts, decayed

    def _text(self) -> tuple[list[_Contribution], float]:
        """Turn evidence contributions, and the largest weight added by the latest turn."""
        if not self._turns:
            return [], 0.0
        out: list[_Contribution] = []
        existing = self.customer.is_existing_customer
        counts, w = self._said()
        budget: float | None = None
        seats: int | None = None
        for t in self._turns:  # the largest stated, unless a turn corrects an earlier amount
            restated = corrects_earlier(t.text)
            if t.budget_cny:
                budget = t.budget_cny if restated else max(budget or 0.0, t.budget_cny)
            if t.seats:
                seats = t.seats if restated else max(seats or 0, t.seats)
        buying = sum(w.get(k, 0.0) for k in ("purchase_intent", "bulk_purchase"))
        latest = self._turns[-1]
        decisive = 0.0

        if budget is not None:
            if budget >= HIGH_BUDGET_CNY:
                out.append(_Contribution("high", 3.5, f"budget {_fmt_cny(budget)}"))
                if latest.budget_cny == budget:
                    decisive = 3.5
            else:
                out.append(_Contribution("medium", 1.0, f"budget {_fmt_cny(budget)}"))
        if seats is not None:
            if seats >= HIGH_SEATS:
                out.append(_Contribution("high", 3.5, f"{seats:,} seats/users"))
                if latest.seats == seats:
                    decisive = max(decisive, 3.5)
            elif seats <= TRIVIAL_SEATS:
                out.append(_Contribution("low", 1.5, f"{seats:,} seats/users: trivial use"))
            else:
                out.append(_Contribution("medium", 0.8, f"{seats:,} seats/users"))
        if w.get("bulk_purchase"):
            out.append(_Contribution("high", 1.8 * min(1.0, w["bulk_purchase"]), "bulk purchase"))
        if w.get("purchase_intent"):
            weight = 1.2 * min(1.0, w["purchase_intent"])
            out.append(_Contribution("medium", weight, "wants to buy"))
            if existing:
                out.append(_Contribution("high", 1.5, "existing customer buying more"))
        if w.get("tech_integration"):
            if buying:
                out.append(_Contribution(
                    "high", 1.8, "enterprise integration with purchase intent"))
            else:
                out.append(_Contribution("medium", 0.8, "asked about integration"))
        n_custom = counts.get("customization", 0)
        if n_custom >= 3:
            out.append(_Contribution(
                "high", 3.5, f"asked about customisation {n_custom} times"))
            if latest.intent_scores.get("customization", 0) >= INTENT_THRESHOLD:
                decisive = max(decisive, 3.5)
        elif n_custom:
            out.append(_Contribution("medium", 1.0, f"asked about customisation {n_custom}×"))
        for intent, phrase in _INTEREST.items():
            if w.get(intent):
                out.append(_Contribution("medium", 1.0 * min(1.0, w[intent]), phrase))

        if w.get("refusal"):
            weight = 2.8 * min(1.0, w["refusal"])
            out.append(_Contribution("low", weight, "caller declined"))
        churn = w.get("churn_signal", 0.0)
        complaints = counts.get("complaint", 0)
        anger = max(t.anger for t in self._turns)
        angry_turns = sum(t.emotion == "angry" for t in self._turns)
        if existing:
            if churn:
                comp = next((t.competitor for t in reversed(self._turns) if t.competitor), None)
                why = f"signals leaving (mentions {comp})" if comp else "signals leaving"
                out.append(_Contribution("churn_risk", 3.5 * min(1.0, churn), why))
                if latest.intent_scores.get("churn_signal", 0) >= INTENT_THRESHOLD:
                    decisive = max(decisive, 3.5)
            past = self.customer.features["complaint_count"]
            if complaints:
                total = complaints + past
                out.append(_Contribution(
                    "churn_risk", 1.0 + 0.5 * min(total, 4),
                    f"existing customer complaining ({total:.0f} complaints incl. this call)"))
            if angry_turns or anger >= 0.6:
                out.append(_Contribution("churn_risk", 1.5, "existing customer is angry"))
        else:
            if churn:
                out.append(_Contribution(
                    "low", 1.5 * min(1.0, churn), "not interested in renewing"))
            if complaints:
                out.append(_Contribution("medium", 0.6, "prospect complaining"))
        if w.get("other") and len(out) == 0:
            out.append(_Contribution("low", 0.3, "no buying signal yet"))
        return out, decisive

    def _score(self, decisive_now: bool) -> TierUpdate:
        contributions = self._crm()
        text, decisive = self._text()
        contributions += text
        logits = {t: 0.0 for t in TIERS}
        logits["medium"] += 0.5  # prior: an unknown caller is an ordinary prospect
        for c in contributions:
            logits[c.tier] += c.weight
        peak = max(logits.values())
        exp = {t: math.exp(v - peak) for t, v in logits.items()}
        total = sum(exp.values())
        scores = {t: round(exp[t] / total, 4) for t in TIERS}
        label = max(TIERS, key=scores.__getitem__)
        previous = self._last.label if self._last else None
        if (previous and previous != label and not decisive_now and decisive < DECISIVE
                and scores[label] - scores[previous] < HYSTERESIS):
            label = previous
        reasons = [c for c in contributions if c.tier == label and c.weight > 0]
        reasons.sort(key=lambda c: -c.weight)
        words = [c.reason for c in reasons[:3]]
        words += [c.reason for c in contributions if c.weight == 0.0]  # defaults notes
        return TierUpdate(
            label=label,
            scores=scores,
            reasons=tuple(words),
            turn=len(self._turns),
            changed=previous is not None and previous != label,
        )
