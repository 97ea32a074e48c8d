"""Silero VAD v6 from faster-whisper's assets, streamed with onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.voice_audio import espeak, silence, to_frames

from tierline.audio.errors import AudioError
from tierline.audio.records import Frame
from tierline.audio.silero import SileroVAD, model_path, speech_probabilities


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return np.concatenate([silence(0.5), espeak("ni hao, wo xiang wen yi xia jia ge"),
                           silence(0.8)])


def test_model_ships_inside_faster_whisper():
    path = model_path()
    assert path.name == "silero_vad_v6.onnx" and "faster_whisper" in str(path)


def test_streaming_matches_faster_whisper_reference(speech):
    from faster_whisper.vad import get_vad_model

    ours = speech_probabilities(speech)
    padded = np.pad(speech, (0, -len(speech) % 512))
    reference = get_vad_model()(padded).reshape(-1)
    assert len(ours) == len(reference)
    # faster-whisper runs all windows as one batch; the streamed state differs by rounding
    assert np.max(np.abs(ours - reference)) < 0.02


def test_speech_high_silence_and_noise_low(speech):
    probs = speech_probabilities(speech)
    assert probs.max() > 0.9
    assert probs[: int(0.4 * 16000 / 512)].max() < 0.2  # leading silence
    noise = np.random.default_rng(0).normal(0, 0.05, 32000).astype(np.float32)
    assert np.median(speech_probabilities(noise)) < 0.2


def test_frame_interface_and_reset_repeat_exactly(speech):
    vad = SileroVAD()
    first = [vad.probability(f) for f in to_frames(speech)]
    vad.reset()
    second = [vad.probability(f) for f in to_frames(speech)]
    assert first == second
    assert all(0.0 <= p <= 1.0 for p in first)


def test_rejects_wrong_frames():
    with pytest.raises(AudioError, match="320 int16"):
        SileroVAD().probability(Frame(np.zeros(320, dtype=np.float32), 0.0))
