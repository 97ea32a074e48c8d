"""Emotion: voice (per-caller arousal) fused with word sentiment/anger; session wiring."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.voice_audio import AGITATED, CALM, espeak, silence

from tierline.audio.arousal import CallerVoice
from tierline.audio.emotion import emotion_from_words, fuse_emotion, voice_anger
from tierline.audio.records import EMOTIONS, VoiceAffect


def affect(arousal: float, confidence: float = 0.7, hesitancy: float = 0.2) -> VoiceAffect:
    return VoiceAffect(arousal, hesitancy, confidence, turn=2)


def test_text_only_turns_keep_the_word_rules():
    for args in [(-0.9, 0.85, 0.0), (0.0, 0.0, 0.8), (0.7, 0.0, 0.0), (-0.3, 0.0, 0.0)]:
        assert fuse_emotion(None, *args) == emotion_from_words(*args)
        assert fuse_emotion(affect(0.9, confidence=0.0), *args) == emotion_from_words(*args)


def test_nothing_usable_is_neutral_with_low_confidence():
    e = fuse_emotion(affect(0.35, confidence=0.0), 0.0, 0.0, 0.0, has_words=False)
    assert e.label == "neutral" and e.confidence <= 0.2


@pytest.mark.parametrize("arousal,sentiment,anger,label", [
    (0.9, 0.0, 0.0, "neutral"),     # excited, neutral words: not angry
    (0.3, -0.5, 0.0, "neutral"),    # calm mild complaint: not angry
    (0.9, -0.4, 0.0, "neutral"),    # shouted *mild* complaint stays below the threshold
    (0.9, -0.9, 0.0, "angry"),      # shouted clear complaint: angry
    (0.3, -0.9, 0.85, "angry"),     # threat words alone: angry
    (0.6, 0.8, 0.0, "positive"),
])
def test_fusion_rules(arousal, sentiment, anger, label):
    e = fuse_emotion(affect(arousal), sentiment, anger, 0.0)
    assert e.label == label and e.label in EMOTIONS
    assert 0.0 <= e.arousal <= 1.0 and 0.0 <= e.confidence <= 1.0


def test_sources_say_what_decided():
    assert fuse_emotion(affect(0.9), -0.9, 0.0, 0.0).source == "voice+words"
    assert fuse_emotion(affect(0.3), -0.9, 0.85, 0.0).source == "words"
    assert fuse_emotion(affect(0.9), -0.9, 0.85, 0.0).source == "voice+words"
    assert voice_anger(affect(0.9), -0.9, 0.85) > voice_anger(affect(0.3), -0.9, 0.85) == 0


def test_voice_hesitancy_reinforces_weak_hesitation_words():
    assert fuse_emotion(affect(0.3, hesitancy=0.1), 0.0, 0.0, 0.35).label == "neutral"
    assert fuse_emotion(affect(0.3, hesitancy=0.9), 0.0, 0.0, 0.35).label == "hesitant"


def test_arousal_follows_the_voice():
    low = fuse_emotion(affect(0.2), 0.0, 0.0, 0.0).arousal
    high = fuse_emotion(affect(0.9), 0.0, 0.0, 0.0).arousal
    assert high - low > 0.4


# ----------------------------------------------------------------- per-caller normalisation


@pytest.fixture(scope="module")
def renders() -> dict[str, np.ndarray]:
    text = "你们的系统又崩了，怎么回事"
    return {"text": text, "calm": espeak(text, **CALM), "calm2": espeak("我想问一下价格", **CALM),
            "agitated": espeak(text, **AGITATED)}


def test_escalating_caller(renders):
    voice = CallerVoice()
    first = voice.observe(renders["calm2"], text="我想问一下价格")
    calm = voice.observe(renders["calm"], text=renders["text"])
    agitated = voice.observe(renders["agitated"], text=renders["text"])
    assert first.turn == 0 and agitated.turn == 2
    assert first.confidence < agitated.confidence  # population priors trust less
    assert agitated.arousal > calm.arousal + 0.3
    assert agitated.escalation > 0.25
    assert any("faster" in r or "louder" in r or "higher pitch" in r for r in agitated.reasons)
    assert "pitch" not in first.z  # pitch is only read against the caller's own turns


def test_same_words_calm_vs_agitated_change_the_label(renders):
    """Paired synthetic turns: clearly negative words, no anger words; the voice decides."""
    sentiment, anger = -0.8, 0.0
    labels = {}
    for style in ("calm", "agitated"):
        voice = CallerVoice()
        voice.observe(renders["calm2"], text="我想问一下价格")  # the caller's usual voice
        v = voice.observe(renders[style], text=renders["text"])
        labels[style] = fuse_emotion(v, sentiment, anger, 0.0).label
    assert labels == {"calm": "neutral", "agitated": "angry"}


@pytest.mark.parametrize("bad", ["tone", "noise", "short", "clipped", "nan", "rate"])
def test_bad_audio_gives_no_voice_evidence_or_sane_values(bad):
    rng = np.random.default_rng(1)
    t = np.arange(16000) / 16000
    audio, rate = {"tone": (np.sin(2 * np.pi * 440 * t), 16000),
                   "noise": (rng.normal(0, 0.3, 16000), 16000),
                   "short": (rng.normal(0, 0.3, 1600), 16000),
                   "clipped": (np.sign(np.sin(2 * np.pi * 180 * t)), 16000),
                   "nan": (np.full(8000, np.nan), 16000),
                   "rate": (silence(1.0), 0)}[bad]
    v = CallerVoice().observe(np.asarray(audio, dtype=np.float32), rate, "喂")
    assert 0 <= v.arousal <= 1 and 0 <= v.confidence <= 1
    if bad != "clipped":
        assert v.confidence == 0.0
        assert fuse_emotion(v, 0.0, 0.0, 0.0, has_words=False).confidence <= 0.2
