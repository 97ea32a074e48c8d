"""Routing policy: after every caller turn, keep the call or transfer it to a human queue.

Precedence (ARCHITECTURE.md): angry caller → care; tier high → senior_sales;
tier churn_risk → retention; explicit request for a human → general; otherwise continue.
The first transfer decision of a call is final.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_QUEUES: dict[str, str] = {
    "care": "sip:care@tierline.local",
    "senior_sales": "sip:senior-sales@tierline.local",
    "retention": "sip:retention@tierline.local",
    "general": "sip:general@tierline.local",
}


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
    """

    queues: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUEUES))

    def decide(self, turn: int, tier: str, intent: str, emotion: str,
               tier_reason: str = "") -> RouteDecision:
        """Route after caller turn ``turn``.

        Args:
            turn: Index of the caller turn just processed.
            tier: Tier label after that turn.
            intent: Intent label of that turn.
            emotion: Emotion label of that turn.
            tier_reason: The tier's leading reason, quoted in the route reason.
        """
        why = f" ({tier_reason})" if tier_reason else ""
        if emotion == "angry":
            return self._transfer("care", turn, "caller is angry")
        if tier == "high":
            return self._transfer("senior_sales", turn, f"high-value caller{why}")
        if tier == "churn_risk":
            return self._transfer("retention", turn, f"churn risk{why}")
        if intent == "request_human":
            return self._transfer("general", turn, "caller asked for a human")
        return RouteDecision("continue", None, turn, f"tier {tier}: bot keeps the call")

    def _transfer(self, queue: str, turn: int, reason: str) -> RouteDecision:
        return RouteDecision("transfer", queue, turn, reason, self.queues.get(queue))
