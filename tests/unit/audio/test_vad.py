"""Tests for tierline.audio.vad: streaming endpointing on synthetic and espeak-ng speech."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.require import missing

from tierline.audio.errors import AudioError
from tierline.audio.io import iter_frames, load_audio
from tierline.audio.records import PIPELINE_RATE, Frame
from tierline.audio.vad import Endpointer, EndpointerConfig, split_utterances

RATE = PIPELINE_RATE
SPEECH_THRESHOLD = 0.02  # |sample| above this counts as speech when measuring truth


def to_frames(signal: np.ndarray) -> list[Frame]:
    """Cut float32 16 kHz audio into zero-padded 20 ms int16 frames."""
    pcm = np.clip(np.round(signal * 32768), -32768, 32767).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % 320, dtype=np.int16)])
    return [Frame(pcm[i : i + 320], i / RATE) for i in range(0, len(pcm), 320)]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def speech_span(x: np.ndarray) -> tuple[float, float]:
    """First and last loud sample of a clip, seconds."""
    loud = np.nonzero(np.abs(x) > SPEECH_THRESHOLD)[0]
    return loud[0] / RATE, (loud[-1] + 1) / RATE


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """About 2 s of Mandarin from espeak-ng, float32 16 kHz."""
    if not shutil.which("espeak-ng"):
        missing("espeak-ng is not installed: apt-get install espeak-ng (make test does)")
    path = tmp_path_factory.mktemp("espeak") / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(path),
         "ni3 hao3 wo3 xiang3 wen4 yi2 xia4"],
        check=True, capture_output=True,
    )
    return load_audio(path)


@pytest.fixture(scope="module")
def two_turns(speech: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """0.5 s silence + speech + 1.5 s silence + speech + 1.5 s silence, with true spans."""
    lead, gap = silence(0.5), silence(1.5)
    signal = np.concatenate([lead, speech, gap, speech, gap])
    on, off = speech_span(speech)
    second = (len(lead) + len(speech) + len(gap)) / RATE
    truth = [(0.5 + on, 0.5 + off), (second + on, second + off)]
    return signal, truth


def test_two_turns_found_with_accurate_boundaries(two_turns):
    signal, truth = two_turns
    config = EndpointerConfig()
    utterances = list(split_utterances(to_frames(signal), config))
    assert len(utterances) == 2
    pre_roll, hangover = config.pre_roll_ms / 1000, config.hangover_ms / 1000
    for utt, (start, end) in zip(utterances, truth, strict=True):
        assert abs(utt.start_s + pre_roll - start) < 0.3
        assert utt.start_s <= start  # the pre-roll covers the onset
        assert utt.speech_start_s == pytest.approx(utt.start_s + pre_roll, abs=0.021)
        assert abs(utt.end_s - end) < 0.3
        assert utt.detected_at_s == pytest.approx(utt.end_s + hangover, abs=0.021)
        assert utt.audio.dtype == np.float32 and utt.sample_rate == RATE
        # pre-roll + speech + at most ~100 ms of trailing silence
        assert utt.end_s - utt.start_s <= utt.duration_s <= utt.end_s - utt.start_s + 0.101


def test_stream_from_file_matches(tmp_path: Path, two_turns):
    signal, truth = two_turns
    path = tmp_path / "call.wav"
    sf.write(path, signal, RATE, subtype="PCM_16")
    utterances = list(split_utterances(iter_frames(path)))
    assert [round(u.end_s) for u in utterances] == [round(end) for _, end in truth]


def test_pre_roll_is_clamped_at_call_start(speech: np.ndarray):
    utterances = list(split_utterances(to_frames(np.concatenate([speech, silence(1.0)]))))
    assert len(utterances) == 1
    assert utterances[0].start_s == 0.0


def test_pure_silence_gives_nothing():
    assert list(split_utterances(to_frames(silence(5.0)))) == []


def test_low_white_noise_gives_nothing_at_aggressiveness_3():
    noise = np.random.default_rng(0).normal(0, 0.01, 5 * RATE).astype(np.float32)
    config = EndpointerConfig(aggressiveness=3)
    assert list(split_utterances(to_frames(noise), config)) == []


def test_click_is_dropped_by_min_speech(speech: np.ndarray):
    start = int(np.argmax(np.abs(speech) > SPEECH_THRESHOLD)) + RATE // 4
    click = speech[start : start + RATE // 10]  # 100 ms of voiced sound
    signal = np.concatenate([silence(1.0), click, silence(1.0)])
    lenient = EndpointerConfig(min_speech_ms=0)
    assert len(list(split_utterances(to_frames(signal), lenient))) == 1  # it is voiced
    assert list(split_utterances(to_frames(signal))) == []


def test_long_turn_is_force_split(speech: np.ndarray):
    signal = np.concatenate([np.tile(speech, 4), silence(1.0)])
    config = EndpointerConfig(max_utterance_s=3.0)
    utterances = list(split_utterances(to_frames(signal), config))
    assert len(utterances) >= 3
    assert all(u.end_s - u.start_s <= 3.0 + 1e-6 for u in utterances)
    assert all(a.detected_at_s <= b.start_s + 1e-6 for a, b in pairwise(utterances))


def test_flush_closes_open_turn(speech: np.ndarray):
    frames = to_frames(np.concatenate([silence(0.5), speech]))
    endpointer = Endpointer(EndpointerConfig())
    assert all(endpointer.push(frame) == [] for frame in frames)
    assert endpointer.in_speech
    (utterance,) = endpointer.flush()
    assert utterance.detected_at_s == pytest.approx(frames[-1].end_s)
    assert not endpointer.in_speech
    assert endpointer.flush() == []


def test_reset_forgets_open_turn(speech: np.ndarray):
    endpointer = Endpointer()
    for frame in to_frames(speech):
        endpointer.push(frame)
    assert endpointer.in_speech
    endpointer.reset()
    assert not endpointer.in_speech
    assert endpointer.flush() == []


def test_rejects_wrong_frame_shape():
    with pytest.raises(AudioError, match="320 int16"):
        Endpointer().push(Frame(np.zeros(160, dtype=np.int16), 0.0))


@pytest.mark.parametrize(
    "kwargs",
    [{"aggressiveness": 4}, {"aggressiveness": -1}, {"pre_roll_ms": -20}, {"hangover_ms": 0},
     {"min_speech_ms": -1}, {"start_frames": 0}, {"max_utterance_s": 0}],
)
def test_config_validation(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        EndpointerConfig(**kwargs)
