"""Telephone-band copies of training audio: G.711 codecs, line noise, speed.

Calls reach the recogniser as 8 kHz G.711 (μ-law in North America and Japan, A-law in China
and Europe), so dialect models are trained and measured on audio that went through that
round trip. Every copy is seeded, so a training run sees the same audio each time.

Recipes (:data:`RECIPES`):

- ``clean``: the audio as recorded (16 kHz).
- ``ulaw`` / ``alaw``: 16 kHz → 8 kHz → G.711 encode/decode → 16 kHz (``ulaw`` is
  :func:`tierline.audio.io.telephone_round_trip`, what the evaluations call "phone").
- ``noise``: line noise at 15–30 dB SNR, then A-law.
- ``speed``: tempo ×0.9 or ×1.1 (pitch moves with it, as in Kaldi's speed perturbation),
  then μ-law.
"""

from __future__ import annotations

import numpy as np

from tierline.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from tierline.audio.io import resample, telephone_round_trip

RATE = 16_000
NARROW = 8_000
RECIPES = ("clean", "ulaw", "alaw", "noise", "speed")
_CODECS = {"ulaw": (ulaw_encode, ulaw_decode), "alaw": (alaw_encode, alaw_decode)}


def telephone(audio: np.ndarray, codec: str = "ulaw") -> np.ndarray:
    """The 8 kHz G.711 round trip of 16 kHz float audio (same length back).

    Args:
        audio: float32 samples in [-1, 1] at 16 kHz.
        codec: ``"ulaw"`` or ``"alaw"``.
    """
    if codec == "ulaw":
        return telephone_round_trip(np.asarray(audio, dtype=np.float32))
    encode, decode = _CODECS[codec]
    narrow = resample(np.asarray(audio, dtype=np.float32), RATE, NARROW)
    pcm = np.clip(np.round(narrow * 32767.0), -32768, 32767).astype(np.int16)
    coded = decode(encode(pcm)).astype(np.float32) / 32768.0
    wide = resample(coded, NARROW, RATE)
    out = np.zeros(len(audio), dtype=np.float32)
    n = min(len(out), len(wide))
    out[:n] = wide[:n]
    return out


def augment(audio: np.ndarray, recipe: str, seed: int) -> np.ndarray:
    """One copy of ``audio`` made by ``recipe`` (module docstring), seeded.

    Raises:
        ValueError: an unknown recipe.
    """
    audio = np.asarray(audio, dtype=np.float32)
    rng = np.random.default_rng(seed)
    if recipe == "clean":
        return audio
    if recipe in _CODECS:
        return telephone(audio, recipe)
    if recipe == "noise":
        power = float(np.mean(audio**2)) or 1e-8
        snr_db = rng.uniform(15.0, 30.0)
        noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), audio.shape)
        return telephone(np.clip(audio + noise, -1, 1).astype(np.float32), "alaw")
    if recipe == "speed":
        factor = 0.9 if rng.random() < 0.5 else 1.1
        # played back faster: the same samples read at factor × the rate
        stretched = resample(audio, int(round(RATE * factor)), RATE)
        return telephone(stretched, "ulaw")
    raise ValueError(f"unknown augmentation recipe {recipe!r} (known: {', '.join(RECIPES)})")
