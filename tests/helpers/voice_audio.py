"""Audio fixtures shared by the voice front-end tests (espeak-ng speech, coughs, framing)."""

from __future__ import annotations

import numpy as np

from helpers.require import missing
from tierline.audio.records import PIPELINE_RATE, Frame
from tierline.audio.synthetic import espeak as synth

RATE = PIPELINE_RATE
CALM = {"speed": 140, "amplitude": 80, "pitch": 50}
AGITATED = {"speed": 200, "amplitude": 200, "pitch": 85}


def espeak(text: str, speed: int = 140, amplitude: int = 80, pitch: int = 50) -> np.ndarray:
    """Mandarin from espeak-ng's pinyin voice, through the telephone channel, float32 16 kHz."""
    if not synth.available():
        missing("espeak-ng is not installed: apt-get install espeak-ng (make test does)")
    return synth.render(text, speed, amplitude, pitch)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def to_frames(signal: np.ndarray, start_s: float = 0.0) -> list[Frame]:
    """Cut float32 16 kHz audio into zero-padded 20 ms int16 frames."""
    pcm = np.clip(np.round(signal * 32768), -32768, 32767).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % 320, dtype=np.int16)])
    return [Frame(pcm[i : i + 320], start_s + i / RATE) for i in range(0, len(pcm), 320)]


def write_tone_wav(path, seconds: float, seed: int = 0) -> str:
    """A 180 Hz tone with faint noise as a 16 kHz WAV (a stand-in recording for folder and
    training-input checks); returns the file's name."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    audio = 0.2 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size)
    sf.write(path, audio.astype(np.float32), 16_000)
    return path.name
