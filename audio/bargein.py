"""Barge-in: stop the bot's prompt when the caller really starts talking over it.

A transport-independent controller. The transport (LiveKit, SIP, replay) feeds it the
caller's 20 ms frames and tells it when a prompt starts and ends; the controller answers each
call with typed events:

* :class:`SpeechSuspected` — webrtcvad fired while a prompt plays (a transport may duck the
  prompt's volume; nothing is certain yet);
* :class:`FalseAlarm` — the confirming stage rejected it (a cough, a click, line noise);
* :class:`StopPrompt` — the confirming stage (Silero) confirmed speech: stop playback now. It is
  returned by the very ``push`` whose frame completed the confirmation, so a transport that
  acts on it stops the prompt within one frame window of the confirmation;
* :class:`UserTurn` — the caller's utterance closed by the endpointer (whether or not it
  interrupted a prompt).

The controller owns the call's :class:`TwoStageEndpointer`, so one VAD pass serves both
turn-taking and barge-in. It holds no clock and no audio device: timestamps come from frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierline.audio.detector import SpeechDetector
from tierline.audio.endpointer import ConfirmConfig, TwoStageEndpointer
from tierline.audio.records import Frame, Utterance
from tierline.audio.vad import EndpointerConfig

BARGE_IN_CONFIRM = ConfirmConfig(confirm_ms=160)
"""Barge-in needs 160 ms of Silero-confirmed speech: coughs and clicks do not reach it."""


@dataclass(frozen=True)
class BargeInEvent:
    """Base of the controller's events.

    Attributes:
        at_s: Call-timeline time of the frame that produced the event.
        prompt_id: The prompt playing at that moment (None when none is).
    """

    at_s: float
    prompt_id: str | None


@dataclass(frozen=True)
class SpeechSuspected(BargeInEvent):
    """The fast stage heard something during a prompt; not confirmed yet."""


@dataclass(frozen=True)
class FalseAlarm(BargeInEvent):
    """The suspected speech was rejected by the confirming stage."""


@dataclass(frozen=True)
class StopPrompt(BargeInEvent):
    """Confirmed caller speech over a prompt: stop playing it now.

    Attributes:
        speech_start_s: Where the caller's speech began (before confirmation).
    """

    speech_start_s: float = 0.0


@dataclass(frozen=True)
class UserTurn(BargeInEvent):
    """A caller utterance closed by the endpointer.

    Attributes:
        utterance: The utterance.
        interrupted: Whether it began while a prompt played (a barge-in).
    """

    utterance: Utterance | None = None
    interrupted: bool = False


class BargeInController:
    """Turn-taking for one call: endpointing plus barge-in over the bot's prompts.

    Args:
        config: Endpointer settings.
        confirm: Confirming-stage settings (default :data:`BARGE_IN_CONFIRM`).
        detector: Confirming detector; default Silero.
        endpointer: The call's endpointer, when the transport already made one (e.g. with
            :func:`~tierline.audio.endpointer.make_endpointer`, so turns are cut exactly as
            replay cuts them); the three settings above are then unused.

    Example:
        >>> ctl = BargeInController()
        >>> ctl.start_prompt("greeting")
        >>> for frame in caller_frames:
        ...     for event in ctl.push(frame):
        ...         if isinstance(event, StopPrompt):
        ...             player.stop()
        ...         elif isinstance(event, UserTurn):
        ...             session.on_utterance(event.utterance)
    """

    def __init__(self, config: EndpointerConfig | None = None,
                 confirm: ConfirmConfig | None = None,
                 detector: SpeechDetector | None = None,
                 endpointer: TwoStageEndpointer | None = None) -> None:
        self.endpointer = endpointer or TwoStageEndpointer(config, confirm or BARGE_IN_CONFIRM,
                                                           detector)
        self._prompt: str | None = None
        self._suspected = False
        self._interrupting = False
        self._last_end = 0.0

    @property
    def prompt_id(self) -> str | None:
        """The prompt currently playing, if any."""
        return self._prompt

    def start_prompt(self, prompt_id: str) -> None:
        """The bot started playing a prompt."""
        self._prompt = prompt_id
        self._suspected = False

    def end_prompt(self) -> None:
        """The prompt finished (or the transport stopped it)."""
        self._prompt = None
        self._suspected = False

    def push(self, frame: Frame) -> list[BargeInEvent]:
        """Feed the caller's next frame; return the events it caused, in order.

        Raises:
            AudioError: The frame is not 320 int16 samples.
        """
        ep = self.endpointer
        was_idle = not ep.candidate and not ep.in_speech
        closed = ep.push(frame)
        self._last_end = frame.end_s
        events: list[BargeInEvent] = self._turns(closed)
        prompt = self._prompt
        if prompt is None:
            return events
        if was_idle and ep.candidate:
            self._suspected = True
            events.append(SpeechSuspected(frame.end_s, prompt))
        elif ep.in_speech and not self._interrupting:
            self._interrupting = True
            start = ep.speech_start_s if ep.speech_start_s is not None else frame.start_s
            events.append(StopPrompt(frame.end_s, prompt, start))
            self.end_prompt()
        elif self._suspected and not ep.candidate and not ep.in_speech:
            self._suspected = False
            events.append(FalseAlarm(frame.end_s, prompt))
        return events

    def flush(self) -> list[BargeInEvent]:
        """End of the call: close the open turn."""
        return self._turns(self.endpointer.flush())

    def _turns(self, utterances: list[Utterance]) -> list[BargeInEvent]:
        out: list[BargeInEvent] = []
        for utt in utterances:
            out.append(UserTurn(self._last_end, self._prompt, utt, self._interrupting))
            self._interrupting = False
        return out
