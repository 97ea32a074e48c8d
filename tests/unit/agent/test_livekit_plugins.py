"""livekit plugins and config, fast: VAD framing, STT filing, TTS audio, file I/O, bad config."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soundfile as sf
from helpers import paths
from livekit import rtc

from tierline.agent.livekit.config import ConfigError, load_config, parse_config
from tierline.agent.livekit.ledger import CallLedger, audio_key, utterance_pcm16
from tierline.agent.livekit.stt import TierlineSTT
from tierline.agent.livekit.tts import EspeakTTS
from tierline.agent.livekit.vad import TierlineVAD
from tierline.audio.io import iter_frames
from tierline.audio.turn_clock import TurnTiming
from tierline.audio.vad import EndpointerConfig, split_utterances
from tierline.dialects.asr import FakeASR

SAMPLE = str(paths.CALLS / "medium_hesitant_continue.wav")


async def _vad_utterances(chunk: int) -> tuple[list, CallLedger]:
    ledger = CallLedger()
    vad = TierlineVAD(EndpointerConfig(), ledger)
    stream = vad.stream()
    pcm = np.concatenate([f.pcm for f in iter_frames(SAMPLE)]).astype(np.int16)
    for i in range(0, len(pcm), chunk):
        part = pcm[i:i + chunk]
        stream.push_frame(rtc.AudioFrame(part.tobytes(), 16000, 1, len(part)))
    stream.end_input()
    events = [ev async for ev in stream]
    await stream.aclose()
    return events, ledger


@pytest.mark.parametrize("chunk", [160, 320, 1000])
def test_vad_cuts_the_endpointers_utterances_whatever_the_frame_size(chunk):
    events, ledger = asyncio.run(_vad_utterances(chunk))
    ends = [ev for ev in events if ev.type.value == "end_of_speech"]
    starts = [ev for ev in events if ev.type.value == "start_of_speech"]
    assert len(ends) == len(starts)  # every opened turn is closed, dropped clicks too
    ends = [ev for ev in ends if ev.speech_duration > 0]
    expected = list(split_utterances(iter_frames(SAMPLE)))
    assert len(expected) >= 2
    assert len(ends) == len(expected)
    for ev, utt in zip(ends, expected, strict=True):
        pcm16 = utterance_pcm16(utt)
        assert ev.frames[0].data.tobytes() == pcm16  # the exact audio replay transcribes
        assert audio_key(pcm16) in ledger._utterances


def test_stt_files_the_transcript_with_the_utterance_timing():
    async def go():
        ledger = CallLedger()
        utt = next(iter(split_utterances(iter_frames(SAMPLE))))
        pcm16 = utterance_pcm16(utt)
        ledger.register(audio_key(pcm16), utt, TurnTiming(0.5, 1.0))
        stt = TierlineSTT(FakeASR(["你们的功能听起来还不错。"]), ledger)
        frame = rtc.AudioFrame(pcm16, 16000, 1, len(pcm16) // 2)
        ev = await stt.recognize(frame)
        return ev, ledger.take_turn(), utt

    ev, heard, utt = asyncio.run(go())
    alt = ev.alternatives[0]
    assert alt.text == "你们的功能听起来还不错。" and alt.language == "zh"
    assert alt.confidence == 1.0
    assert len(heard) == 1
    assert (heard[0].start_s, heard[0].end_s, heard[0].timing) == (utt.start_s, utt.end_s,
                                                                   TurnTiming(0.5, 1.0))


def test_stt_empty_transcript_settles_the_utterance():
    async def go():
        ledger = CallLedger()
        utt = next(iter(split_utterances(iter_frames(SAMPLE))))
        pcm16 = utterance_pcm16(utt)
        ledger.register(audio_key(pcm16), utt)
        ledger.released = 1
        stt = TierlineSTT(FakeASR([]), ledger)
        await stt.recognize(rtc.AudioFrame(pcm16, 16000, 1, len(pcm16) // 2))
        return ledger

    ledger = asyncio.run(go())
    assert ledger.settled == 1 and ledger.pending == 0


@pytest.mark.parametrize("rate", [8000, 16000])
def test_espeak_tts_speaks_mandarin_at_the_line_rate(rate):
    async def go():
        tts = EspeakTTS(sample_rate=rate)
        frames = [ev.frame async for ev in tts.synthesize("您好，请问有什么可以帮您？")]
        return frames

    frames = asyncio.run(go())
    assert frames and all(f.sample_rate == rate for f in frames)
    pcm = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    assert 1.0 < len(pcm) / rate < 8.0
    assert np.abs(pcm).max() > 1000  # speech, not silence
    with pytest.raises(ValueError):
        EspeakTTS(sample_rate=44100)


def test_sample_config_loads_and_bad_values_name_the_key(tmp_path):
    config = load_config(paths.LIVEKIT_TOML)
    assert config.worker.agent_name == "tierline"
    assert config.queue_targets()["care"].startswith("tel:+86")
    assert config.dtmf["0"] == "request_human"
    cases = {
        "[worker]\nagent_name = ''\n": "agent_name",
        "[worker]\nload_threshold = 3\n": "load_threshold",
        "[queues.general]\ntarget = 'http://x'\n": "target must be",
        "[tts]\nsample_rate = 44100\n": "sample_rate",
        "[sip]\nringing_timeout_s = 'x'\n": "ringing_timeout_s must be a number",
        "[dtmf]\nA = 'request_human'\n": "DTMF",
        "[prompts]\nhello = 'x'\n": "unknown prompt",
        "nonsense = [": "invalid TOML",
    }
    for i, (text, needle) in enumerate(cases.items()):
        path = tmp_path / f"c{i}.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=needle):
            load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    assert parse_config({}).queue("care").target == ""  # no target unless configured


def test_file_input_waits_for_the_bot_and_hangs_up_at_the_end(tmp_path):
    """The caller stops after each utterance until it is settled, then hangs up."""
    from tierline.agent.livekit.audio_io import FileAudioInput

    async def go():
        ledger = CallLedger()
        line = FileAudioInput(SAMPLE, ledger, speed=0, wait_timeout=0.2)
        ledger.ready.set()
        frames = 0
        async for _frame in line:
            frames += 1
        return ledger, line, frames

    ledger, line, frames = asyncio.run(go())
    utterances = list(split_utterances(iter_frames(SAMPLE)))
    assert ledger.released == len(utterances)
    # nobody settled: it waited (in vain) after each utterance that closed before the end
    assert line.timeouts == sum(u.detected_at_s < line.position_s for u in utterances) >= 1
    assert ledger.hung_up.is_set() and line.done.is_set()
    assert ledger.samples_sent == frames * 320
    assert line.position_s == pytest.approx(sf.info(SAMPLE).duration, abs=0.03)
