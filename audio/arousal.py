"""Vocal arousal and hesitancy, normalised against the same caller's earlier turns.

Every prosodic feature is turned into a deviation ``z`` from a baseline: on a caller's first
turn the baseline is a population prior (mean and between-speaker spread); with every further
turn it moves toward the caller's own mean and within-speaker spread, the prior counting as
``PRIOR_TURNS`` turns. A caller who speeds up and raises pitch relative to their own earlier
turns is escalating, whatever their absolute voice.

Pitch level is the exception: between speakers it mostly tells sex and age, not arousal, so
it is only scored against the caller's own earlier turns (from turn 2 on), never against the
population.

Arousal is a logistic function of a weighted sum of deviations (higher pitch, wider pitch
range, louder, more high-frequency effort, faster, fewer pauses); the weights are set from the
speech-emotion literature (Scherer 2003; Juslin & Laukka 2003), not fitted, so the evaluation
data stays unseen. Priors: pitch from the usual adult mixed-gender range, the other features
from 60 AISHELL clips passed through the telephone channel (see docs/voice.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tierline.audio.prosody import extract_prosody
from tierline.audio.records import PIPELINE_RATE, Prosody, VoiceAffect

PRIOR_TURNS = 1.5
"""Weight of the population prior in a caller's baseline, in turns."""
AROUSAL_BIAS = -0.6
"""Logit of a turn exactly at baseline: sigmoid(-0.6) ≈ 0.35."""
HESITANCY_BIAS = -1.2
ACOUSTIC_TO_CHARS = 0.86
"""Acoustic syllable rate ≈ 0.86 × transcript characters/s (measured on AISHELL, r = 0.65)."""
Z_CLIP = 3.0
SPEAKER_RELATIVE = frozenset({"pitch"})
"""Features scored only against the caller's own history (no population prior)."""


@dataclass(frozen=True)
class FeaturePrior:
    """Population prior of one feature.

    Attributes:
        mean: Population mean.
        between: Spread between speakers (used while a caller has no history).
        within: Spread of one speaker from turn to turn.
    """

    mean: float
    between: float
    within: float


PRIORS: dict[str, FeaturePrior] = {
    "pitch": FeaturePrior(9.0, 4.5, 1.5),  # semitones re 100 Hz (≈168 Hz)
    "pitch_range": FeaturePrior(5.5, 2.0, 1.5),  # semitones
    "level": FeaturePrior(-24.0, 6.0, 2.5),  # dBFS of active speech
    "effort": FeaturePrior(-10.0, 4.0, 3.0),  # dB, 1–3.4 kHz over 0–1 kHz
    "rate": FeaturePrior(3.8, 0.9, 0.6),  # characters (syllables) per second
    "pauses": FeaturePrior(0.15, 0.10, 0.08),  # pause share of the speech span
}
AROUSAL_WEIGHTS = {"pitch": 0.6, "pitch_range": 0.3, "level": 0.7, "effort": 0.4,
                   "rate": 0.5, "pauses": -0.3}
HESITANCY_WEIGHTS = {"rate": -0.9, "pauses": 0.9, "level": -0.4, "pitch_range": -0.3}
_WORDS = {
    "pitch": ("higher pitch", "lower pitch"),
    "pitch_range": ("livelier intonation", "flatter intonation"),
    "level": ("louder", "quieter"),
    "effort": ("more vocal effort", "softer voice"),
    "rate": ("faster", "slower"),
    "pauses": ("more pauses", "fewer pauses"),
}


def features(p: Prosody) -> dict[str, float]:
    """The normalisable features of a measurement (missing ones are left out)."""
    out: dict[str, float] = {}
    if p.f0_median_hz:
        out["pitch"] = 12 * math.log2(p.f0_median_hz / 100.0)
    if p.f0_range_st is not None:
        out["pitch_range"] = p.f0_range_st
    if p.level_db is not None and p.clipped < 0.02:
        out["level"] = p.level_db
    if p.hf_ratio_db is not None and p.clipped < 0.02:
        out["effort"] = p.hf_ratio_db
    if p.rate_cps is not None and p.rate_cps > 0:
        out["rate"] = p.rate_cps
    elif p.syllable_rate:
        out["rate"] = p.syllable_rate / ACOUSTIC_TO_CHARS
    if p.pause_ratio is not None:
        out["pauses"] = p.pause_ratio
    return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _describe(z: dict[str, float], weights: dict[str, float], relative: bool) -> tuple[str, ...]:
    ranked = sorted(z, key=lambda k: -abs(z[k] * weights.get(k, 0.0)))
    where = "than this caller's earlier turns" if relative else "than typical callers"
    out = []
    for name in ranked[:3]:
        if abs(z[name]) < 1.0 or not weights.get(name):
            continue
        word = _WORDS[name][0 if z[name] > 0 else 1]
        out.append(f"{word} {where} ({z[name]:+.1f} sd)")
    return tuple(out)


