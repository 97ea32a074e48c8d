"""Typed records of a call as the agent sees it, and their JSON form (ARCHITECTURE.md contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierline.agent.policy import RouteDecision
from tierline.audio.records import Emotion
from tierline.segmentation.records import TierUpdate

if TYPE_CHECKING:
    from tierline.agent.dialog.reply import Reply


@dataclass(frozen=True)
class TurnRecord:
    """Everything decided about one caller turn.

    Attributes:
        index: 0-based caller turn number.
        start_s: Start of the turn in the call timeline, seconds.
        end_s: End of the turn, seconds.
        text: What the caller said (ASR output or typed text).
        language: Language code.
        dialect: Dialect label or None.
        intent: (label, score) of the top intent.
        intents: Top-3 intents.
        entities: Entities found in the turn.
        emotion: Caller emotion.
        tier: Tier after this turn.
        route: Route decision after this turn.
        latency_ms: endpoint, asr, nlu, tier and decision, milliseconds: decision runs from
            the caller's last voiced frame to the route decision and includes endpoint
            (last voiced frame → end of turn declared); docs/architecture.md.
        asr_confidence: Recogniser confidence, None for text turns.
        reply: What the bot answered to this turn (None without a dialog manager).
        also_heard: The recogniser's other readings of the turn that the intent was also read
            from (distinct, best first; empty for a typed turn or a single reading), so a
            reviewer sees why "我很想起" can be a complaint.
        language_prob: Whisper's probability of :attr:`language` on this turn (None when the
            language was given, not detected: typed text, a recogniser forced to one).
        dialect_confidence: The dialect identifier's confidence in the call's dialect so far
            (None without an identifier).
    """

    index: int
    start_s: float
    end_s: float
    text: str
    language: str
    dialect: str | None
    intent: tuple[str, float]
    intents: tuple[tuple[str, float], ...]
    entities: dict[str, Any]
    emotion: Emotion
    tier: TierUpdate
    route: RouteDecision
    latency_ms: dict[str, float]
    asr_confidence: float | None = None
    reply: Reply | None = None
    also_heard: tuple[str, ...] = ()
    language_prob: float | None = None
    dialect_confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "start_s": round(self.start_s, 2),
            "end_s": round(self.end_s, 2),
            "text": self.text,
            "language": self.language,
            "dialect": self.dialect,
            "intent": {"label": self.intent[0], "score": round(self.intent[1], 4)},
            "entities": self.entities,
            "emotion": {"label": self.emotion.label, "arousal": self.emotion.arousal,
                        "confidence": self.emotion.confidence, "source": self.emotion.source},
            "tier": {
                "label": self.tier.label,
                "scores": self.tier.scores,
                "reasons": list(self.tier.reasons),
            },
            "latency_ms": {k: round(v, 1) for k, v in self.latency_ms.items()},
        }
        if self.language_prob is not None:
            out["language_prob"] = round(self.language_prob, 4)
        if self.dialect_confidence is not None:
            out["dialect_confidence"] = round(self.dialect_confidence, 4)
        if self.also_heard:
            out["also_heard"] = list(self.also_heard)
        if self.reply is not None:
            out["reply"] = self.reply.to_dict()
        return out


@dataclass
class CallRecord:
    """A whole call: metadata, turns so far, the final tier and the route.

    Mutable on purpose: turns are appended as they are decided, so a call that dies
    mid-way keeps every turn it already had.
    """

    call: dict[str, Any]
    initial_tier: TierUpdate
    turns: list[TurnRecord] = field(default_factory=list)
    route: RouteDecision | None = None
    opening: Reply | None = None

    @property
    def final_tier(self) -> TierUpdate:
        return self.turns[-1].tier if self.turns else self.initial_tier

    def to_dict(self) -> dict[str, Any]:
        route = self.route or RouteDecision(
            "continue", None, None, f"no caller turns; tier {self.final_tier.label} from CRM")
        out = {
            "call": self.call,
            "turns": [t.to_dict() for t in self.turns],
            "final_tier": self.final_tier.label,
            "route": route.to_dict(),
        }
        if self.opening is not None:
            out["opening"] = self.opening.to_dict()
        return out
