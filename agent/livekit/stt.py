"""livekit-agents STT plugin over Tierline's offline Whisper.

Non-streaming (Whisper decodes whole utterances): livekit wraps it with the VAD in a
``StreamAdapter``, which hands it each utterance the VAD closed. Recognition runs in a worker
thread so the event loop keeps pacing audio. The final transcript carries language and
confidence; the call ledger learns it with the utterance's place in the call.
"""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import soxr
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions

from tierline.agent.livekit.ledger import CallLedger, audio_key
from tierline.agent.livekit.vad import pcm_of
from tierline.audio.records import PIPELINE_RATE
from tierline.dialects.asr import ASR

MIN_AUDIO_S = 0.05
"""Shorter audio is not sent to the recogniser (the VAD's end marker for dropped noise)."""


class TierlineSTT(stt.STT):
    """Speech-to-text with a :class:`tierline.dialects.asr.ASR` (Whisper, or FakeASR in tests).

    Args:
        asr: The recogniser, loaded once per process.
        ledger: Call ledger that files every transcript with its utterance timing.
    """

    def __init__(self, asr: ASR, ledger: CallLedger | None = None) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self.asr = asr
        self.ledger = ledger

    @property
    def model(self) -> str:
        return str(getattr(self.asr, "model_dir", type(self.asr).__name__))

    @property
    def provider(self) -> str:
        return "tierline"

    async def _recognize_impl(self, buffer: utils.AudioBuffer, *,
                              language: str | object = NOT_GIVEN,
                              conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
                              ) -> stt.SpeechEvent:
        frame = utils.merge_frames(buffer)
        pcm = pcm_of(frame)
        key = audio_key(pcm.tobytes()) if frame.sample_rate == PIPELINE_RATE else None
        audio = pcm.astype(np.float32) / 32768.0
        if frame.sample_rate != PIPELINE_RATE:
            audio = soxr.resample(audio, frame.sample_rate, PIPELINE_RATE).astype(np.float32)
        if len(audio) < MIN_AUDIO_S * PIPELINE_RATE:  # the VAD's marker for a dropped click
            return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                                   alternatives=[stt.SpeechData(language=LanguageCode("zh"),
                                                                text="")])
        transcript = await asyncio.to_thread(self.asr.transcribe, audio)
        asr_ms = transcript.compute_ms
        duration = len(audio) / PIPELINE_RATE
        if self.ledger is not None:
            self.ledger.heard(key, transcript.text, transcript.language, transcript.dialect,
                              transcript.confidence, asr_ms, duration, transcript.alternatives)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex[:12],
            alternatives=[stt.SpeechData(
                language=LanguageCode(transcript.language),
                text=transcript.text,
                # utterance-relative times would be misread as stream times: leave unset
                confidence=transcript.confidence,
            )],
        )
