"""Measure intent classifiers on the held-out split: macro-F1, per-intent F1, confusion matrix.

One run scores every system on the same texts: the trained model, the keyword rules and a
TF-IDF baseline (character 1-3-grams + logistic regression, fitted in the run on the same
training data the model saw), on the clean test split and on its noisy-ASR copies (espeak-ng
and Kokoro speech, :data:`tierline.nlu.data.ASR_COPIES`). Texts go
through :func:`tierline.nlu.pipeline.normalize` first, as in the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tierline.nlu.data import (
    ASR_COPIES,
    Example,
    load_challenge,
    load_heard_intents,
    load_intents,
    load_noisy_intents,
    load_noisy_pairs,
    load_ood_other,
)
from tierline.nlu.evaluation.recogniser_bound import recogniser_bound
from tierline.nlu.evaluation.scores import Scores, score
from tierline.nlu.intents import IntentClassifier, KeywordIntentClassifier
from tierline.nlu.vocab import INTENTS

__all__ = ["Scores", "TfidfIntentClassifier", "evaluate_intents", "score", "tfidf_training_set"]


def _argmax(probs: dict[str, float]) -> str:
    return max(INTENTS, key=lambda i: probs.get(i, 0.0))


def predict(classifier: IntentClassifier, texts: Sequence[str]) -> list[str]:
    """Top intent of each text after pipeline normalisation."""
    from tierline.nlu.pipeline import normalize

    return [_argmax(classifier.classify(normalize(t))) for t in texts]


def predict_beams(classifier: IntentClassifier, examples: Sequence[Example]) -> list[str]:
    """Top intent of each ASR copy read from its whole beam, as the pipeline reads a turn
    (:func:`tierline.nlu.pipeline.read_beam`); a row without a beam is read as its text."""
    from tierline.nlu.pipeline import read_beam

    return [_argmax(read_beam(classifier, e.beam)) if len(e.beam) > 1
            else predict(classifier, [e.text])[0] for e in examples]


class TfidfIntentClassifier(IntentClassifier):
    """TF-IDF of character 1-3-grams + multinomial logistic regression (scikit-learn).

    The classic strong baseline for short Chinese texts; fitted at evaluation time.

    Args:
        examples: Training texts and labels.
    """

    name = "tfidf-logreg"
    trained = True

    def __init__(self, examples: Sequence[Example]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from tierline.nlu.pipeline import normalize

        self._normalize = normalize
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True,
                                          min_df=1)
        x = self.vectorizer.fit_transform([normalize(e.text) for e in examples])
        self.model = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
        self.model.fit(x, [e.label for e in examples])

    def _classify_impl(self, text: str) -> dict[str, float]:
        p = self.model.predict_proba(self.vectorizer.transform([text]))[0]
        return {label: float(v) for label, v in zip(self.model.classes_, p, strict=True)}


def tfidf_training_set(ood: Sequence[Example] = (), ood_limit: int = 600) -> list[Example]:
    """What the TF-IDF baseline learns from: the model's training data without augmentation.

    Clean train split, its noisy-ASR copies (every engine), and up to ``ood_limit``
    out-of-domain ``other`` rows of the public corpora's train part (a fixed, evenly spaced
    selection).
    """
    train = load_intents("train") + [e for copy in ASR_COPIES
                                     for e in load_noisy_intents("train", copy) if e.text]
    pool = [e for e in ood if e.split == "train"]
    step = max(1, len(pool) // ood_limit) if pool else 1
    return train + pool[::step][:ood_limit]


@dataclass(frozen=True)
class _System:
    name: str
    classifier: IntentClassifier


def evaluate_intents(model: IntentClassifier | None, split: str = "test",
                     data_dir=None, progress: Callable[[str], None] | None = None) -> dict:
    """Score the trained model and both baselines on ``split``, clean and noisy-ASR.

    The noisy-ASR set is scored whole (``asr``) and on the transcripts that kept at least a
    third of what was said (``asr_heard``, :func:`tierline.nlu.data.heard_enough`): the rest
    are empty or hallucinated and bound what any reader can reach. ``asr_kokoro`` is the copy
    spoken by the neural Kokoro voice, when the split has one. A copy whose file records
    Whisper's final beam is also read the way the pipeline reads a turn, from every reading
    (``asr_beam``, ``asr_kokoro_beam``). With the test split come the challenge set
    (``challenge``) and its two copies (``challenge_asr``, ``challenge_asr_kokoro``, and
    their ``_beam`` readings).

    Args:
        model: The trained classifier (None: baselines only).
        split: ``test`` (the held-out split) or ``dev``.
        data_dir: Shared public-data directory; when given, the TF-IDF baseline also learns
            from out-of-domain ``other`` rows and the report adds the false-alarm rate on
            the held-out public ``other`` rows.
        progress: Called with a short message per finished step.

    Returns:
        JSON-ready report: per system and text set, :class:`Scores` plus median
        per-utterance time; ``recogniser_bound``: the model on each copy read from the beam,
        by transcript CER (:mod:`tierline.nlu.evaluation.recogniser_bound`), keyed by copy
        (``espeak``, ``kokoro``, ``challenge_espeak``, ``challenge_kokoro``).
    """
    note = progress or (lambda _m: None)
    copies = {"asr": (split, "espeak"), "asr_kokoro": (split, "kokoro")}
    if split == "test":
        copies.update(challenge_asr=("challenge", "espeak"),
                      challenge_asr_kokoro=("challenge", "kokoro"))
    pairs = {name: load_noisy_pairs(*where) for name, where in copies.items()}
    ood = load_ood_other(data_dir) if data_dir is not None else []
    sets: dict[str, list[Example]] = {"clean": load_intents(split),
                                      "asr": [noisy for _, noisy in pairs["asr"]],
                                      "asr_heard": load_heard_intents(split)}
    if split == "test":
        sets["challenge"] = load_challenge()
    sets.update({name: [noisy for _, noisy in rows] for name, rows in pairs.items()
                 if rows and name != "asr"})
    beam_sets = [name for name in copies if name in sets and any(e.beam for e in sets[name])]
    if ood:
        sets["public_other"] = [e for e in ood if e.split == "test"]
    systems = [_System("keyword", KeywordIntentClassifier())]
    t0 = time.perf_counter()
    systems.append(_System("tfidf", TfidfIntentClassifier(tfidf_training_set(ood))))
    note(f"tf-idf baseline fitted in {time.perf_counter() - t0:.1f} s")
    if model is not None:
        systems.append(_System("model", model))
    sizes = {k: len(v) for k, v in sets.items()}
    sizes.update({f"{k}_beam": len(sets[k]) for k in beam_sets})
    report: dict = {"split": split, "sizes": sizes, "systems": {}, "recogniser_bound": {}}
    for system in systems:
        out = {}
        said: dict[str, str] = {}  # clean text → label, for the recogniser bound
        for set_name, examples in sets.items():
            texts = [e.text for e in examples]
            t0 = time.perf_counter()
            predicted = predict(system.classifier, texts)
            per_ms = (time.perf_counter() - t0) * 1000 / max(1, len(texts))
            truth = [e.label for e in examples]
            if set_name in ("clean", "challenge"):
                said.update(zip(texts, predicted, strict=True))
            if set_name in beam_sets:
                t0 = time.perf_counter()
                by_beam = predict_beams(system.classifier, examples)
                out[f"{set_name}_beam"] = {
                    **score(truth, by_beam).to_dict(),
                    "mean_ms": round((time.perf_counter() - t0) * 1000 / max(1, len(texts)), 3)}
                if system.name == "model":
                    where, copy = copies[set_name]
                    key = f"challenge_{copy}" if where == "challenge" else copy
                    report["recogniser_bound"][key] = recogniser_bound(
                        pairs[set_name], by_beam,
                        [said[clean.text] for clean, _ in pairs[set_name]]).to_dict()
            if set_name == "public_other":
                false_alarms = sum(p != "other" for p in predicted)
                out[set_name] = {"n": len(texts),
                                 "false_alarm_rate": round(false_alarms / max(1, len(texts)), 4),
                                 "mean_ms": round(per_ms, 3)}
            else:
                out[set_name] = {**score(truth, predicted).to_dict(), "mean_ms": round(per_ms, 3)}
        report["systems"][system.name] = out
        note(f"{system.name} scored")
    return report


def evaluate_sentiment(model, data_dir=None, split: str = "test",
                       review_limit: int = 4000) -> dict:
    """Score the trained sentiment model beside the lexicon.

    Args:
        model: A :class:`tierline.nlu.sentiment.SentimentModel` (None: lexicon only).
        data_dir: Shared public data; when given, adds polarity accuracy on held-out reviews
            (an evenly spaced selection of at most ``review_limit``).
        split: Split of ``sentiment.tsv`` and of the reviews.

    Returns:
        Per system: 3-class macro-F1 on our caller utterances (score < -0.33 neg,
        > 0.33 pos, else neu) and the review polarity accuracy (sign of the score).
    """
    from tierline.nlu.data import SENTIMENT_LABELS, load_reviews, load_sentiment
    from tierline.nlu.pipeline import normalize
    from tierline.nlu.sentiment import LexiconSentiment

    own = load_sentiment(split)
    reviews: list[Example] = []
    if data_dir is not None:
        pool = [e for e in load_reviews(data_dir) if e.split == split]
        reviews = pool[:: max(1, len(pool) // review_limit)][:review_limit]
    systems = {"lexicon": LexiconSentiment()}
    if model is not None:
        systems["model"] = model

    def bucket(v: float) -> str:
        return "neg" if v < -1 / 3 else ("pos" if v > 1 / 3 else "neu")

    out: dict = {"split": split, "sizes": {"own": len(own), "reviews": len(reviews)},
                 "systems": {}}
    for name, system in systems.items():
        own_pred = [bucket(system.score(normalize(e.text))) for e in own]
        row = {"own": score([e.label for e in own], own_pred, SENTIMENT_LABELS).to_dict()}
        if reviews:
            values = [system.score(normalize(e.text)) for e in reviews]
            right = sum((v > 0 and e.label == "pos") or (v < 0 and e.label == "neg")
                        for v, e in zip(values, reviews, strict=True))
            row["reviews"] = {"n": len(reviews),
                              "polarity_accuracy": round(right / len(reviews), 4)}
        out["systems"][name] = row
    return out
