"""Emotion inside a call session: prosody of the utterance audio fused with the NLU's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from voice_audio import AGITATED, CALM, espeak, silence

from tierline.agent.session import CallSession, Models
from tierline.audio.records import Utterance
from tierline.dialects.asr import FakeASR
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "calls"
FIRST = "你好，我想问一下你们的价格。"
COMPLAINT = "你们的系统又崩了，怎么回事"


def utterance(audio: np.ndarray, start: float) -> Utterance:
    audio = np.concatenate([silence(0.2), audio, silence(0.1)])
    end = start + len(audio) / 16000
    return Utterance(start, end, audio, end + 0.6)


def call(second_style: dict) -> list:
    session = CallSession(Models(nlu=Nlu(), asr=FakeASR([FIRST, COMPLAINT])),
                          CustomerProfile(), {"id": "t"})
    turns = [session.on_utterance(utterance(espeak(FIRST, **CALM), 0.0)),
             session.on_utterance(utterance(espeak(COMPLAINT, **second_style), 6.0))]
    return [t for t in turns if t is not None], session


def test_same_complaint_calm_vs_agitated():
    (t0, calm), _ = call(CALM)
    (_, agitated), session = call(AGITATED)
    assert t0.emotion.source == "voice+words"
    assert calm.emotion.label != "angry"
    assert agitated.emotion.label == "angry" and agitated.emotion.source == "voice+words"
    assert agitated.emotion.arousal > calm.emotion.arousal + 0.2
    assert session.route.queue == "care" and session.route.at_turn == 1
    as_json = agitated.to_dict()["emotion"]
    assert as_json["label"] == "angry" and 0 < as_json["arousal"] <= 1


def test_text_only_turns_still_work():
    session = CallSession(Models(nlu=Nlu()), CustomerProfile(), {"id": "t"})
    turn = session.on_text("我要投诉你们！")
    assert turn.emotion.label == "angry" and turn.emotion.source == "words"
    assert session.on_text("好的，谢谢").emotion.source == "words"


@pytest.mark.model
@pytest.mark.slow
def test_angry_sample_routes_to_care_on_voice_and_words():
    from tierline.agent.replay import replay_file
    from tierline.dialects.asr import WhisperASR
    from tierline.dialects.errors import ModelError
    from tierline.dialects.models import resolve_asr_model
    from tierline.segmentation.features import load_customer

    try:
        asr = WhisperASR(resolve_asr_model(None))
    except ModelError as exc:
        pytest.skip(f"Whisper model not assembled: {exc}")
    wav = SAMPLES / "angry_care.wav"
    session = CallSession(Models(nlu=Nlu(), asr=asr),
                          load_customer(SAMPLES / "angry_care.customer.json"), {"id": "angry"})
    record, error = replay_file(wav, session)
    assert error is None
    result = record.to_dict()
    expected = json.loads((SAMPLES / "angry_care.expected.json").read_text(encoding="utf-8"))
    assert result["route"]["queue"] == expected["queue"] == "care"
    decisive = result["turns"][result["route"]["at_turn"]]["emotion"]
    assert decisive["label"] == "angry" and decisive["source"] == "voice+words"
    assert decisive["arousal"] > 0.5
