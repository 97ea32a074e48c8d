"""What the bot says: opening, per-turn reply, handoff, retry and fallback lines.

Replies come from the dialog manager when the call session has one (a ``reply`` on the turn
record, an ``opening`` from the session); otherwise from the configured scripted prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierline.agent.livekit.config import LiveKitConfig


@dataclass(frozen=True)
class Line:
    """One thing to say.

    Attributes:
        text: The words.
        interruptible: Whether the caller may cut it off.
    """

    text: str
    interruptible: bool = True


def _lines_of(reply: Any) -> list[Line]:
    """Lines of a dialog-manager ``Reply`` (segments with an interruptible flag)."""
    segments = getattr(reply, "segments", None)
    if segments:
        return [Line(s.text, bool(getattr(s, "interruptible", True))) for s in segments
                if getattr(s, "text", "")]
    text = getattr(reply, "text", "")
    return [Line(text, bool(getattr(reply, "interruptible", True)))] if text else []


class Prompts:
    """The bot's lines for one call.

    Args:
        config: Prompts and queue names from the configuration file.
        session: The call session; its dialog manager (if any) supplies opening and replies.
    """

    def __init__(self, config: LiveKitConfig, session: Any = None) -> None:
        self.config = config
        self.session = session

    def _say(self, key: str, **kw: str) -> list[Line]:
        return [Line(self.config.prompts[key].format(**kw))]

    def opening(self) -> list[Line]:
        opener = getattr(self.session, "open", None)
        if callable(opener):
            lines = _lines_of(opener())
            if lines:
                return lines
        return self._say("greeting")

    def reply(self, turn: Any) -> list[Line]:
        reply = getattr(turn, "reply", None)
        if reply is not None:
            lines = _lines_of(reply)
            if lines:
                return lines
        return self._say("acknowledgement")

    def handoff(self, queue: str) -> list[Line]:
        return [Line(line.text, interruptible=False)
                for line in self._say("handoff", queue_name=self.config.queue(queue).spoken)]

    def retry(self) -> list[Line]:
        return self._say("retry")

    def fallback(self, queue: str) -> list[Line]:
        return self._say("fallback", queue_name=self.config.queue(queue).spoken)

    def goodbye(self) -> list[Line]:
        return self._say("goodbye")
