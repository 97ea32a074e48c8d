"""What the bot says after a caller turn: text segments with speaking rules for the transport.

A :class:`Reply` is plain text; the transport speaks it (TTS). Segments carry whether the
caller may barge in: mandatory text (the recording/AI disclosure, the do-not-call goodbye) is
marked ``interruptible=False`` so a LiveKit transport calls
``session.say(segment.text, allow_interruptions=False)`` for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEGMENT_KINDS = ("disclosure", "greeting", "answer", "offer", "question", "reprompt",
                 "transfer", "goodbye", "interruption")
"""What a segment is for; transports may style or log them differently."""


@dataclass(frozen=True)
class Segment:
    """One piece of a reply, spoken in order.

    Attributes:
        text: Chinese text to speak.
        kind: One of :data:`SEGMENT_KINDS`.
        interruptible: False for mandatory text the caller must hear in full.
    """

    text: str
    kind: str = "answer"
    interruptible: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "interruptible": self.interruptible}


@dataclass(frozen=True)
class Reply:
    """The bot's turn.

    Attributes:
        segments: What to say, in order.
        ended: The bot ends the call after speaking (goodbye, opt-out, hand-over done).
        dnc: The caller opted out and the number went on the do-not-call list.
        question_slot: Slot the reply asks about (``seats``, ``budget``...), else None.
        transfer: Queue the reply announces a transfer to, else None.
        offer: Edition or module the reply recommends, else None.
        source: ``template`` or ``llm`` (who wrote the answer segment).
        intent: The caller intent the reply answers.
        callback: The callback the busy caller asked for: ``at`` (ISO 8601, None when no
            time was named yet), ``said``, ``exact``; None when the reply is about something
            else.
    """

    segments: tuple[Segment, ...]
    ended: bool = False
    dnc: bool = False
    question_slot: str | None = None
    transfer: str | None = None
    offer: str | None = None
    source: str = "template"
    intent: str | None = None
    callback: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """All segments joined, as one string to speak or print."""
        return "".join(s.text for s in self.segments)

    @property
    def interruptible(self) -> bool:
        """True when every segment may be interrupted by the caller."""
        return all(s.interruptible for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "interruptible": self.interruptible,
            "ended": self.ended,
            "dnc": self.dnc,
            "question_slot": self.question_slot,
            "transfer": self.transfer,
            "offer": self.offer,
            "source": self.source,
            "callback": self.callback,
            "segments": [s.to_dict() for s in self.segments],
        }
