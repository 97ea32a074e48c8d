"""livekit-agents VAD plugin over Tierline's webrtcvad endpointer.

Frames of any size and rate are re-cut into the endpointer's 20 ms 16 kHz frames, aligned on
the sample count since the stream began, so a call read from a file is cut into exactly the
utterances `tierline replay` cuts. START_OF_SPEECH fires when the endpointer opens a turn,
END_OF_SPEECH when it closes one (carrying the utterance audio for the STT), INFERENCE_DONE
after every frame. A flush (or the caller hanging up) closes an open turn like the end of a
recording does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr
from livekit import rtc
from livekit.agents import vad

from tierline.agent.livekit.ledger import CallLedger, audio_key, utterance_pcm16
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame, Utterance
from tierline.audio.turn_clock import FrameClock
from tierline.audio.vad import Endpointer, EndpointerConfig

EndpointerFactory = Callable[[], Any]
"""Makes an endpointer: ``push(frame) -> [Utterance]``, ``flush()``, ``in_speech``."""

FRAME_SAMPLES = PIPELINE_RATE * FRAME_MS // 1000


def pcm_of(frame: rtc.AudioFrame) -> np.ndarray:
    """Mono int16 samples of a livekit frame (channels averaged)."""
    pcm = np.frombuffer(frame.data, dtype=np.int16)
    if frame.num_channels > 1:
        pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
    return pcm


class TierlineVAD(vad.VAD):
    """Voice activity and end-of-turn from :class:`tierline.audio.vad.Endpointer`.

    Args:
        config: Endpointer settings (the same ones `tierline replay` uses).
        ledger: Call ledger that learns every utterance this VAD closes.
        factory: Makes the endpointer of each stream (default: webrtcvad ``Endpointer``);
            pass the one `tierline replay` uses to cut turns exactly as replay does.
    """

    def __init__(self, config: EndpointerConfig | None = None,
                 ledger: CallLedger | None = None,
                 factory: EndpointerFactory | None = None) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=FRAME_MS / 1000))
        self.config = config or EndpointerConfig()
        self.ledger = ledger
        self.factory = factory or (lambda: Endpointer(self.config))

    @property
    def model(self) -> str:
        return f"webrtcvad-endpointer(aggr={self.config.aggressiveness})"

    @property
    def provider(self) -> str:
        return "tierline"

    def stream(self) -> TierlineVADStream:
        return TierlineVADStream(self)


class TierlineVADStream(vad.VADStream):
    """One audio stream through a fresh endpointer."""

    def __init__(self, owner: TierlineVAD) -> None:
        self._owner = owner
        self._endpointer = owner.factory()
        self._buf = np.zeros(0, dtype=np.int16)
        self._samples_in = 0  # 16 kHz samples received
        self._resampler: soxr.ResampleStream | None = None
        self._in_rate: int | None = None
        self._speech_since: float | None = None
        # arrival of recent frames by their end in the call timeline, so a turn's latency
        # and the silence before END_OF_SPEECH are wall time whatever the pacing
        self._clock = FrameClock()
        super().__init__(owner)
        self._hangup_task: asyncio.Task[None] | None = None
        if owner.ledger is not None:
            self._hangup_task = asyncio.create_task(self._watch_hangup(owner.ledger))

    async def _watch_hangup(self, ledger: CallLedger) -> None:
        await ledger.hung_up.wait()
        # frames still travelling through livekit's channels are waited for (bounded)
        for _ in range(50):
            if self._samples_in >= ledger.samples_sent:
                break
            await asyncio.sleep(0.02)
        if not self._input_ch.closed:
            self._input_ch.send_nowait(self._FlushSentinel())

    async def aclose(self) -> None:
        if self._hangup_task is not None:
            self._hangup_task.cancel()
        await super().aclose()

    def _to_16k(self, frame: rtc.AudioFrame) -> np.ndarray:
        pcm = pcm_of(frame)
        if frame.sample_rate == PIPELINE_RATE:
            return pcm
        if self._resampler is None or self._in_rate != frame.sample_rate:
            self._in_rate = frame.sample_rate
            self._resampler = soxr.ResampleStream(frame.sample_rate, PIPELINE_RATE, 1,
                                                  dtype="int16")
        return self._resampler.resample_chunk(pcm)

    async def _main_task(self) -> None:
        ledger = self._owner.ledger
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                await self._flush()
                continue
            pcm = self._to_16k(item)
            self._buf = np.concatenate([self._buf, pcm])
            while len(self._buf) >= FRAME_SAMPLES:
                chunk, self._buf = self._buf[:FRAME_SAMPLES], self._buf[FRAME_SAMPLES:]
                await self._push(Frame(chunk, self._samples_in / PIPELINE_RATE))
                self._samples_in += FRAME_SAMPLES
            if (ledger is not None and ledger.hung_up.is_set()
                    and self._samples_in >= ledger.samples_sent):
                await self._flush()

    async def _push(self, frame: Frame) -> None:
        t0 = time.perf_counter()
        self._clock.arrived(frame.end_s, t0)
        was_open = self._endpointer.in_speech
        # off the loop: an endpointer may transcribe an open turn (quantity-aware endpointing)
        closed = await asyncio.to_thread(self._endpointer.push, frame)
        took = time.perf_counter() - t0
        for utt in closed:
            self._end(utt, took)
        now_open = self._endpointer.in_speech
        if was_open and not now_open and not closed:
            self._end(None, took)  # a click or noise the endpointer dropped: speech is over
        if now_open and (not was_open or closed):
            self._speech_since = frame.end_s
            self._send(vad.VADEventType.START_OF_SPEECH, frame.end_s, took,
                       speech=FRAME_MS / 1000 * self._owner.config.start_frames)
        speaking = self._endpointer.in_speech
        speech = frame.end_s - self._speech_since if speaking and self._speech_since else 0.0
        self._send(vad.VADEventType.INFERENCE_DONE, frame.end_s, took, speech=speech,
                   speaking=speaking, frames=[_frame_of(frame.pcm)])

    async def _flush(self) -> None:
        was_open = self._endpointer.in_speech
        closed = await asyncio.to_thread(self._endpointer.flush)
        for utt in closed:
            self._end(utt, 0.0)
        if was_open and not closed:
            self._end(None, 0.0)
        self._buf = np.zeros(0, dtype=np.int16)

    def _end(self, utt: Utterance | None, took: float) -> None:
        if utt is None:  # no utterance: END_OF_SPEECH with a silent 10 ms frame
            self._speech_since = None
            blank = np.zeros(PIPELINE_RATE // 100, dtype=np.int16)
            self._event_ch.send_nowait(vad.VADEvent(
                type=vad.VADEventType.END_OF_SPEECH, samples_index=self._samples_in,
                timestamp=time.time(), speech_duration=0.0, silence_duration=0.0,
                frames=[_frame_of(blank)], inference_duration=took))
            return
        pcm16 = utterance_pcm16(utt)
        timing = self._clock.timing(utt)
        if self._owner.ledger is not None:
            self._owner.ledger.register(audio_key(pcm16), utt, timing)
        samples = len(pcm16) // 2
        self._speech_since = None
        self._event_ch.send_nowait(vad.VADEvent(
            type=vad.VADEventType.END_OF_SPEECH,
            samples_index=round(utt.detected_at_s * PIPELINE_RATE),
            timestamp=time.time(),
            speech_duration=utt.end_s - utt.start_s,
            silence_duration=timing.endpoint_ms / 1000,
            frames=[rtc.AudioFrame(pcm16, PIPELINE_RATE, 1, samples)],
            inference_duration=took,
        ))

    def _send(self, kind: vad.VADEventType, at_s: float, took: float, speech: float = 0.0,
              speaking: bool = True, frames: list[rtc.AudioFrame] | None = None) -> None:
        self._event_ch.send_nowait(vad.VADEvent(
            type=kind,
            samples_index=round(at_s * PIPELINE_RATE),
            timestamp=time.time(),
            speech_duration=speech,
            silence_duration=0.0,
            frames=frames or [],
            probability=1.0 if speaking else 0.0,
            inference_duration=took,
            speaking=speaking,
            raw_accumulated_speech=speech,
        ))


def _frame_of(pcm: np.ndarray) -> rtc.AudioFrame:
    return rtc.AudioFrame(pcm.astype(np.int16).tobytes(), PIPELINE_RATE, 1, len(pcm))
