"""Prosody measurements: known synthetic signals, espeak-ng calm vs agitated, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.voice_audio import AGITATED, CALM, espeak, silence

from tierline.audio.prosody import count_syllables, extract_prosody

RATE = 16000


def syllables(f0_from: float, f0_to: float, seconds: float = 2.0, n: int = 8,
              amp: float = 0.3) -> np.ndarray:
    """Harmonic 'syllables' with a linear F0 glide and short gaps (a voice-like test signal)."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = f0_from + (f0_to - f0_from) * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 10))
    env = (np.sin(np.pi * n * t / seconds) ** 2) ** 0.3
    return (amp * x * env / np.max(np.abs(x))).astype(np.float32)


def test_known_f0_glide():
    p = extract_prosody(np.concatenate([silence(0.3), syllables(150, 200), silence(0.3)]))
    assert p.speech_like
    assert p.f0_median_hz == pytest.approx(175, rel=0.05)
    expected_slope = 12 * math.log2(200 / 150) / 2.0
    assert p.f0_slope_st_s == pytest.approx(expected_slope, rel=0.25)
    assert p.f0_range_st == pytest.approx(0.8 * 12 * math.log2(200 / 150), rel=0.3)
    assert p.speech_s == pytest.approx(2.0, abs=0.2)
    assert p.jitter < 0.02  # a smooth glide has almost no period perturbation


def test_gain_moves_level_not_pitch():
    x = syllables(120, 160)
    quiet, loud = extract_prosody(x * 0.25), extract_prosody(x)
    assert loud.level_db - quiet.level_db == pytest.approx(20 * math.log10(4), abs=0.5)
    assert loud.f0_median_hz == pytest.approx(quiet.f0_median_hz, rel=0.02)


def test_rate_from_transcript_and_sample_rate_independence():
    x = syllables(150, 180)
    p = extract_prosody(x, text="我想问一下你们的价格")
    assert count_syllables("我想问一下你们的价格") == 10
    assert p.rate_cps == pytest.approx(10 / p.speech_s)
    import soxr

    p8 = extract_prosody(soxr.resample(x, RATE, 8000), 8000)
    assert p8.f0_median_hz == pytest.approx(p.f0_median_hz, rel=0.03)


def test_count_syllables():
    assert count_syllables("预算120万, OK") == 2 + 3 + 1 + 1  # a digit counts as one
    assert count_syllables(None) == 0


def test_agitated_rendering_is_louder_faster_higher():
    text = "你们的系统又崩了，怎么回事"
    calm = extract_prosody(espeak(text, **CALM), text=text)
    agitated = extract_prosody(espeak(text, **AGITATED), text=text)
    assert calm.speech_like and agitated.speech_like
    assert agitated.level_db > calm.level_db + 4
    assert agitated.rate_cps > calm.rate_cps * 1.2
    assert agitated.f0_median_hz > calm.f0_median_hz * 1.15


@pytest.mark.parametrize("name", ["empty", "short", "tone", "noise", "nan", "silence",
                                  "bad_rate"])
def test_nothing_speech_like_in_bad_input(name):
    rng = np.random.default_rng(0)
    t = np.arange(2 * RATE) / RATE
    audio, rate = {
        "empty": (np.zeros(0, np.float32), RATE),
        "short": (syllables(150, 160)[: RATE // 10], RATE),
        "tone": (0.5 * np.sin(2 * np.pi * 200 * t).astype(np.float32), RATE),
        "noise": (rng.normal(0, 0.2, 2 * RATE).astype(np.float32), RATE),
        "nan": (np.full(RATE, np.nan, np.float32), RATE),
        "silence": (silence(2.0), RATE),
        "bad_rate": (syllables(150, 160), 1000),
    }[name]
    p = extract_prosody(audio, rate)
    assert not p.speech_like


def test_tone_burst_in_silence_is_not_speech():
    t = np.arange(RATE) / RATE
    burst = np.concatenate([silence(0.5), 0.4 * np.sin(2 * np.pi * 300 * t), silence(0.5)])
    assert not extract_prosody(burst.astype(np.float32)).speech_like


@pytest.mark.parametrize("damage", ["clip", "dc", "int16"])
def test_damaged_speech_still_measured(damage):
    x = np.concatenate([silence(0.2), syllables(140, 190), silence(0.2)])
    clean = extract_prosody(x)
    bad = {"clip": np.clip(x * 8, -1, 1), "dc": x + 0.4,
           "int16": np.round(x * 32767).astype(np.int16)}[damage]
    p = extract_prosody(bad)
    assert p.speech_like
    assert p.f0_median_hz == pytest.approx(clean.f0_median_hz, rel=0.05)
    if damage == "clip":
        assert p.clipped > 0.05
