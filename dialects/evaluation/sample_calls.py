"""Sample phone calls built from real dialect clips the identifier never trained on.

A Cantonese call and a Mandarin call, each a few real clips of the shared data in a row with
pauses between them, sent through the 8 kHz μ-law line and written as an 8 kHz WAV: what a
caller sounds like to the bot. Their speakers are :data:`SAMPLE_SPEAKERS`, which
``tierline train dialect-id`` leaves out of its folds and its model, so a test that routes
these calls measures the identifier on voices it has not heard. The audio stays in the shared
folder (its licences forbid copying it into the repository); the calls are built on demand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_CALLS: dict[str, tuple[str, ...]] = {
    "yue": ("dialects_more/yue/cv_common_voice_yue_40960252.wav",
            "wenetspeech_yue/samples/gd0040831_1004210_1008520.wav",
            "cantonese_selfish_project/audio_cantonese.wav"),
    "mandarin": ("wenet/aishell-BAC009S0724W0121.wav",
                 "wenet/nst_ID001.wav",
                 "funasr/paraformer_example_1.wav"),
}
"""Family → clips (relative to the shared data folder), in call order."""

SAMPLE_SPEAKERS = frozenset({"common_voice_yue_40960252", "gd0040831",
                             "cantonese_selfish_project_audio_cantonese", "aishell_S0724",
                             "wenet_nst_ID001", "funasr_paraformer_example_1"})
"""Speaker groups (:mod:`tierline.dialects.training.dialect_corpus`) of the sample calls."""

PAUSE_S = 1.5
RATE = 8_000


def build_call(data_dir: Path, family: str, out: Path, seed: int = 0) -> Path:
    """Write ``family``'s sample call to ``out`` (8 kHz mono 16-bit WAV, μ-law line).

    Raises:
        KeyError: no sample call for ``family``.
        FileNotFoundError: a clip is missing from ``data_dir``.
    """
    from tierline.audio.io import load_audio, resample, telephone_round_trip

    rng = np.random.default_rng(seed)
    pause = np.zeros(int(PAUSE_S * 16_000), dtype=np.float32)
    parts = [pause]
    for rel in SAMPLE_CALLS[family]:
        path = Path(data_dir) / rel
        if not path.is_file():
            raise FileNotFoundError(path)
        parts += [load_audio(path), pause]
    call = np.concatenate(parts)
    call = call + rng.normal(0, 10 ** (-60 / 20), call.shape).astype(np.float32)  # line hiss
    narrow = resample(telephone_round_trip(np.clip(call, -1, 1)), 16_000, RATE)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, narrow, RATE, subtype="PCM_16")
    return out
