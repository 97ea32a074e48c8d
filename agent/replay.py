"""Replay transport: a recorded call is framed, endpointed and decided turn by turn.

Endpointing is two-stage (webrtcvad proposes, Silero confirms; see
:mod:`tierline.audio.endpointer`) and quantity-aware: when a pause reaches the hangover, the
open turn is transcribed and, if the text ends inside a number, the turn stays open longer.
That transcript comes from the session's own memoising recogniser, so when the turn does
close there it is not decoded twice.

With ``realtime`` a reader thread releases 20 ms frames at 1× speed, as a phone line
would. Every turn's decision latency runs from the arrival of its last voiced frame
(:mod:`tierline.audio.turn_clock`), so it includes the endpointer's silence wait.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tierline.agent.records import CallRecord, TurnRecord
from tierline.agent.session import CallSession
from tierline.audio.endpointer import EndpointingConfig, make_endpointer
from tierline.audio.errors import AudioError
from tierline.audio.io import iter_frames
from tierline.audio.prosody import prewarm
from tierline.audio.records import Frame
from tierline.audio.turn_clock import FrameClock

_END = object()


@dataclass(frozen=True)
class ReplayOptions:
    """How a recording is read.

    Attributes:
        realtime: Pace frames at 1× real time.
        channel: "caller", "agent" or a channel index.
        caller_channel: Caller's channel in multi-channel recordings.
        endpointing: How turns are cut (the same settings every transport uses).
    """

    realtime: bool = False
    channel: str | int = "caller"
    caller_channel: int = 1
    endpointing: EndpointingConfig = field(default_factory=EndpointingConfig)


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
    endpointer = make_endpointer(options.endpointing,
                                 session.hear if session.asr is not None else None,
                                 session.idle)
    prewarm()  # librosa/numba start-up must not land in the first turn's decision latency
    frames = iter_frames(path, channel=options.channel, caller_channel=options.caller_channel)

    clock = FrameClock()

    def decide(utterances: list, declared_at: float) -> None:
        for utt in utterances:
            turn = session.on_utterance(utt, clock.timing(utt, declared_at))
            if turn is not None and on_turn is not None:
                on_turn(turn)

    error = None
    position = 0.0
    try:
        for frame, arrived in _paced(frames, options.realtime):
            position = frame.end_s
            clock.arrived(frame.end_s, arrived)
            decide(endpointer.push(frame), arrived)
            if on_progress is not None:
                on_progress(position)
    except AudioError as exc:
        error = str(exc)
    decide(endpointer.flush(), time.perf_counter())
    session.record.call["duration_s"] = round(position, 2)
    if error:
        session.record.call["error"] = error
    return session.record, error
