"""Typed records produced by the ASR stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Hypothesis(NamedTuple):
    """One reading of an utterance from the decoder's final beam; a (text, log-probability)
    pair, the form :meth:`tierline.nlu.pipeline.Nlu.analyze` takes.

    Attributes:
        text: The reading, cleaned like :attr:`Transcript.text`.
        logprob: Summed token log-probability of the reading (higher is likelier).
    """

    text: str
    logprob: float


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard in one utterance.

    Attributes:
        text: Simplified-Chinese text, guards applied (prompt echo and loops removed).
        language: Language code the decoder used (e.g. "zh").
        dialect: Dialect label when a dialect identifier ran, else None.
        start_s: Start of the recognised speech, seconds, relative to the utterance.
        end_s: End of the recognised speech, seconds, relative to the utterance.
        confidence: exp(mean token log-probability), in [0, 1]; 0 for empty text.
        no_speech_prob: Whisper's probability that the window holds no speech.
        compute_ms: Wall time the recogniser spent producing this transcript (a cached
            transcript keeps the time of the decode that produced it).
        alternatives: The final beam's readings, best first (the first is :attr:`text`),
            then a second decoder's readings of the same audio when the recogniser has one;
            empty when the recogniser gives one reading only.
        language_prob: Whisper's probability of :attr:`language` on this turn, in [0, 1];
            None when the language was set, not detected.
        languages: The likeliest languages Whisper heard, (code, probability), best first;
            empty when it did not listen for the language.
        dialect_confidence: The dialect identifier's confidence in :attr:`dialect`.
        window_s: Seconds of audio the encoder window held (dynamic: the turn plus a margin;
            fixed: 30); the first window's when a long turn needed several.
        queue_ms: Part of :attr:`compute_ms` spent waiting for a free decoder.
    """

    text: str
    language: str
    dialect: str | None
    start_s: float
    end_s: float
    confidence: float
    no_speech_prob: float = 0.0
    compute_ms: float = 0.0
    alternatives: tuple[Hypothesis, ...] = ()
    language_prob: float | None = None
    languages: tuple[tuple[str, float], ...] = ()
    dialect_confidence: float | None = None
    window_s: float = 0.0
    queue_ms: float = 0.0


@dataclass(frozen=True, eq=False)
class EncoderStates:
    """Whisper's encoder output for one turn, computed once and shared: the transcript's
    decoders read it, and a dialect identifier can classify it without a second encode.

    Attributes:
        frames: (n, width) float32, one row per 20 ms of the turn's first window, the padding
            after the audio left out.
        window: ``"dynamic"`` or ``"fixed"``: states of a short window differ from those of
            the 30 s one, so a classifier must be trained on the kind it is given.
    """

    frames: np.ndarray
    window: str

    def pooled(self) -> np.ndarray:
        """Mean over the frames: one (width,) vector per turn."""
        if not len(self.frames):
            return np.zeros(self.frames.shape[-1], dtype=np.float32)
        return self.frames.mean(axis=0)


@dataclass(frozen=True, eq=False)
class Recognition:
    """A transcript and the encoder states it was read from (None when nothing was encoded)."""

    transcript: Transcript
    states: EncoderStates | None = None
