"""Caller emotion for one turn: the voice (arousal, hesitancy) fused with the words.

:func:`emotion_from_words` labels text-only turns from the NLU's sentiment, anger and
hesitation numbers. :func:`fuse_emotion` adds the voice (:class:`VoiceAffect` from
:mod:`tierline.audio.arousal`):

* angry — strong negative affect. Word anger (threats, insults, shouting words) is combined by
  noisy-OR with *voice anger*: high arousal counts only in proportion to how negative the words
  are, so an excited caller with neutral words is not angry, a calm mild complaint is not
  angry, but a shouted complaint is.
* hesitant — the hesitation intent, reinforced by slow, pause-filled, quiet delivery.
* positive — positive words (the voice cannot tell valence reliably).
* neutral — otherwise; with low confidence when neither voice nor words say anything.

Arousal is the voice's arousal where the voice is trustworthy, blended with a word proxy.
Inputs are plain numbers, so this module needs nothing from the NLU layer.
"""

from __future__ import annotations

from tierline.audio.records import Emotion, VoiceAffect

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


VOICE_AROUSAL_FROM = 0.4
"""Voice arousal above which the voice adds anger evidence (0.35 is a caller's usual)."""
VOICE_AROUSAL_SPAN = 0.3
"""Arousal above ``VOICE_AROUSAL_FROM`` at which the voice's anger evidence is full."""
VOICE_ONLY_SHARE = 0.3
"""Share of the voice's anger evidence that needs no negative words."""
FULL_VOICE_CONFIDENCE = 0.6
"""Voice confidence at which the voice counts fully."""
UNINFORMED_CONFIDENCE = 0.1


def _clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def voice_anger(voice: VoiceAffect | None, sentiment: float, anger: float) -> float:
    """Anger evidence from the voice, gated by how negative the words are, in [0, 1]."""
    if voice is None or voice.confidence <= 0:
        return 0.0
    high = _clip((voice.arousal - VOICE_AROUSAL_FROM) / VOICE_AROUSAL_SPAN)
    negative = _clip(max(anger, -sentiment))
    trust = _clip(voice.confidence / FULL_VOICE_CONFIDENCE)
    return trust * high * (VOICE_ONLY_SHARE + (1 - VOICE_ONLY_SHARE) * negative)


def _word_arousal(sentiment: float, anger: float) -> float:
    if anger > 0:
        return min(1.0, 0.5 + anger / 2)
    return _clip(0.35 + 0.3 * abs(sentiment))


def fuse_emotion(voice: VoiceAffect | None, sentiment: float, anger: float,
                 hesitation: float, has_words: bool = True) -> Emotion:
    """Label a turn from its voice and its words.

    Args:
        voice: What the voice says (None or confidence 0: words only).
        sentiment: Word sentiment in [-1, 1].
        anger: Strength of strong negative affect in the words, [0, 1].
        hesitation: Probability of the hesitation intent, [0, 1].
        has_words: False when the turn had no recognised words.

    Returns:
        The emotion with arousal in [0, 1], confidence, source and reasons.
    """
    usable = voice is not None and voice.confidence > 0
    if not usable:
        if not has_words:
            return Emotion("neutral", 0.35, UNINFORMED_CONFIDENCE, "none",
                           ("nothing usable in voice or words",))
        return emotion_from_words(sentiment, anger, hesitation)
    assert voice is not None
    trust = _clip(voice.confidence / FULL_VOICE_CONFIDENCE)
    v_anger = voice_anger(voice, sentiment, anger)
    angry = 1 - (1 - _clip(anger)) * (1 - v_anger)
    w_voice = 0.8 * trust if has_words else 1.0
    arousal = round(_clip(w_voice * voice.arousal
                          + (1 - w_voice) * _word_arousal(sentiment, anger)), 3)
    reasons = tuple(voice.reasons)
    if angry >= ANGER_THRESHOLD:
        if v_anger >= 0.15 and anger >= 0.15:
            source = "voice+words"
        elif v_anger > anger:
            source = "voice+words" if sentiment < 0 else "voice"
        else:
            source = "words"
        why = (f"angry words ({anger:.2f})",) if anger >= 0.15 else ()
        return Emotion("angry", max(arousal, 0.6), round(angry, 3), source, why + reasons)
    hesitant = hesitation + (1 - hesitation) * trust * voice.hesitancy * min(1.0, 2 * hesitation)
    if hesitant >= HESITATION_THRESHOLD:
        return Emotion("hesitant", arousal, round(hesitant, 3), "voice+words", reasons)
    if sentiment >= POSITIVE_THRESHOLD:
        return Emotion("positive", arousal, round(sentiment, 3), "words", reasons)
    confidence = round(0.3 + 0.4 * trust * (1 - max(angry, hesitant)), 3)
    return Emotion("neutral", arousal, confidence, "voice+words" if has_words else "voice",
                   reasons)
