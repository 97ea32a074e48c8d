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


def default_intent_classifier() -> IntentClassifier:
    """The shipped trained model when its file is present, else the keyword rules."""
    from tierline.nlu.models import INTENT_MODEL

    if INTENT_MODEL.is_file():
        from tierline.nlu.onnx_models import OnnxIntentClassifier

        return OnnxIntentClassifier(INTENT_MODEL)
    return KeywordIntentClassifier()


def default_sentiment_model() -> SentimentModel:
    """The shipped trained sentiment model when its file is present, else the lexicon."""
    from tierline.nlu.models import SENTIMENT_MODEL

    if SENTIMENT_MODEL.is_file():
        from tierline.nlu.onnx_models import OnnxSentiment

        return OnnxSentiment(SENTIMENT_MODEL)
    return LexiconSentiment()


class Nlu:
    """Intent, entities, sentiment and anger for caller utterances.

    Args:
        intents: Intent classifier (default: the shipped trained model, see
            :func:`default_intent_classifier`; the keyword rules when no model file ships).
        sentiment: Sentiment model (default: the shipped trained model, else the lexicon).
    """

    def __init__(self, intents: IntentClassifier | None = None,
                 sentiment: SentimentModel | None = None) -> None:
        self.intents = intents or default_intent_classifier()
        self.sentiment = sentiment or default_sentiment_model()

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
