"""FrameAssembler: any chunk size and sample rate (changing mid-stream) → 20 ms 16 kHz frames."""

from __future__ import annotations

import numpy as np
import pytest

from tierline.audio.errors import AudioError
from tierline.audio.g711 import ulaw_encode
from tierline.audio.stream import FrameAssembler


def tone(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


def dominant(frames) -> float:
    x = np.concatenate([f.pcm for f in frames]).astype(np.float64)
    spec = np.abs(np.fft.rfft(x))
    return float(np.argmax(spec) * 16000 / len(x))


def test_rate_changes_mid_stream_keep_timeline_and_pitch():
    fa = FrameAssembler()
    frames = []
    for rate in (8000, 48000, 16000, 8000, 44100):
        x = tone(rate, 1.0)
        for i in range(0, len(x), 997):  # odd chunk sizes
            frames += fa.push(x[i : i + 997], rate)
    frames += fa.flush()
    assert len(frames) == pytest.approx(250, abs=2)  # 5 s of 20 ms frames
    starts = [f.start_s for f in frames]
    assert np.allclose(np.diff(starts), 0.02)
    assert all(f.pcm.dtype == np.int16 and f.pcm.shape == (320,) for f in frames)
    assert dominant(frames[60:90]) == pytest.approx(440, abs=15)  # inside the 48 kHz second


def test_g711_bytes_and_float_chunks():
    fa = FrameAssembler(start_s=2.0)
    codes = ulaw_encode(tone(8000, 0.5)).tobytes()
    frames = fa.push(codes, 8000, encoding="pcmu") + fa.push(np.full(800, np.nan), 8000)
    frames += fa.flush()
    assert frames[0].start_s == 2.0 and len(frames) == pytest.approx(30, abs=1)
    assert dominant(frames[2:20]) == pytest.approx(440, abs=15)


@pytest.mark.parametrize("rate,encoding", [(1000, "pcm16"), (8000, "opus")])
def test_bad_rate_or_encoding(rate, encoding):
    with pytest.raises(AudioError):
        FrameAssembler().push(b"\x00\x00" * 160, rate, encoding)
