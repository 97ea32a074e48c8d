"""Audio fixtures shared by the voice front-end tests (espeak-ng speech, coughs, framing)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tierline.audio.io import load_audio, telephone_round_trip
from tierline.audio.records import PIPELINE_RATE, Frame

RATE = PIPELINE_RATE
CALM = {"speed": 140, "amplitude": 80, "pitch": 50}
AGITATED = {"speed": 200, "amplitude": 200, "pitch": 85}


def espeak(text: str, speed: int = 140, amplitude: int = 80, pitch: int = 50) -> np.ndarray:
    """Mandarin from espeak-ng's pinyin voice, through the telephone channel, float32 16 kHz."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    from pypinyin import Style, lazy_pinyin

    pinyin = " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(speed), "-g", "2",
                        "-a", str(amplitude), "-p", str(pitch), "-w", str(wav), pinyin],
                       check=True, capture_output=True)
        audio = load_audio(wav)
    return telephone_round_trip(np.clip(audio * 0.7, -1, 1).astype(np.float32))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def to_frames(signal: np.ndarray, start_s: float = 0.0) -> list[Frame]:
    """Cut float32 16 kHz audio into zero-padded 20 ms int16 frames."""
    pcm = np.clip(np.round(signal * 32768), -32768, 32767).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % 320, dtype=np.int16)])
    return [Frame(pcm[i : i + 320], start_s + i / RATE) for i in range(0, len(pcm), 320)]
