"""Routing policy: after every caller turn, keep the call or transfer it to a human queue.

Precedence (docs/architecture.md): angry caller → care; a caller speaking a language the
bot does not understand → the configured ``out_of_language_queue`` (none by default: the bot
keeps the call); tier high → senior_sales; tier churn_risk → retention; explicit request for
a human → general; otherwise continue.
A caller whose dialect the identifier has named (``dialect``) goes to the variant of the chosen
queue that speaks it when one is configured (``care_yue`` for a Cantonese caller sent to
``care``), else to the plain queue; the route's reason says the dialect either way, so the
human who takes the call reads it in the handoff.
The first transfer decision of a call is final: :meth:`RoutingPolicy.in_force` is the one place
that says so, and every path that changes a call's route (the session's turns, the dialog's
accepted offer, a keypad digit) asks it. A request for a human the NLU is unsure of
(score below :data:`REQUEST_HUMAN_MIN_SCORE`) keeps the call: the dialog asks first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tierline.dialects.families import FAMILIES, NAMES
from tierline.nlu.vocab import LANGUAGES

DEFAULT_QUEUES: dict[str, str] = {
    "care": "sip:care@tierline.local",
    "senior_sales": "sip:senior-sales@tierline.local",
    "retention": "sip:retention@tierline.local",
    "general": "sip:general@tierline.local",
}



def dialect_queue(queue: str, dialect: str) -> str:
    """The name of ``queue``'s variant for callers of ``dialect`` (``care`` + ``yue`` →
    ``care_yue``)."""
    return f"{queue}_{dialect}"


def split_dialect_queue(name: str) -> tuple[str, str | None]:
    """(plain queue, dialect) of a queue name: ``care_yue`` → (``care``, ``yue``);
    ``care`` → (``care``, None)."""
    base, _, dialect = name.rpartition("_")
    if base and dialect in FAMILIES:
        return base, dialect
    return name, None


REQUEST_HUMAN_MIN_SCORE = 0.5
"""Below this intent score a request_human turn does not transfer by itself: "我是负责人，我说了算"
read as request_human 0.44 (other 0.43) must not send a decision maker to the queue."""


@dataclass(frozen=True)
class RouteDecision:
    """What to do with the call after a turn.

    Attributes:
        action: "continue" or "transfer".
        queue: Queue name for a transfer, else None.
        at_turn: Index of the turn the decision was taken at (None before any turn).
        reason: Why, in words.
        target: SIP URI / number of the queue (None for continue).
    """

    action: str
    queue: str | None
    at_turn: int | None
    reason: str
    target: str | None = None

    def to_dict(self) -> dict:
        return {"action": self.action, "queue": self.queue, "at_turn": self.at_turn,
                "reason": self.reason}


@dataclass(frozen=True)
class RoutingPolicy:
    """Maps a turn's tier, intent and emotion to a route.

    Args:
        queues: Queue name → SIP URI or phone number.
        out_of_language_queue: Where a caller whose turn is in a language the NLU does not
            read (:data:`tierline.nlu.vocab.LANGUAGES`) goes; None keeps such callers with
            the bot (their turns carry no intent evidence either way).
    """

    queues: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUEUES))
    out_of_language_queue: str | None = None

    def decide(self, turn: int, tier: str, intent: str, emotion: str,
               tier_reason: str = "", intent_score: float = 1.0,
               language: str = "zh", dialect: str | None = None) -> RouteDecision:
        """Route after caller turn ``turn``.

        Args:
            turn: Index of the caller turn just processed.
            tier: Tier label after that turn.
            intent: Intent label of that turn.
            emotion: Emotion label of that turn.
            tier_reason: The tier's leading reason, quoted in the route reason.
            intent_score: The NLU's score for ``intent`` (1.0 for a keypad digit).
            language: The turn's language (Whisper's code).
            dialect: The caller's dialect family as identified so far (None or ``unknown``:
                not named); a transfer goes to the queue's variant for it when configured.
        """
        decision = self._decide(turn, tier, intent, emotion, tier_reason, intent_score,
                                language)
        return self.for_dialect(decision, dialect)

    def _decide(self, turn: int, tier: str, intent: str, emotion: str, tier_reason: str,
                intent_score: float, language: str) -> RouteDecision:
        why = f" ({tier_reason})" if tier_reason else ""
        if emotion == "angry":
            return self._transfer("care", turn, "caller is angry")
        if self.out_of_language_queue and language not in LANGUAGES:
            return self._transfer(self.out_of_language_queue, turn,
                                  f"caller speaks {language}, which the bot does not read")
        if tier == "high":
            return self._transfer("senior_sales", turn, f"high-value caller{why}")
        if tier == "churn_risk":
            return self._transfer("retention", turn, f"churn risk{why}")
        if intent == "request_human":
            if intent_score >= REQUEST_HUMAN_MIN_SCORE:
                return self._transfer("general", turn, "caller asked for a human")
            return RouteDecision("continue", None, turn,
                                 f"caller may want a human (request_human {intent_score:.2f}): "
                                 "the bot asks first")
        return RouteDecision("continue", None, turn, f"tier {tier}: bot keeps the call")

    @staticmethod
    def is_final(route: RouteDecision | None) -> bool:
        """Whether ``route`` can no longer change: a call's first transfer is final."""
        return route is not None and route.action == "transfer"

    def in_force(self, current: RouteDecision | None,
                 proposed: RouteDecision) -> RouteDecision:
        """The call's route after ``proposed``: ``current`` when it is final, else ``proposed``.

        Args:
            current: The call's route so far (None before any decision).
            proposed: The decision of the latest turn, offer or digit.
        """
        return current if self.is_final(current) else proposed

    def _transfer(self, queue: str, turn: int, reason: str) -> RouteDecision:
        return RouteDecision("transfer", queue, turn, reason, self.queues.get(queue))

    def for_dialect(self, decision: RouteDecision, dialect: str | None) -> RouteDecision:
        """``decision`` sent to the queue speaking ``dialect`` when there is one (see the
        module docstring); a decision to continue is unchanged."""
        if decision.action != "transfer" or dialect not in FAMILIES:
            return decision
        named = f"{NAMES[dialect]} ({dialect})"
        variant = dialect_queue(decision.queue, dialect)
        if self.queues.get(variant):
            return self._transfer(variant, decision.at_turn,
                                  f"{decision.reason}; caller speaks {named}")
        if dialect == "mandarin":  # what every plain queue speaks: nothing to say
            return decision
        return RouteDecision(decision.action, decision.queue, decision.at_turn,
                             f"{decision.reason}; caller speaks {named}, no {variant} "
                             "queue: plain queue", decision.target)
