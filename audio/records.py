"""Typed records passed between the audio stages and the rest of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PIPELINE_RATE = 16_000
"""Every stage after decoding works on 16 kHz mono audio."""

FRAME_MS = 20
"""Frame length fed to the endpointer."""


@dataclass(frozen=True)
class Frame:
    """One 20 ms frame of 16 kHz mono audio.

    Attributes:
        pcm: int16 samples, length ``PIPELINE_RATE * FRAME_MS / 1000`` (320).
        start_s: Position of the first sample in the call timeline, seconds.
    """

    pcm: np.ndarray
    start_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.pcm) / PIPELINE_RATE


@dataclass(frozen=True)
class Utterance:
    """A stretch of caller speech closed by the endpointer.

    Attributes:
        start_s: Start of speech in the call timeline (pre-roll included), seconds.
        end_s: End of speech (hangover excluded), seconds.
        audio: float32 mono samples in [-1, 1] at ``sample_rate``.
        detected_at_s: Call-timeline moment the endpointer closed the turn
            (``end_s`` + hangover); the earliest time a decision could start.
        sample_rate: Always ``PIPELINE_RATE`` today.
    """

    start_s: float
    end_s: float
    audio: np.ndarray = field(repr=False)
    detected_at_s: float
    sample_rate: int = PIPELINE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class Emotion:
    """Caller affect for one turn.

    Attributes:
        label: One of neutral, angry, hesitant, positive.
        arousal: Activation in [0, 1].
        confidence: How much the label can be trusted, in [0, 1].
        source: What the label was derived from (e.g. "words", "voice+words").
    """

    label: str
    arousal: float
    confidence: float = 0.0
    source: str = "none"


EMOTIONS = ("neutral", "angry", "hesitant", "positive")
