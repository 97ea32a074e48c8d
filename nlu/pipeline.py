"""The NLU stage: one caller utterance in, one :class:`NluResult` out.

Text is normalised first (NFKC, Traditional → Simplified with OpenCC, whitespace collapsed,
capped at ``MAX_CHARS``), then the intent classifier, the entity extractor and the sentiment
model run on it, and the anger cues are read against the rest of the turn
(:mod:`tierline.nlu.anger`: one cheap word does not make a caller angry). Any string is
valid input; empty or symbol-only text gives ``other`` with no entities.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Sequence
from functools import lru_cache

from tierline.nlu.anger import read_anger
from tierline.nlu.entities import extract_entities
from tierline.nlu.errors import NluError
from tierline.nlu.intents import IntentClassifier, KeywordIntentClassifier
from tierline.nlu.money import fx_rates
from tierline.nlu.records import Entities, IntentScore, NluResult
from tierline.nlu.sentiment import LexiconSentiment, SentimentModel
from tierline.nlu.vocab import INTENTS

MAX_CHARS = 2000
"""Longer input is cut here: a caller turn is at most ~30 s of speech (~250 characters)."""

BEAM_TEMPERATURE = 2.0
"""Readings of one utterance weigh exp(summed log-probability / this) in the intent.

On the dev split's Kokoro phone-line copy (5 readings per turn) 2 gave the best macro-F1 of
0.5, 1, 2, 4 and equal weights (0.800; all five within 0.005 of it, docs/nlu.md).
"""

BEAM_READINGS = 4
"""At most this many distinct readings of one utterance are classified: the most weighted.

