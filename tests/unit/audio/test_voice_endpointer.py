"""Two-stage endpointer: webrtcvad proposes, Silero (or a scripted fake) confirms."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.voice_audio import espeak, silence, to_frames

from tierline.audio.detector import ScriptedDetector
from tierline.audio.endpointer import ConfirmConfig, TwoStageEndpointer, split_two_stage
from tierline.audio.errors import AudioError
from tierline.audio.evaluation.vadeval import synth_cough
from tierline.audio.quantity import ends_inside_quantity
from tierline.audio.records import Frame
from tierline.audio.vad import EndpointerConfig, split_utterances

RATE = 16000


def noise_burst(seconds: float, level: float = 0.2) -> np.ndarray:
    """Broadband noise loud enough for webrtcvad to call it voiced."""
    return np.random.default_rng(3).normal(0, level, int(seconds * RATE)).astype(np.float32)


@pytest.fixture(scope="module")
def turn() -> np.ndarray:
    return espeak("wo3 xiang3 wen4 yi2 xia4 jia4 ge2")


# ----------------------------------------------------------------- scripted detector


def run(signal: np.ndarray, script, **confirm) -> list:
    ep = TwoStageEndpointer(EndpointerConfig(), ConfirmConfig(**confirm), ScriptedDetector(script))
    return [u for f in to_frames(signal) for u in ep.push(f)] + ep.flush()


def test_fast_stage_alone_does_not_open_a_turn():
    signal = np.concatenate([silence(0.5), noise_burst(0.6), silence(1.0)])
    assert len(list(split_utterances(to_frames(signal)))) == 1  # webrtcvad is fooled
    assert run(signal, lambda i: 0.05) == []  # the confirming stage is not


def test_confirmed_candidate_becomes_a_turn_with_pre_roll():
    signal = np.concatenate([silence(1.0), noise_burst(1.0), silence(1.5)])
    (utt,) = run(signal, lambda i: 0.9 if 50 <= i < 100 else 0.0)
    assert utt.speech_start_s == pytest.approx(1.0, abs=0.07)
    assert utt.start_s == pytest.approx(utt.speech_start_s - 0.3, abs=0.021)
    assert utt.end_s == pytest.approx(2.0, abs=0.05)
    assert utt.detected_at_s == pytest.approx(utt.end_s + 0.6, abs=0.05)


def test_candidate_dropped_when_both_stages_fall_silent():
    # detector agrees only briefly (60 ms < confirm_ms): dropped
    signal = np.concatenate([silence(1.0), noise_burst(0.3), silence(1.0)])
    assert run(signal, lambda i: 0.9 if 50 <= i < 53 else 0.0) == []


def test_quantity_rule_keeps_the_turn_open_across_a_pause():
    parts = [silence(0.5), noise_burst(0.8), silence(1.0), noise_burst(0.8), silence(2.0)]
    signal = np.concatenate(parts)

    def script(i: int) -> float:
        return 0.9 if (25 <= i < 65 or 115 <= i < 155) else 0.0
    asked: list[float] = []

    def partial(text: str):
        def transcribe(audio: np.ndarray) -> str:
            asked.append(len(audio) / RATE)
            return text
        return transcribe

    for text, turns in (("我的手机号是一三八，", 1), ("你好，我想问一下。", 2)):
        asked.clear()
        ep = TwoStageEndpointer(EndpointerConfig(), ConfirmConfig(), ScriptedDetector(script),
                                partial=partial(text))
        out = [u for f in to_frames(signal) for u in ep.push(f)] + ep.flush()
        assert len(out) == turns, text
        assert asked and asked[0] == pytest.approx(0.8 + 0.3 + 0.1, abs=0.05)


def test_hint_partial_from_a_streaming_recogniser():
    signal = np.concatenate([silence(0.5), noise_burst(0.8), silence(1.0), noise_burst(0.8),
                             silence(2.0)])
    ep = TwoStageEndpointer(detector=ScriptedDetector(
        lambda i: 0.9 if (25 <= i < 65 or 115 <= i < 155) else 0.0))
    out = []
    for f in to_frames(signal):
        if ep.in_speech:
            ep.hint_partial("预算大概是一百")
        out += ep.push(f)
    assert len(out + ep.flush()) == 1


@pytest.mark.parametrize("text,inside", [
    ("我的手机号是一三八，", True), ("预算大概一百。", True), ("电话是", True),
    ("尾号是 4 5", True), ("大概三十来", True), ("我们有两百人。", False), ("多少钱？", False),
    ("你好", False), ("", False), (None, False),
    ("我们公司想统一", False), ("这是我们最关心的问题之一", False), ("第一", False),
    ("价格是唯一", False), ("千万", False), ("下周三", False), ("星期一", False),
    ("预算三万一", True), ("大概一千万", True), ("尾号一三八一一", True), ("第一百", True),
])
def test_ends_inside_quantity(text, inside):
    assert ends_inside_quantity(text) is inside


@pytest.mark.parametrize("kwargs", [
    {"threshold": 0.3, "neg_threshold": 0.5}, {"neg_threshold": 0.0}, {"confirm_ms": 0},
    {"reject_ms": 10}, {"candidate_max_ms": 0}, {"onset_lag_ms": -1},
    {"quantity_hangover_ms": 0},
])
def test_confirm_config_validation(kwargs):
    with pytest.raises(AudioError):
        ConfirmConfig(**kwargs)


def test_rejects_wrong_frames():
    with pytest.raises(AudioError, match="320 int16"):
        TwoStageEndpointer(detector=ScriptedDetector([])).push(
            Frame(np.zeros(160, dtype=np.int16), 0.0))


# ----------------------------------------------------------------- real Silero


def test_two_turns_with_a_cough_between(turn):
    rng = np.random.default_rng(11)
    level = float(np.sqrt(np.mean(turn[np.abs(turn) > 0.01] ** 2)))
    gap = silence(2.0)
    cough = synth_cough(rng, level)
    gap[int(0.6 * RATE) : int(0.6 * RATE) + len(cough)] += cough
    signal = np.concatenate([silence(0.5), turn, gap, turn, silence(1.5)])
    two_stage = list(split_two_stage(to_frames(signal)))
    assert len(two_stage) == 2
    second_start = (0.5 * RATE + len(turn) + len(gap)) / RATE
    assert two_stage[1].speech_start_s == pytest.approx(second_start, abs=0.4)
    for utt in two_stage:
        assert utt.start_s <= utt.speech_start_s < utt.end_s < utt.detected_at_s


def test_pure_noise_and_silence_give_nothing():
    noise = np.random.default_rng(0).normal(0, 0.05, 4 * RATE).astype(np.float32)
    assert list(split_two_stage(to_frames(noise))) == []
    assert list(split_two_stage(to_frames(silence(3.0)))) == []
