"""Caller emotion for one turn.

First version: derived from the words only (NLU sentiment and anger), because no prosody
model exists yet; ``source`` says so. The voice front-end issue fuses prosody into the same
function signature. Inputs are plain numbers so this module needs nothing from the NLU layer.
"""

from __future__ import annotations

from tierline.audio.records import Emotion

ANGER_THRESHOLD = 0.6
HESITATION_THRESHOLD = 0.5
POSITIVE_THRESHOLD = 0.5


def emotion_from_words(sentiment: float, anger: float, hesitation: float) -> Emotion:
    """Label a turn from word evidence.

    Args:
        sentiment: Word sentiment in [-1, 1].
        anger: Strength of strong negative affect in the words, [0, 1].
        hesitation: Probability of the hesitation intent, [0, 1].

    Returns:
        angry when anger clears the threshold; hesitant; positive; else neutral with low
        confidence. Arousal is a word-based proxy until prosody is available.
    """
    if anger >= ANGER_THRESHOLD:
        return Emotion("angry", round(min(1.0, 0.5 + anger / 2), 3), round(anger, 3), "words")
    if hesitation >= HESITATION_THRESHOLD:
        return Emotion("hesitant", 0.3, round(hesitation, 3), "words")
    if sentiment >= POSITIVE_THRESHOLD:
        return Emotion("positive", 0.5, round(sentiment, 3), "words")
    arousal = round(min(1.0, max(0.0, -sentiment) * 0.5), 3)
    return Emotion("neutral", arousal, 0.3, "words")
