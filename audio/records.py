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
        speech_start_s: Where the endpointer heard speech begin (``start_s`` plus the
            pre-roll when the pre-roll was complete); None when unknown.
    """

    start_s: float
    end_s: float
    audio: np.ndarray = field(repr=False)
    detected_at_s: float
    sample_rate: int = PIPELINE_RATE
    speech_start_s: float | None = None

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
        reasons: Short human-readable grounds for the label, strongest first.
    """

    label: str
    arousal: float
    confidence: float = 0.0
    source: str = "none"
    reasons: tuple[str, ...] = ()


EMOTIONS = ("neutral", "angry", "hesitant", "positive")


@dataclass(frozen=True)
class Prosody:
    """Voice measurements of one utterance (see :mod:`tierline.audio.prosody`).

    Values that need voiced speech are None when the utterance has too little of it.

    Attributes:
        duration_s: Length of the analysed audio, seconds.
        speech_s: From the first to the last active (loud enough) frame, seconds.
        voiced_s: Seconds of voiced (periodic, in-range F0) frames.
        f0_median_hz: Median F0 of voiced frames.
        f0_range_st: F0 spread, 90th minus 10th percentile, semitones.
        f0_slope_st_s: Least-squares F0 slope over voiced frames, semitones per second.
        level_db: Level of active frames, dB re full scale.
        level_range_db: Spread of active-frame levels, 90th minus 10th percentile, dB.
        hf_ratio_db: Spectral balance of active frames: energy 1–3.4 kHz over 0–1 kHz, dB
            (vocal effort raises it).
        rate_cps: Characters per second of ``speech_s`` from the transcript (Mandarin: one
            character is one syllable); None without a transcript.
        syllable_rate: Acoustic estimate of syllables per second (energy peaks).
        pause_ratio: Share of ``speech_s`` spent in pauses.
        jitter: Frame-level F0 perturbation (mean relative change of the period between
            consecutive voiced frames); an approximation of cycle jitter.
        shimmer: Frame-level amplitude perturbation (mean relative change of the level
            between consecutive voiced frames); an approximation of cycle shimmer.
        clipped: Share of samples at full scale.
        speech_like: False when the audio cannot be speech (too short, no voicing, or a
            steady tone); nothing about affect should be read from it then.
    """

    duration_s: float
    speech_s: float = 0.0
    voiced_s: float = 0.0
    f0_median_hz: float | None = None
    f0_range_st: float | None = None
    f0_slope_st_s: float | None = None
    level_db: float | None = None
    level_range_db: float | None = None
    hf_ratio_db: float | None = None
    rate_cps: float | None = None
    syllable_rate: float | None = None
    pause_ratio: float | None = None
    jitter: float | None = None
    shimmer: float | None = None
    clipped: float = 0.0
    speech_like: bool = False

    def to_dict(self) -> dict[str, float | bool | None]:
        """JSON-ready values, rounded."""
        out: dict[str, float | bool | None] = {}
        for name, value in self.__dict__.items():
            out[name] = round(value, 4) if isinstance(value, float) else value
        return out


@dataclass(frozen=True)
class VoiceAffect:
    """What the voice alone says about one turn, relative to the same caller's earlier turns.

    Attributes:
        arousal: Vocal activation in [0, 1] (0.35 ≈ this caller's or the population's usual).
        hesitancy: Slow, pause-filled, quiet delivery in [0, 1].
        confidence: How much the voice evidence can be trusted, [0, 1]; 0 when the audio
            was not speech-like.
        turn: How many earlier turns of this caller the baseline was built from (0: the
            population priors alone).
        escalation: Arousal minus the mean arousal of the caller's earlier turns (0 on turn 1).
        z: Feature deviations from the baseline, in baseline standard deviations.
        reasons: Short descriptions of the strongest deviations.
        prosody: The measurements behind it.
    """

    arousal: float
    hesitancy: float
    confidence: float
    turn: int = 0
    escalation: float = 0.0
    z: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    prosody: Prosody | None = field(default=None, repr=False)
