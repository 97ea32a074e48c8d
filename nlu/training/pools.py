"""Data assembly of ``tierline train nlu``: which rows each model trains on, and the shared
vocabulary.

Everything here is plain Python over :class:`~tierline.nlu.data.Example` rows (no torch), so
the choice of training data can be read, and tested, apart from the models. Only train splits
are used; dev rows are read by the trainers themselves for epoch selection.
"""

from __future__ import annotations

from collections.abc import Sequence

from tierline.nlu.chars import CharVocab
from tierline.nlu.data import ASR_COPIES, Example, load_heard_intents, load_intents, load_sentiment
from tierline.nlu.pipeline import normalize
from tierline.nlu.sentiment import LexiconSentiment

__all__ = ["NEGATIVE_INTENTS", "NEUTRAL_INTENTS", "IntentPool", "SentimentPool",
           "intent_training_pool", "pretraining_texts", "sentiment_training_pool",
           "shared_vocab"]

NEUTRAL_INTENTS = ("price_inquiry", "product_question", "payment_invoice", "trial_request",
                   "tech_integration", "customization", "bulk_purchase", "purchase_intent",
                   "hesitation", "other")
"""Intents whose utterances count as neutral sentiment (when the lexicon finds no polarity).

``other`` holds the caller's asides and answers to the bot's questions ("我是负责人，我说了算",
"嗯，明白", "拿本子记"); without it the model read some of them as angry as a complaint (-0.9),
and which ones moved from one retrain to the next."""
NEGATIVE_INTENTS = ("complaint", "churn_signal")
"""Intents whose utterances count as negative sentiment: a complaint, or a customer leaving.

Without churn_signal rows nothing told the model how a calm "合同到期就不续了" feels; once the
in-domain neutral rows outnumbered the reviews it read such turns as neutral, and the tier
model (which learnt churn from the earlier, negative readings) stopped seeing churn."""

IntentPool = tuple[list[Example], list[Example]]
"""(clean train rows, usable noisy-ASR copies of them)."""
SentimentPool = dict[str, list[Example]]
"""Sentiment rows by role (see :func:`sentiment_training_pool`)."""


def _norm(texts: Sequence[str]) -> list[str]:
    return [normalize(t) for t in texts]


def intent_training_pool(smoke: bool = False) -> IntentPool:
    """(clean train rows, usable noisy-ASR copies of them from every TTS engine)."""
    train = load_intents("train")
    # the copies that fail heard_enough are label noise in training
    noisy = [e for copy in ASR_COPIES for e in load_heard_intents("train", copy)]
    if smoke:
        train, noisy = train[::10], noisy[::10]
    return train, noisy


def sentiment_training_pool(reviews: list[Example], ood: list[Example],
                            smoke: bool = False) -> SentimentPool:
    """Sentiment rows by role: ``reviews``, ``own`` (hand-labelled), ``corpus`` (intent-corpus
    rows labelled by intent: neutral or negative), ``ood``."""
    lexicon = LexiconSentiment()
    corpus = load_intents("train")
    by_intent = [Example(e.text, "neu", "train", "corpus") for e in corpus
                 if e.label in NEUTRAL_INTENTS and abs(lexicon.score(e.text)) < 0.25]
    by_intent += [Example(e.text, "neg", "train", "corpus") for e in corpus
                  if e.label in NEGATIVE_INTENTS]
    pool = {
        "reviews": [e for e in reviews if e.split == "train"],
        "own": load_sentiment("train"),
        "corpus": by_intent,
        # SMP2017 chit-chat carries opinions ("但还是很差"): not neutral
        "ood": [e for e in ood if e.split == "train" and e.source != "smp2017/chat"],
    }
    if smoke:
        pool = {k: v[:: 200 if k in ("reviews", "ood") else 5] for k, v in pool.items()}
    return pool


def shared_vocab(intent_pool: IntentPool, sent_pool: SentimentPool,
                 ood: list[Example], max_size: int = 6000) -> CharVocab:
    """One vocabulary for the encoder and both models.

    Every unit of our own utterances (clean and noisy) first, then units seen twice in the
    out-of-domain queries and three times in the reviews, up to ``max_size``.
    """
    own = _norm([e.text for e in intent_pool[0] + intent_pool[1]]
                + [e.text for e in sent_pool["own"]])
    vocab = CharVocab.build(own)
    vocab = _merge_vocab(vocab, CharVocab.build(
        _norm([e.text for e in ood if e.split == "train"]), min_count=2))
    vocab = _merge_vocab(vocab, CharVocab.build(
        _norm([e.text for e in sent_pool["reviews"]]), min_count=3))
    return CharVocab(vocab.tokens[:max_size])


def _merge_vocab(primary: CharVocab, extra: CharVocab) -> CharVocab:
    seen = set(primary.tokens)
    return CharVocab(primary.tokens + tuple(t for t in extra.tokens if t not in seen))


def pretraining_texts(intent_pool: IntentPool, sent_pool: SentimentPool,
                      ood: list[Example]) -> list[str]:
    """Unlabelled text for masked-language-model pre-training (train parts only)."""
    own = [e.text for e in intent_pool[0] + intent_pool[1] + sent_pool["own"]]
    return (own * 3 + [e.text for e in ood if e.split == "train"]
            + [e.text for e in sent_pool["reviews"]])
