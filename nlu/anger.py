"""Anger of a turn's words: one cue is a hint, anger needs the rest of the turn to back it.

A single insult or threat word is cheap evidence: 垃圾 is also the waste a caller's company
processes, 律师 a profession, 投诉 a module of the product. :func:`read_anger` keeps the
lexical anger (:func:`tierline.nlu.sentiment.anger_score`) only when something beyond one
cue backs it:

- **repeated cues**: two or more cues in the turn (受够了，退钱; 骗人…12315…投诉);
- **a complaint in negative words**: the turn reads as a complaint or churn signal (their
  probability together at least :data:`SAID`) with sentiment at most :data:`NEGATIVE`, and
  the cue is one whose only sense is anger (我非常生气, 骗子, 什么破系统, 我要投诉你们); a cue
  with an everyday sense (:data:`tierline.nlu.sentiment.AMBIGUOUS_ANGER`) counts only when
  the rest of the turn, read without it, is still a complaint or negative
  (再不解决我就找律师了 is; a lone 垃圾 is not).

Otherwise the anger is capped at :data:`UNBACKED`, below the angry threshold (0.6) of
:mod:`tierline.audio.emotion`: the words alone do not make the caller angry, but a raised
voice can (the voice's anger evidence is combined with it there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tierline.nlu.sentiment import AMBIGUOUS_ANGER, anger_cues, anger_score

__all__ = ["NEGATIVE", "SAID", "UNBACKED", "AngerReading", "read_anger"]

UNBACKED = 0.45
"""Most anger one cue gets without backing (below the 0.6 angry threshold)."""
SAID = 0.35
"""Complaint + churn probability at which the turn counts as a complaint (as in the tier)."""
NEGATIVE = -0.5
"""Sentiment at or below which the turn's words are negative."""
REST_NEGATIVE = -0.3
"""Sentiment at or below which the rest of a turn, read without its cue, is negative."""
COMPLAINING = ("complaint", "churn_signal")


@dataclass(frozen=True)
class AngerReading:
    """What the words say about anger.

    Attributes:
        score: The anger the turn carries, in [0, 1] (``NluResult.anger``).
        lexical: The cues' own score before backing.
        cues: The cue words found.
        basis: ``repeated cues``, ``complaint in negative words``, ``one cue, not backed``,
            or empty when there is no cue.
    """

    score: float
    lexical: float = 0.0
    cues: tuple[str, ...] = ()
    basis: str = ""


def _complaining(probs: Mapping[str, float]) -> float:
    return sum(float(probs.get(i, 0.0)) for i in COMPLAINING)


def read_anger(text: str, intents: Mapping[str, float], sentiment: float,
               classify: Callable[[str], Mapping[str, float]],
               score: Callable[[str], float]) -> AngerReading:
    """Anger of one turn, backed or capped (rules in the module docstring).

    Args:
        text: The normalised turn.
        intents: Intent probabilities of the turn.
        sentiment: Sentiment of the turn, [-1, 1].
        classify: Intent probabilities of a text (reads the rest of the turn).
        score: Sentiment of a text.

    Returns:
        The reading; ``score`` is 0 without a cue.
    """
    cues = anger_cues(text)
    if not cues:
        return AngerReading(0.0)
    lexical = anger_score(text, cues)
    words = tuple(c.word for c in cues)
    if len(cues) >= 2:
        return AngerReading(lexical, lexical, words, "repeated cues")
    if _complaining(intents) >= SAID and sentiment <= NEGATIVE:
        cue = cues[0]
        if cue.word not in AMBIGUOUS_ANGER:
            return AngerReading(lexical, lexical, words, "complaint in negative words")
        rest = (text[:cue.start] + text[cue.end:]).strip(" ，,。.！!？?")
        if rest and (_complaining(classify(rest)) >= SAID or score(rest) <= REST_NEGATIVE):
            return AngerReading(lexical, lexical, words, "complaint in negative words")
    return AngerReading(round(min(lexical, UNBACKED), 4), lexical, words,
                        "one cue, not backed")
