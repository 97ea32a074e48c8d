"""Replay transport: a recorded call is framed, endpointed and decided turn by turn.

Endpointing is two-stage (webrtcvad proposes, Silero confirms; see
:mod:`tierline.audio.endpointer`) and quantity-aware: when a pause reaches the hangover, the
open turn is transcribed and, if the text ends inside a number, the turn stays open longer.
That transcript is memoised, so when the turn does close there the session's recogniser
reuses it instead of decoding the same audio twice.

With ``realtime`` a reader thread releases 20 ms frames at 1× speed, as a phone line
would, and decisions are timed from the moment each turn's closing frame arrived.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tierline.agent.records import CallRecord, TurnRecord
from tierline.agent.session import CallSession
from tierline.audio.endpointer import ConfirmConfig, TwoStageEndpointer
from tierline.audio.errors import AudioError
from tierline.audio.io import iter_frames
from tierline.audio.prosody import prewarm
from tierline.audio.records import Frame
from tierline.audio.vad import Endpointer, EndpointerConfig
from tierline.dialects.asr import ASR
from tierline.dialects.memo import MemoASR

_END = object()


@dataclass(frozen=True)
class ReplayOptions:
    """How a recording is read.

    Attributes:
        realtime: Pace frames at 1× real time.
        channel: "caller", "agent" or a channel index.
        caller_channel: Caller's channel in multi-channel recordings.
        endpointer: VAD endpointer settings.
        confirm: Settings of the confirming (Silero) stage and of quantity-aware endpointing.
        two_stage: False: webrtcvad alone (the old endpointer), for comparison.
        quantity_aware: Transcribe the open turn at the hangover to detect unfinished numbers.
    """

    realtime: bool = False
    channel: str | int = "caller"
    caller_channel: int = 1
    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)
    two_stage: bool = True
    quantity_aware: bool = True


def _paced(frames: Iterator[Frame], realtime: bool) -> Iterator[tuple[Frame, float]]:
    """Yield (frame, arrival time). Realtime pacing runs in a reader thread."""
    if not realtime:
        for frame in frames:
            yield frame, time.perf_counter()
        return
    q: queue.Queue = queue.Queue(maxsize=3000)  # 60 s of frames at most
    error: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        t0 = time.perf_counter()
        try:
            for frame in frames:
                delay = t0 + frame.end_s - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                if stop.is_set():
                    return
                q.put((frame, time.perf_counter()))
        except BaseException as exc:  # handed to the consumer thread
            error.append(exc)
        finally:
            q.put(_END)

    thread = threading.Thread(target=reader, name="replay-reader", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not _END:
            yield item
        if error:
            raise error[0]
    finally:
        stop.set()


def make_endpointer(options: ReplayOptions, asr: ASR | None = None):
    """The endpointer ``options`` ask for; ``asr`` (if any) serves quantity-aware endpointing."""
    if not options.two_stage:
        return Endpointer(options.endpointer)
    partial = None
    if options.quantity_aware and asr is not None:
        def partial(audio: np.ndarray) -> str:
            return asr.transcribe(audio).text
    return TwoStageEndpointer(options.endpointer, options.confirm, partial=partial)


def replay_file(
    path: str | Path,
    session: CallSession,
    options: ReplayOptions | None = None,
    on_turn: Callable[[TurnRecord], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[CallRecord, str | None]:
    """Run one recording through ``session``.

    Args:
        path: Audio file.
        session: The call's session (holds the record being built).
        options: Reading options.
        on_turn: Called after every decided turn.
        on_progress: Called with the call-timeline position (seconds) as frames are read.

    Returns:
        The call record and, if the audio broke off mid-way, the error message (the turns
        decided before the break are kept).
    """
    options = options or ReplayOptions()
    models = session.models
    memo = MemoASR(models.asr) if models.asr is not None else None
    if memo is not None:
        session.models = replace(models, asr=memo)
    endpointer = make_endpointer(options, memo)
    prewarm()  # librosa/numba start-up must not land in the first turn's decision latency
    frames = iter_frames(path, channel=options.channel, caller_channel=options.caller_channel)

    def decide(utterances: list, arrived: float) -> None:
        for utt in utterances:
            turn = session.on_utterance(utt, detected_at=arrived)
            if turn is not None and on_turn is not None:
                on_turn(turn)

    error = None
    position = 0.0
    try:
        try:
            for frame, arrived in _paced(frames, options.realtime):
                position = frame.end_s
                decide(endpointer.push(frame), arrived)
                if on_progress is not None:
                    on_progress(position)
        except AudioError as exc:
            error = str(exc)
        decide(endpointer.flush(), time.perf_counter())
    finally:
        session.models = models
    session.record.call["duration_s"] = round(position, 2)
    if error:
        session.record.call["error"] = error
    return session.record, error
