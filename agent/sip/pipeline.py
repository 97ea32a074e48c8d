"""A call's decision thread: the line's audio → endpointer → CallSession, as replay runs it.

The RTP clock (on the event loop) hands every 20 ms of caller audio to :meth:`CallPipeline.audio`;
this thread re-frames it to 16 kHz (:class:`~tierline.audio.stream.FrameAssembler`), cuts
turns with the endpointer `tierline replay` uses (:func:`~tierline.audio.endpointer.make_endpointer`
with the session's memoising recogniser for quantity-aware endpointing), watches for barge-in
over the bot's prompts (:class:`~tierline.audio.bargein.BargeInController` on that same
endpointer) and decides each closed turn with ``session.on_utterance``. Keypad digits go
through ``session.on_digit`` on the same thread, so the call's record has one writer.

Results go back to the event loop through ``post`` (called from this thread): a
:class:`TurnDecided`, a :class:`DigitDecided` or a barge-in
:class:`~tierline.audio.bargein.StopPrompt`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tierline.agent.policy import RouteDecision
from tierline.agent.records import TurnRecord
from tierline.agent.session import CallSession
from tierline.audio.bargein import BargeInController, StopPrompt, UserTurn
from tierline.audio.endpointer import EndpointingConfig, make_endpointer
from tierline.audio.stream import FrameAssembler
from tierline.audio.turn_clock import FrameClock

logger = logging.getLogger("tierline.sip")

_END = object()


@dataclass(frozen=True)
class TurnDecided:
    """A caller turn the session decided (``interrupted``: it began over a prompt)."""

    turn: TurnRecord
    interrupted: bool = False


@dataclass(frozen=True)
class DigitDecided:
    """A keypad digit the policy read (``decision`` None: the digit means nothing)."""

    digit: str
    intent: str | None
    decision: RouteDecision | None


class CallPipeline:
    """Runs one call's turn-taking and decisions off the event loop.

    Args:
        session: The call's session.
        endpointing: How turns are cut (the settings replay uses).
        post: Receives results; called from the pipeline thread.
        dtmf: Keypad digit → intent (the ``[dtmf]`` table).
        rate: Sample rate of the audio handed in.
    """

    def __init__(self, session: CallSession, endpointing: EndpointingConfig,
                 post: Callable[[object], None], dtmf: dict[str, str] | None = None,
                 rate: int = 8000) -> None:
        self.session = session
        self.endpointing = endpointing
        self.post = post
        self.dtmf = dtmf or {}
        self.rate = rate
        self.position_s = 0.0
        self.errors: list[str] = []
        self.busy_s = 0.0
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sip-call", daemon=True)

    # ------------------------------------------------------------------ event-loop side
    def start(self) -> None:
        self._thread.start()

    def audio(self, pcm: np.ndarray, arrived: float) -> None:
        """20 ms of caller audio (int16) and when it arrived (``time.perf_counter()``)."""
        self._q.put(("audio", pcm, arrived))

    def prompt(self, prompt_id: str | None) -> None:
        """An interruptible prompt started (its id) or ended (None)."""
        self._q.put(("prompt", prompt_id, 0.0))

    def digit(self, digit: str) -> None:
        self._q.put(("digit", digit, 0.0))

    def finish(self) -> None:
        """The call ended: close the open turn, decide it, stop."""
        self._q.put(_END)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def backlog(self) -> int:
        """Items waiting (a measure of how far the thread lags the line)."""
        return self._q.qsize()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        hear = self.session.hear if self.session.asr is not None else None
        ctl = BargeInController(endpointer=make_endpointer(self.endpointing, hear,
                                                           self.session.idle))
        assembler = FrameAssembler()
        clock = FrameClock()  # dates each turn by its last voiced frame, as replay does
        while True:
            item = self._q.get()
            t0 = time.perf_counter()
            if item is _END:
                try:
                    self._frames(ctl, clock, assembler.flush(), time.perf_counter())
                    self._events(ctl.flush(), clock, time.perf_counter())
                except Exception as exc:  # the record is stored all the same
                    logger.exception("call pipeline error at the end of the call")
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            kind, value, arrived = item
            try:
                if kind == "audio":
                    self._frames(ctl, clock, assembler.push(value, self.rate), arrived)
                elif kind == "prompt":
                    if value is None:
                        ctl.end_prompt()
                    else:
                        ctl.start_prompt(value)
                elif kind == "digit":
                    self._digit(value)
            except Exception as exc:  # one bad turn must not end the call's decisions
                logger.exception("call pipeline error")
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.busy_s += time.perf_counter() - t0

    def _frames(self, ctl: BargeInController, clock: FrameClock, frames: list,
                arrived: float) -> None:
        for frame in frames:
            self.position_s = frame.end_s
            clock.arrived(frame.end_s, arrived)
            self._events(ctl.push(frame), clock, arrived)

    def _events(self, events: list, clock: FrameClock, arrived: float) -> None:
        for event in events:
            if isinstance(event, StopPrompt):
                self.post(event)
            elif isinstance(event, UserTurn) and event.utterance is not None:
                turn = self.session.on_utterance(event.utterance,
                                                 clock.timing(event.utterance, arrived))
                if turn is not None:
                    self.post(TurnDecided(turn, event.interrupted))

    def _digit(self, digit: str) -> None:
        intent = self.dtmf.get(digit)
        decision = self.session.on_digit(digit, intent)
        self.post(DigitDecided(digit, intent, decision))