class CallerVoice:
    """Per-call tracker: measures each turn's prosody and scores it against the caller's past.

    Use one instance per call (it remembers the caller's earlier turns).

    Args:
        priors: Population priors per feature.
        prior_turns: Weight of the prior in the baseline, in turns.
    """

    def __init__(self, priors: dict[str, FeaturePrior] | None = None,
                 prior_turns: float = PRIOR_TURNS) -> None:
        self.priors = priors or PRIORS
        self.prior_turns = prior_turns
        self._history: list[dict[str, float]] = []
        self._arousals: list[float] = []

    @property
    def turns(self) -> int:
        """Speech-like turns observed so far."""
        return len(self._history)

    def baseline(self, name: str) -> tuple[float, float]:
        """(mean, spread) of a feature for the next turn (see ``SPEAKER_RELATIVE``)."""
        prior = self.priors[name]
        values = [h[name] for h in self._history if name in h]
        n, n0 = len(values), self.prior_turns
        if name in SPEAKER_RELATIVE:
            return (float(np.mean(values)) if n else prior.mean), prior.within
        mean = (n0 * prior.mean + sum(values)) / (n0 + n)
        spread = math.sqrt((n0 * prior.between**2 + n * prior.within**2) / (n0 + n))
        return mean, spread

    def observe(self, audio: np.ndarray, sample_rate: int = PIPELINE_RATE,
                text: str | None = None) -> VoiceAffect:
        """Measure one turn and score it; the turn then joins the caller's baseline.

        Never raises on bad audio: the result then has confidence 0.
        """
        try:
            prosody = extract_prosody(audio, sample_rate, text)
        except (ValueError, RuntimeError, FloatingPointError):
            prosody = Prosody(duration_s=0.0)
        return self.observe_prosody(prosody)

    def observe_prosody(self, prosody: Prosody) -> VoiceAffect:
        """Score measured prosody (see :meth:`observe`)."""
        feats = features(prosody)
        if not prosody.speech_like or not feats:
            return VoiceAffect(0.35, 0.0, 0.0, self.turns, 0.0, {}, ("no usable speech",),
                               prosody)
        z = {}
        for name, value in feats.items():
            if name in SPEAKER_RELATIVE and not any(name in h for h in self._history):
                continue
            mean, spread = self.baseline(name)
            z[name] = max(-Z_CLIP, min(Z_CLIP, (value - mean) / spread))
        arousal = _sigmoid(AROUSAL_BIAS + sum(AROUSAL_WEIGHTS[k] * v for k, v in z.items()))
        hesitancy = _sigmoid(
            HESITANCY_BIAS + sum(HESITANCY_WEIGHTS.get(k, 0.0) * v for k, v in z.items()))
        covered = sum(abs(AROUSAL_WEIGHTS[k]) for k in z) / sum(map(abs, AROUSAL_WEIGHTS.values()))
        amount = min(1.0, prosody.voiced_s / 1.0)
        history = 0.5 + 0.4 * self.turns / (self.turns + 1.0)
        confidence = round(amount * history * covered, 3)
        escalation = arousal - float(np.mean(self._arousals)) if self._arousals else 0.0
        reasons = _describe(z, AROUSAL_WEIGHTS, relative=self.turns > 0)
        affect = VoiceAffect(
            arousal=round(arousal, 3), hesitancy=round(hesitancy, 3), confidence=confidence,
            turn=self.turns, escalation=round(escalation, 3),
            z={k: round(v, 2) for k, v in z.items()}, reasons=reasons, prosody=prosody,
        )
        self._history.append(feats)
        self._arousals.append(arousal)
        return affect
