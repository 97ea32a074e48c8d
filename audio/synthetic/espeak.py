"""Synthetic Mandarin turns from espeak-ng, through the telephone channel (for evaluation).

espeak-ng's ``cmn-latn-pinyin`` voice reads numbered pinyin (pypinyin TONE3); speed (-s),
amplitude (-a) and pitch (-p) let one sentence be rendered calm or agitated. Used by
``tierline arousal-eval --pairs`` and by the voice tests; never at call time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tierline.audio.errors import AudioError
from tierline.audio.io import load_audio, telephone_round_trip


def available() -> bool:
    """Whether espeak-ng is installed."""
    return shutil.which("espeak-ng") is not None


def render(text: str, speed: int = 140, amplitude: int = 80, pitch: int = 50) -> np.ndarray:
    """Speak Mandarin text; return float32 16 kHz audio after an 8 kHz μ-law round trip.

    Raises:
        AudioError: espeak-ng is not installed.
    """
    if not available():
        raise AudioError("espeak-ng is not installed (apt-get install espeak-ng)")
    from pypinyin import Style, lazy_pinyin

    pinyin = " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(speed), "-g", "2",
                        "-a", str(amplitude), "-p", str(pitch), "-w", str(wav), pinyin],
                       check=True, capture_output=True)
        audio = load_audio(wav)
    return telephone_round_trip(np.clip(audio * 0.7, -1, 1).astype(np.float32))
