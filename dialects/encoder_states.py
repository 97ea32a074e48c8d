"""Whisper encoder states of an utterance, and the pooled vector a dialect classifier reads.

The recogniser encodes every turn anyway; a dialect identifier should read that encoder
output rather than encode again. This module is the stand-alone path for audio that has not
been through the recogniser (training, evaluation, tests): CTranslate2's Whisper encoder on
faster-whisper's log-mel features, with the same two windows a recogniser uses:

- ``dynamic``: the utterance plus ``margin_s`` of digital silence (cost follows the turn);
- ``fixed``: Whisper's 30 s window, zero-padded as faster-whisper pads it.

Either way only the frames that hold audio (one per 20 ms) are kept, so pooling never
averages the padding in. The states of the two windows differ a little (the encoder attends
over the padding too); ``tierline train dialect-id`` measures how much that matters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
MEL_FRAMES_PER_S = 100
STATE_FRAMES_PER_S = 50
"""Encoder output rows per second (the encoder's stride-2 convolution halves the mel rate)."""
MAX_MEL_FRAMES = 3000
WINDOWS = ("dynamic", "fixed")


def audio_frames(samples: int) -> int:
    """Encoder rows that hold audio for an utterance of ``samples`` 16 kHz samples."""
    return min(MAX_MEL_FRAMES // 2, math.ceil(samples / SAMPLE_RATE * STATE_FRAMES_PER_S))


def pool(frames: np.ndarray) -> np.ndarray:
    """Mean over time of (n, width) encoder states: the (width,) vector the dialect classifier
    reads (statistics pooling, mean and standard deviation, measured no better).

    Raises:
        ValueError: ``frames`` is not a non-empty 2-D array.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or not len(frames):
        raise ValueError(f"encoder states must be (frames, width) with frames > 0, "
                         f"not {frames.shape}")
    return frames.mean(axis=0, dtype=np.float64).astype(np.float32)


class WhisperEncoder:
    """The encoder of a CTranslate2 Whisper model, for utterances up to 30 s.

    Args:
        model_dir: CTranslate2 Whisper directory (the bundled base: every dialect model shares
            its encoder, so one identifier serves them all).
        window: ``"dynamic"`` or ``"fixed"`` (module docstring).
        margin_s: Silence after the audio in a dynamic window.
        threads: CTranslate2 intra-op threads.
        compute_type: CTranslate2 compute type (int8 as the recogniser runs).
    """

    def __init__(self, model_dir: str | Path, window: str = "dynamic", margin_s: float = 2.0,
                 threads: int = 2, compute_type: str = "int8") -> None:
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        if window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, not {window!r}")
        self._ct2 = ctranslate2
        self.window = window
        self.margin_s = margin_s
        self.model = ctranslate2.models.Whisper(str(model_dir), device="cpu",
                                                compute_type=compute_type,
                                                intra_threads=threads)
        self.features = FeatureExtractor(feature_size=self.model.n_mels)

    def states(self, audio: np.ndarray) -> np.ndarray:
        """(n, width) float32 encoder rows of the audio part of one utterance (first 30 s).

        Raises:
            ValueError: the audio is empty.
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)[: 30 * SAMPLE_RATE]
        if not audio.size:
            raise ValueError("no audio to encode")
        content = math.ceil(audio.size / SAMPLE_RATE * MEL_FRAMES_PER_S)
        if self.window == "dynamic":
            pad = np.zeros(int(round(self.margin_s * SAMPLE_RATE)), dtype=np.float32)
            mel = self.features(np.concatenate([audio, pad]))
            frames = min(MAX_MEL_FRAMES, content + len(pad) // 160)
            frames += frames % 2
        else:
            mel = self.features(audio)
            frames = MAX_MEL_FRAMES
        mel = mel[:, : mel.shape[1] - 1]  # the last frame only covers the padding
        window = np.zeros((mel.shape[0], min(frames, MAX_MEL_FRAMES)), dtype=np.float32)
        n = min(window.shape[1], mel.shape[1])
        window[:, :n] = mel[:, :n]
        encoded = self.model.encode(self._ct2.StorageView.from_array(window[None]))
        return np.array(encoded, dtype=np.float32)[0][: audio_frames(audio.size)]
