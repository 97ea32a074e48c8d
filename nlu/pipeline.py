"""The NLU stage: one caller utterance in, one :class:`NluResult` out.

Text is normalised first (NFKC, Traditional → Simplified with OpenCC, whitespace collapsed,
capped at ``MAX_CHARS``), then the intent classifier, the entity extractor and the sentiment
and anger scorers run on it. Any string is valid input; empty or symbol-only text gives
``other`` with no entities.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from tierline.nlu.entities import extract_entities
from tierline.nlu.intents import IntentClassifier, KeywordIntentClassifier
from tierline.nlu.records import Entities, IntentScore, NluResult
from tierline.nlu.sentiment import LexiconSentiment, SentimentModel, anger_score
from tierline.nlu.vocab import INTENTS

MAX_CHARS = 2000
"""Longer input is cut here: a caller turn is at most ~30 s of speech (~250 characters)."""

_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Normalise one utterance for NLU.

    Args:
        text: Raw text (ASR output or typed), any script.

    Returns:
        NFKC-normalised Simplified Chinese with single spaces, at most ``MAX_CHARS`` long.
    """
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])
    text = _SPACE.sub(" ", text).strip()[:MAX_CHARS]
    return _t2s().convert(text) if text else ""


class Nlu:
    """Intent, entities, sentiment and anger for caller utterances.

    Args:
        intents: Intent classifier (default: the keyword rules).
        sentiment: Sentiment model (default: the lexicon).
    """

    def __init__(self, intents: IntentClassifier | None = None,
                 sentiment: SentimentModel | None = None) -> None:
        self.intents = intents or KeywordIntentClassifier()
        self.sentiment = sentiment or LexiconSentiment()

    def analyze(self, text: str) -> NluResult:
        """Analyse one utterance.

        Args:
            text: The utterance as heard or typed.

        Returns:
            The result; ``text`` holds the input unchanged, analysis runs on the normalised
            form.
        """
        clean = normalize(text)
        probs = self.intents.classify(clean)
        ranked = sorted(INTENTS, key=lambda i: -probs[i])
        top = tuple(IntentScore(i, round(probs[i], 4)) for i in ranked[:3])
        return NluResult(
            text=text if isinstance(text, str) else "",
            intent=top[0],
            intents=top,
            entities=extract_entities(clean) if clean else Entities(),
            sentiment=round(self.sentiment.score(clean), 4),
            anger=anger_score(clean),
            scores={i: round(probs[i], 4) for i in INTENTS},
        )
