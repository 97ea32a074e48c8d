"""Typed records of the tiering stage."""

from __future__ import annotations

from dataclasses import dataclass, field

TIERS = ("high", "medium", "low", "churn_risk")
"""Tier labels in seed order 0..3."""


@dataclass(frozen=True)
class TurnEvidence:
    """What one caller turn contributes to the tier.

    Attributes:
        intent_scores: Probability per intent (the 15 names).
        budget_cny: Budget said in this turn, CNY.
        seats: Seats / people / stores said in this turn.
        sentiment: Word sentiment in [-1, 1].
        anger: Strong negative affect in the words, [0, 1].
        emotion: Emotion label of the turn (neutral, angry, hesitant, positive).
        arousal: Voice/word arousal in [0, 1].
        competitor: Competitor named in the turn.
        text: What the caller said (read for expansion/renewal words, and by the optional
            LLM scorer).
    """

    intent_scores: dict[str, float] = field(default_factory=dict)
    budget_cny: float | None = None
    seats: int | None = None
    sentiment: float = 0.0
    anger: float = 0.0
    emotion: str = "neutral"
    arousal: float = 0.0
    competitor: str | None = None
    text: str = ""

    @property
    def intent(self) -> str:
        if not self.intent_scores:
            return "other"
        return max(self.intent_scores, key=self.intent_scores.__getitem__)


@dataclass(frozen=True)
class TierUpdate:
    """The caller's tier after a turn.

    Attributes:
        label: One of :data:`TIERS`.
        scores: Probability per tier (sums to 1).
        reasons: Top contributing factors, in words a sales manager reads.
        turn: Number of caller turns seen (0 = CRM features only).
        changed: Whether the label differs from the previous update.
    """

    label: str
    scores: dict[str, float]
    reasons: tuple[str, ...]
    turn: int = 0
    changed: bool = False
