"""Immutable records produced by the NLU stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tierline.nlu.money import Money


@dataclass(frozen=True)
class IntentScore:
    """One intent label with its probability.

    Attributes:
        label: One of ``tierline.nlu.vocab.INTENTS``.
        score: Probability in [0, 1].
    """

    label: str
    score: float


@dataclass(frozen=True)
class Entities:
    """Slots extracted from one utterance; ``None`` means not mentioned.

    Attributes:
        budget_cny: Money amount in CNY the caller states as budget/spend (lower bound of a
            range; the corrected amount of a correction; see :mod:`tierline.nlu.amounts`).
        seats: Count of the users: seats, accounts, stores, users, agents (see
            :mod:`tierline.nlu.amounts` for a turn that says several).
        timeline: The time phrase as spoken, e.g. ``下个月`` or ``Q3``.
        product: Edition name, e.g. ``企业版``.
        competitor: Canonical competitor name, e.g. ``钉钉``.
        budget_source: The budget as stated when it was in a foreign currency (amount,
            currency, the CNY rate used); ``None`` for CNY.
    """

    budget_cny: float | None = None
    seats: int | None = None
    timeline: str | None = None
    product: str | None = None
    competitor: str | None = None
    budget_source: Money | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the mentioned slots only (JSON-ready).

        Returns:
            Mapping of slot name to value, without ``None`` values; an integral budget is
            given as ``int``.
        """
        out: dict[str, Any] = {}
        if self.budget_cny is not None:
            b = self.budget_cny
            out["budget_cny"] = int(b) if float(b).is_integer() else b
        if self.seats is not None:
            out["seats"] = self.seats
        for name in ("timeline", "product", "competitor"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.budget_source is not None:
            out["budget_source"] = self.budget_source.to_dict()
        return out


@dataclass(frozen=True)
class NluResult:
    """Everything the NLU stage says about one caller utterance.

    Attributes:
        text: The input text as given.
        intent: The most probable intent.
        intents: Top-3 intents, descending by score.
        entities: Extracted slots.
        sentiment: Word sentiment in [-1, 1].
        anger: Strength of strong negative affect in the words, [0, 1] (threats to complain
            or expose, insults, shouting words); a mild complaint scores low, and one cue the
            rest of the turn does not back stays below 0.6 (:mod:`tierline.nlu.anger`).
        scores: Probability of every one of the 15 intents (sums to 1).
        anger_basis: Why ``anger`` is what it is (``repeated cues``, ``complaint in negative
            words``, ``one cue, not backed``), empty without an anger cue.
    """

    text: str
    intent: IntentScore
    intents: tuple[IntentScore, ...]
    entities: Entities = field(default_factory=Entities)
    sentiment: float = 0.0
    anger: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    anger_basis: str = ""