A turn holds Whisper base's readings and the call-centre decoder's (about 4.4 distinct of up
to 10 on the Kokoro dev copy); more than 4 changed dev macro-F1 by at most 0.004 and cost a
classification each (docs/nlu.md).
"""

POSITIVE_NOT_COMPLAINT = 0.3
"""A turn whose sentiment is at least this is no complaint: its complaint probability moves to
product_question (a positive remark about the product, docs/nlu.md). The intent model reads
satisfied turns as complaints ("我对你们的服务很满意": complaint 0.83, sentiment +0.86); on the
dev, test and challenge splits and their ASR copies the move changes one prediction
(docs/nlu.md)."""

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


def default_intent_classifier(allow_fallback: bool = False) -> IntentClassifier:
    """The shipped trained intent model.

    Args:
        allow_fallback: When the model file is missing or unreadable, use the keyword rules
            (with a warning) instead of raising.

    Raises:
        NluError: the shipped model is missing or corrupt and no fallback is allowed.
    """
    from tierline.nlu.models import INTENT_MODEL
    from tierline.nlu.onnx_models import OnnxIntentClassifier

    return _shipped(lambda: OnnxIntentClassifier(INTENT_MODEL), KeywordIntentClassifier,
                    "intent", allow_fallback)


def default_sentiment_model(allow_fallback: bool = False) -> SentimentModel:
    """The shipped trained sentiment model (the lexicon with ``allow_fallback``, see
    :func:`default_intent_classifier`)."""
    from tierline.nlu.models import SENTIMENT_MODEL
    from tierline.nlu.onnx_models import OnnxSentiment

    return _shipped(lambda: OnnxSentiment(SENTIMENT_MODEL), LexiconSentiment, "sentiment",
                    allow_fallback)


def _shipped(load, fallback, kind: str, allow_fallback: bool):
    try:
        return load()
    except NluError as exc:
        if not allow_fallback:
            raise NluError(f"{exc} (the shipped {kind} model is part of the install: reinstall "
                           "tierline, or pass --allow-fallback to use the keyword rules)") from None
        warnings.warn(f"{exc}; using the rule-based {kind} fallback", RuntimeWarning,
                      stacklevel=3)
        return fallback()


class Nlu:
    """Intent, entities, sentiment and anger for caller utterances.

    Args:
        intents: Intent classifier (default: the shipped trained model, see
            :func:`default_intent_classifier`).
        sentiment: Sentiment model (default: the shipped trained model).
        allow_fallback: A missing or corrupt shipped model falls back to the keyword rules
            and the lexicon (with a warning) instead of raising :class:`NluError`.
    """

    def __init__(self, intents: IntentClassifier | None = None,
                 sentiment: SentimentModel | None = None,
                 allow_fallback: bool = False) -> None:
        fx_rates()  # a malformed TIERLINE_FX fails here, not in the middle of a call
        self.intents = intents or default_intent_classifier(allow_fallback)
        self.sentiment = sentiment or default_sentiment_model(allow_fallback)

    def analyze(self, text: str, alternatives: Sequence[tuple[str, float]] = ()) -> NluResult:
        """Analyse one utterance.

        Args:
            text: The utterance as heard or typed.
            alternatives: Other readings of the same audio as (text, summed log-probability),
                the recogniser's final beam with ``text``'s own reading among them. When
                given, the intent probabilities are the readings' average weighted by
                :func:`beam_weights`, so a word the best reading lost can still count;
                entities, sentiment and anger always come from ``text``.

        Returns:
            The result; ``text`` holds the input unchanged, analysis runs on the normalised
            form.
        """
        clean = normalize(text)
        probs = (read_beam(self.intents, alternatives) if len(alternatives) > 1
                 else self.intents.classify(clean))
        sentiment = self.sentiment.score(clean)
        probs = no_positive_complaint(probs, sentiment)
        ranked = sorted(INTENTS, key=lambda i: -probs[i])
        top = tuple(IntentScore(i, round(probs[i], 4)) for i in ranked[:3])
        anger = read_anger(clean, probs, sentiment, self.intents.classify, self.sentiment.score)
        return NluResult(
            text=text if isinstance(text, str) else "",
            intent=top[0],
            intents=top,
            entities=extract_entities(clean) if clean else Entities(),
            sentiment=round(sentiment, 4),
            anger=anger.score,
            scores={i: round(probs[i], 4) for i in INTENTS},
            anger_basis=anger.basis,
        )

def no_positive_complaint(probs: dict[str, float], sentiment: float) -> dict[str, float]:
    """Intent probabilities with no complaint in a positive turn (:data:`POSITIVE_NOT_COMPLAINT`).

    Args:
        probs: Probability per intent.
        sentiment: The turn's sentiment, [-1, 1].

    Returns:
        ``probs`` itself when the turn is not positive, else a copy with the complaint
        probability added to product_question.
    """
    if sentiment < POSITIVE_NOT_COMPLAINT or not probs.get("complaint"):
        return probs
    out = dict(probs)
    out["product_question"] = out.get("product_question", 0.0) + out["complaint"]
    out["complaint"] = 0.0
    return out


def read_beam(classifier: IntentClassifier, alternatives: Sequence[tuple[str, float]]
              ) -> dict[str, float]:
    """Intent probabilities of an utterance read from all of a beam's readings.

    Args:
        classifier: Reads one normalised text.
        alternatives: (text, summed log-probability) pairs, at least one.

    Returns:
        The probabilities of the :data:`BEAM_READINGS` most weighted distinct readings,
        averaged with their :func:`beam_weights` (a reading the beam holds twice, as after
        Traditional → Simplified, is classified once).
    """
    weights: dict[str, float] = {}
    for (reading, _), weight in zip(alternatives, beam_weights(alternatives), strict=True):
        key = normalize(reading)
        weights[key] = weights.get(key, 0.0) + weight
    kept = sorted(weights, key=weights.__getitem__, reverse=True)[:BEAM_READINGS]
    total = sum(weights[k] for k in kept)
    probs = dict.fromkeys(INTENTS, 0.0)
    for reading in kept:
        for intent, p in classifier.classify(reading).items():
            probs[intent] += weights[reading] / total * p
    return probs


def beam_weights(alternatives: Sequence[tuple[str, float]]) -> list[float]:
    """Weights of a beam's readings: softmax of log-probability / :data:`BEAM_TEMPERATURE`.

    Args:
        alternatives: (text, summed log-probability) pairs.

    Returns:
        One weight per reading, summing to 1; equal weights when a log-probability is not
        finite.
    """
    logps = [lp for _, lp in alternatives]
    if not all(math.isfinite(lp) for lp in logps):
        return [1.0 / len(logps)] * len(logps)
    top = max(logps)
    raw = [math.exp((lp - top) / BEAM_TEMPERATURE) for lp in logps]
    return [r / sum(raw) for r in raw]
