"""The angry sample call replayed with real Whisper: care is reached on voice and words."""

from __future__ import annotations

import json

import pytest
from helpers.paths import CALLS as SAMPLES

from tierline.agent.replay import replay_file
from tierline.agent.session import CallSession, Models
from tierline.dialects.asr import WhisperASR
from tierline.dialects.models import resolve_asr_model
from tierline.nlu.pipeline import Nlu
from tierline.segmentation.features import load_customer

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


def test_angry_sample_routes_to_care_on_voice_and_words():
    asr = WhisperASR(resolve_asr_model(None))
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
