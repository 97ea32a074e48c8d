"""Audio I/O that lets an AgentSession run without a LiveKit server.

:class:`FileAudioInput` plays a recorded call into the session as the caller, paced at
``speed`` × real time, and behaves like a person on the phone: after each utterance (cut by
the same endpointer the VAD plugin uses) it waits until the bot has decided and answered
before it goes on, so livekit never merges two recorded turns that `tierline replay` decides
separately. At the end of the file the caller hangs up (an open utterance is closed, as
replay closes it). :class:`RecordingAudioOutput` is the line back to the caller: it plays the
bot's audio on a simulated clock at the same speed and keeps every prompt it was given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from tierline.agent.livekit.ledger import CallLedger
from tierline.audio.io import iter_frames
from tierline.audio.records import PIPELINE_RATE, Frame
from tierline.audio.vad import Endpointer, EndpointerConfig

logger = logging.getLogger("tierline.livekit")


class FileAudioInput(io.AudioInput):
    """A recorded caller as the session's audio input.

    Args:
        path: Audio file (anything `tierline replay` reads).
        ledger: The call's ledger (pacing and hang-up).
        speed: Pacing relative to real time (2.0 = twice as fast); 0 = as fast as possible.
        endpointer: Endpointer settings, the same as the VAD plugin's.
        factory: Makes the endpointer (the VAD plugin's factory; default webrtcvad).
        channel: "caller", "agent" or a channel index.
        caller_channel: Caller's channel in stereo recordings.
        wait_timeout: Longest wait for the bot after an utterance, seconds.
    """

    def __init__(self, path: str | Path, ledger: CallLedger, speed: float = 1.0,
                 endpointer: EndpointerConfig | None = None, channel: str | int = "caller",
                 caller_channel: int = 1, wait_timeout: float = 30.0,
                 factory: Callable[[], Any] | None = None) -> None:
        super().__init__(label=f"file:{Path(path).name}")
        self.path = Path(path)
        self.ledger = ledger
        self.speed = speed
        self.wait_timeout = wait_timeout
        self._endpointer = factory() if factory is not None else Endpointer(endpointer)
        self._frames: Iterator[Frame] = iter_frames(path, channel=channel,
                                                    caller_channel=caller_channel)
        self._clock: float | None = None  # wall time at timeline 0, moved on by waits
        self.position_s = 0.0
        self.waits: list[float] = []
        """Seconds spent waiting for the bot after each utterance."""
        self.timeouts = 0
        self.error: str | None = None
        self.done = asyncio.Event()

    async def __anext__(self) -> rtc.AudioFrame:
        if self.done.is_set():
            raise StopAsyncIteration
        if not self.ledger.ready.is_set():
            await asyncio.wait_for(self.ledger.ready.wait(), self.wait_timeout)
        if self.ledger.settled < self.ledger.released:
            await self._wait_for_bot()
        try:
            frame = next(self._frames)
        except StopIteration:
            await self._hang_up()
            raise StopAsyncIteration from None
        except Exception as exc:  # a broken file ends the call like a dropped line
            self.error = str(exc)
            logger.error("caller audio broke off: %s", exc)
            await self._hang_up()
            raise StopAsyncIteration from None
        await self._pace(frame.end_s)
        self.position_s = frame.end_s
        self.ledger.released += len(await asyncio.to_thread(self._endpointer.push, frame))
        self.ledger.samples_sent += len(frame.pcm)
        pcm = np.asarray(frame.pcm, dtype=np.int16)
        return rtc.AudioFrame(pcm.tobytes(), PIPELINE_RATE, 1, len(pcm))

    async def _wait_for_bot(self) -> None:
        t0 = time.monotonic()
        if not await self.ledger.wait_settled(self.wait_timeout):
            self.timeouts += 1
            logger.warning("bot did not answer within %.0f s at %.1f s; caller goes on",
                           self.wait_timeout, self.position_s)
            self.ledger.settled = self.ledger.released
        waited = time.monotonic() - t0
        self.waits.append(waited)
        if self._clock is not None:
            self._clock += waited

    async def _pace(self, end_s: float) -> None:
        if self.speed <= 0:
            await asyncio.sleep(0)
            return
        now = time.monotonic()
        if self._clock is None:
            self._clock = now
        delay = self._clock + end_s / self.speed - now
        if delay > 0:
            await asyncio.sleep(delay)

    async def _hang_up(self) -> None:
        self.ledger.released += len(await asyncio.to_thread(self._endpointer.flush))
        self.ledger.hung_up.set()
        self.done.set()


@dataclass
class BotPrompt:
    """One thing the bot said into the line."""

    text: str
    at_s: float
    """Call-timeline position of the caller audio when the prompt started."""
    duration_s: float = 0.0
    interrupted: bool = False
    played_s: float = 0.0


@dataclass
class _Segment:
    frames: list[rtc.AudioFrame] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return sum(f.duration for f in self.frames)


class RecordingAudioOutput(io.AudioOutput):
    """The bot's side of the line: a simulated playout clock that keeps what was said.

    Args:
        speed: Playout speed relative to real time (matches the input's pacing); 0 = instant.
        sample_rate: Line rate the TTS audio is resampled to (8000 or 16000).
        keep_audio: Keep the PCM of every prompt (for writing the bot's channel).
    """

    def __init__(self, speed: float = 1.0, sample_rate: int = 16_000,
                 keep_audio: bool = True) -> None:
        super().__init__(label="recording", capabilities=io.AudioOutputCapabilities(pause=False),
                         sample_rate=sample_rate)
        self.speed = speed
        self.keep_audio = keep_audio
        self.audio: list[np.ndarray] = []
        self._segment: _Segment | None = None
        self._playing: asyncio.Task[None] | None = None
        self._started_at = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._segment is None:
            self._segment = _Segment()
        self._segment.frames.append(frame)

    def flush(self) -> None:
        super().flush()
        segment, self._segment = self._segment, None
        if segment is None:
            return
        self._playing = asyncio.create_task(self._play(segment))

    async def _play(self, segment: _Segment) -> None:
        self._started_at = time.monotonic()
        self.on_playback_started(created_at=time.time())
        if self.keep_audio:
            self.audio.append(np.concatenate(
                [np.frombuffer(f.data, dtype=np.int16) for f in segment.frames]))
        length = segment.duration
        if self.speed > 0:
            await asyncio.sleep(length / self.speed)
        self._playing = None
        self.on_playback_finished(playback_position=length, interrupted=False)

    def clear_buffer(self) -> None:
        if self._segment is not None:  # cleared while still capturing: ends that segment
            self._segment = None
            super().flush()
            self.on_playback_finished(playback_position=0.0, interrupted=True)
        task, self._playing = self._playing, None
        if task is not None and not task.done():
            task.cancel()
            played = (time.monotonic() - self._started_at) * max(self.speed, 1e-9)
            self.on_playback_finished(playback_position=played, interrupted=True)
