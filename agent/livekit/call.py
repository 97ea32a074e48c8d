"""One call on an AgentSession: plugins, session options, and a recorded call played through it.

:func:`make_session` builds the livekit ``AgentSession`` every Tierline call uses (our VAD,
Whisper STT and TTS, VAD turn detection, no AEC warm-up). :func:`run_file_call` runs a
recorded call through it with a file input and a recording output, without any server.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit.agents import AgentSession
from livekit.agents import tts as lk_tts

from tierline.agent.livekit.agent import TierlineAgent
from tierline.agent.livekit.audio_io import FileAudioInput, RecordingAudioOutput
from tierline.agent.livekit.config import LiveKitConfig, TtsConfig
from tierline.agent.livekit.ledger import CallLedger
from tierline.agent.livekit.prompts import Prompts
from tierline.agent.livekit.stt import TierlineSTT
from tierline.agent.livekit.tts import EspeakTTS
from tierline.agent.livekit.vad import TierlineVAD
from tierline.agent.records import CallRecord, TurnRecord
from tierline.agent.session import CallSession
from tierline.audio.endpointer import EndpointingConfig, make_endpointer
from tierline.audio.vad import EndpointerConfig
from tierline.dialects.memo import MemoASR

logger = logging.getLogger("tierline.livekit")


def make_tts(config: TtsConfig) -> lk_tts.TTS:
    """The configured TTS: offline espeak-ng, or ``module:Class`` of any livekit TTS plugin."""
    if config.plugin == "espeak":
        return EspeakTTS(config.sample_rate, config.voice, config.speed_wpm)
    module, _, name = config.plugin.partition(":")
    if not name:
        raise ValueError(f"[tts] plugin must be 'espeak' or 'module:Class', not {config.plugin!r}")
    cls = getattr(importlib.import_module(module), name)
    return cls(**config.options)


def call_recogniser(call: CallSession) -> MemoASR:
    """The call's memoising recogniser, shared by the endpointer, the STT and the session."""
    if call.asr is None:
        raise ValueError("a livekit call needs the ASR model")
    return call.asr


def endpointer_factory(endpointer: EndpointerConfig, call: CallSession) -> Callable[[], Any]:
    """Endpointers that cut exactly as `tierline replay` cuts (two-stage, quantity-aware)."""
    config = EndpointingConfig(endpointer=endpointer)
    return lambda: make_endpointer(config, call.hear, call.idle)


def make_session(call: CallSession, config: LiveKitConfig, ledger: CallLedger,
                 endpointer: EndpointerConfig | None = None,
                 tts: lk_tts.TTS | None = None, can_pause: bool = True,
                 factory: Callable[[], Any] | None = None) -> AgentSession:
    """An AgentSession wired to Tierline's plugins for one call.

    ``can_pause`` False (an output that cannot pause) turns off resuming after a false
    interruption, which needs pausing.
    """
    asr = call_recogniser(call)
    endpointer = endpointer or EndpointerConfig()
    factory = factory or endpointer_factory(endpointer, call)
    kwargs: dict[str, Any] = {}
    if config.llm:
        kwargs["llm"] = config.llm
    return AgentSession(
        vad=TierlineVAD(endpointer, ledger, factory),
        stt=TierlineSTT(asr, ledger),
        tts=tts or make_tts(config.tts),
        turn_handling={
            "turn_detection": "vad",
            "interruption": {"mode": "vad", "resume_false_interruption": can_pause},
            "preemptive_generation": {"enabled": False},
        },
        aec_warmup_duration=None,
        user_away_timeout=None,
        **kwargs,
    )


@dataclass
class FileCallResult:
    """A recorded call after it ran through an AgentSession."""

    record: CallRecord
    bot_audio: list[Any] = field(default_factory=list)
    error: str | None = None


async def run_file_call(path: str | Path, call: CallSession, config: LiveKitConfig, *,
                        speed: float = 1.0, endpointer: EndpointerConfig | None = None,
                        channel: str | int = "caller", caller_channel: int = 1,
                        on_turn: Callable[[TurnRecord], None] | None = None,
                        settle_timeout: float = 60.0,
                        tts: lk_tts.TTS | None = None,
                        factory: Callable[[], Any] | None = None) -> FileCallResult:
    """Play a recorded caller into a real AgentSession and decide every turn.

    Args:
        path: The recording.
        call: The call's session (its record is filled in).
        config: LiveKit configuration (prompts, queues, TTS).
        speed: Pacing × real time (0 = as fast as possible).
        endpointer: Endpointer settings shared by the input and the VAD plugin.
        channel: Which channel is the caller.
        caller_channel: Caller's channel in stereo recordings.
        on_turn: Called with every decided turn.
        settle_timeout: Longest wait for the last turn after the caller hung up, seconds.
        tts: TTS instance (default: from the configuration).
        factory: Endpointer factory (default: the one `tierline replay` uses).
    """
    endpointer = endpointer or EndpointerConfig()
    ledger = CallLedger()
    factory = factory or endpointer_factory(endpointer, call)
    session = make_session(call, config, ledger, endpointer, tts, can_pause=False,
                           factory=factory)
    line_in = FileAudioInput(path, ledger, speed, endpointer, channel, caller_channel,
                             factory=factory)
    line_out = RecordingAudioOutput(speed, sample_rate=config.tts.sample_rate)
    session.input.audio = line_in
    session.output.audio = line_out
    agent = TierlineAgent(call, ledger, Prompts(config, call),
                          callbacks_file=config.worker.callbacks_file, on_turn=on_turn,
                          with_llm=bool(config.llm))
    agent.info.update({"speed": speed, "mode": "file"})
    await session.start(agent, record=False)
    try:
        await line_in.done.wait()
        if not await ledger.wait_settled(settle_timeout):
            logger.warning("last turn not settled within %.0f s after hang-up", settle_timeout)
            agent.info["unsettled_at_hangup"] = ledger.released - ledger.settled
        if agent.tasks:
            await asyncio.wait(list(agent.tasks), timeout=settle_timeout)
    finally:
        await session.aclose()
    agent.info["asr_decodes"] = call_recogniser(call).decodes
    record = call.record
    record.call["duration_s"] = round(line_in.position_s, 2)
    agent.info["waits_s"] = [round(w, 3) for w in line_in.waits]
    agent.info["wait_timeouts"] = line_in.timeouts
    if line_in.error:
        record.call["error"] = line_in.error
    return FileCallResult(record, line_out.audio, line_in.error)
