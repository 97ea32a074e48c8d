"""Typed records produced by the ASR stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


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
