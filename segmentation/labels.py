"""The rules that define a caller's tier from what they meant (the generator's ground truth).

A dialog is a sequence of :class:`Act` (what the caller meant in a turn, with the true
budget/seat numbers); the tier after each turn follows ARCHITECTURE.md. The rules are applied
to the acts, not to the NLU output, so a model trained on NLU evidence learns to cope with NLU
mistakes. In order of precedence:

1. **churn_risk** — an existing customer (contract_value > 0) who signals leaving (not
   renewing, cancelling, refunds, switching to a competitor), is angry, or complains in two
   or more turns of the call.
2. **low** — the caller's latest stance is a refusal: no need, not interested, wrong number,
   personal/trivial use, "too expensive, forget it" (a prospect saying they use or will use a
   competitor counts as a refusal), with no interest shown after it. A seat count of at most
   :data:`TRIVIAL_SEATS` users ("就我和一个助理") is trivial use: it counts as a personal act.
3. **high** — a large-value signal so far: budget >= 500,000 CNY, >= 100 seats/stores/users,
   an integration question together with purchase intent, an existing customer expanding or
   renewing bigger, or three or more customisation asks (seed 001: three asks -> senior sales).
4. **churn_risk** — an existing customer whose complaints on record plus complaints in this
   call reach three ("repeated complaints"), without a large-value signal.
5. **medium** — everything else: genuine interest (prices, features, trials, small budgets
   or teams of three or more), an existing customer's routine question or a renewal on the
   same terms ("合同快到期了，我们续一年": renewing, not renewing bigger), hesitation
   ("我再考虑一下" is medium, not low), a request for a human, or a caller who has not said
   anything telling yet.

The CRM record decides only whether the caller is an existing customer and how many
complaints are on record; a large existing contract alone is not a large-value signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tierline.segmentation.state import HIGH_BUDGET_CNY, HIGH_SEATS, TRIVIAL_SEATS

POSITIVE = frozenset({
    "ask_price", "ask_feature", "ask_trial", "ask_invoice", "tech_problem", "integration_q",
    "purchase", "budget", "seats", "customization", "expand", "hesitation",
    "integration_buy", "renew",
})
"""Acts that show interest (and cancel an earlier refusal)."""
NEGATIVE = frozenset({"refusal", "wrong_number", "personal", "too_expensive"})
"""Acts of refusal (low)."""
NEUTRAL = frozenset({"greet", "filler", "request_human", "complaint", "angry", "churn"})
ACTS = POSITIVE | NEGATIVE | NEUTRAL
BUYING = frozenset({"purchase", "integration_buy", "expand"})


@dataclass(frozen=True)
class Act:
    """What the caller meant in one turn.

    Attributes:
        kind: One of :data:`ACTS`.
        text: The words said.
        budget: True budget stated, CNY.
        seats: True seat/store/user count stated.
        buying: The turn also says the caller wants to buy or sign.
    """

    kind: str
    text: str
    budget: float | None = None
    seats: int | None = None
    buying: bool = False


def label_of(acts: Sequence[Act], existing: bool, complaints_on_record: float) -> str:
    """Tier after the given acts (see the module docstring for the rules).

    Args:
        acts: The caller's turns so far (may be empty: CRM only).
        existing: Whether the caller is an existing customer (contract_value > 0).
        complaints_on_record: complaint_count from the CRM record.
    """
    kinds = [_stance(a) for a in acts]
    complaints = sum(k in ("complaint", "angry") for k in kinds)
    if existing and ("churn" in kinds or "angry" in kinds or complaints >= 2):
        return "churn_risk"
    negative = NEGATIVE if existing else NEGATIVE | {"churn"}
    last_neg = max((i for i, k in enumerate(kinds) if k in negative), default=-1)
    last_pos = max((i for i, k in enumerate(kinds) if k in POSITIVE), default=-1)
    if last_neg > last_pos:
        return "low"
    if _large_value(acts, existing):
        return "high"
    if existing and complaints_on_record + complaints >= 3:
        return "churn_risk"
    return "medium"


def _stance(act: Act) -> str:
    """The act's kind, with a trivial seat count read as personal use."""
    if act.kind == "seats" and act.seats is not None and act.seats <= TRIVIAL_SEATS:
        return "personal"
    return act.kind


def _large_value(acts: Sequence[Act], existing: bool) -> bool:
    if any((a.budget or 0) >= HIGH_BUDGET_CNY or (a.seats or 0) >= HIGH_SEATS for a in acts):
        return True
    kinds = [a.kind for a in acts]
    buying = any(a.kind in BUYING or a.buying for a in acts)
    if "integration_buy" in kinds or ("integration_q" in kinds and buying):
        return True
    if existing and "expand" in kinds:
        return True
    return kinds.count("customization") >= 3
