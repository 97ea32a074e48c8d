"""Emotion inside a call session: prosody of the utterance audio fused with the NLU's numbers.

The angry sample call replayed with real Whisper is in e2e/test_emotion_replay.py.
"""

from __future__ import annotations

import numpy as np
from helpers.voice_audio import AGITATED, CALM, espeak, silence

from tierline.agent.session import CallSession, Models
from tierline.audio.records import Utterance
from tierline.dialects.asr import FakeASR
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import CustomerProfile

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
