"""Trained character-level NLU models at run time: onnxruntime only (no torch).

:class:`OnnxIntentClassifier` and :class:`OnnxSentiment` wrap an INT8 ONNX file written by
:mod:`tierline.nlu.training.train`. The file's metadata carries everything needed to use it (labels,
character vocabulary, maximum length), so a model and its vocabulary cannot drift apart.
Sessions use one intra-op thread: one utterance is tiny work, and the call pipeline runs
several calls side by side. Both read :func:`tierline.nlu.reading.model_reading` of the turn
(double negatives cancelled, insult words in their everyday sense left out).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tierline.nlu.chars import CharVocab, bigram_ids, clip_units, sound, sound_ids
from tierline.nlu.data import SENTIMENT_LABELS
from tierline.nlu.errors import NluError
from tierline.nlu.intents import IntentClassifier
from tierline.nlu.reading import model_reading
from tierline.nlu.sentiment import SentimentModel
from tierline.nlu.vocab import FALLBACK_INTENT, INTENTS

__all__ = ["OnnxCharModel", "OnnxIntentClassifier", "OnnxSentiment", "load_char_model"]

FORMAT = "tierline-char-v1"
"""Metadata ``format`` value this runtime understands."""


@dataclass(frozen=True)
class OnnxCharModel:
    """An ONNX character-level text classifier and its metadata.

    Attributes:
        path: The model file.
        kind: ``intent`` or ``sentiment``.
        labels: Output classes in logit order.
        vocab: Character vocabulary.
        max_len: Maximum sequence length (``[CLS]`` included).
        bigram_buckets: Size of the hashed bigram table (0: the model reads no bigrams).
        sound_buckets: Size of the hashed sound table (0: the model reads no sounds; files
            written before sounds existed).
        info: The rest of the metadata (training settings, data sizes).
    """

    path: Path
    kind: str
    labels: tuple[str, ...]
    vocab: CharVocab
    max_len: int
    bigram_buckets: int
    sound_buckets: int
    info: dict
    session: object

    def probabilities(self, text: str) -> np.ndarray | None:
        """Softmax over :attr:`labels` for one (normalised) utterance.

        Returns:
            The probabilities, or None when the text has no unit the model reads
            (punctuation or spaces only).
        """
        seq = clip_units(text, self.max_len)
        if not seq:
            return None
        ids = np.asarray([self.vocab.ids(seq)], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if self.bigram_buckets:
            feed["bigram_ids"] = np.asarray([bigram_ids(seq, self.bigram_buckets)], np.int64)
        if self.sound_buckets:
            feed["sound_ids"] = np.asarray([sound_ids(seq, self.sound_buckets)], np.int64)
        logits = self.session.run(["logits"], feed)[0][0]  # type: ignore[attr-defined]
        z = np.exp(logits - logits.max())
        return z / z.sum()


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _load(path: str, threads: int) -> OnnxCharModel:
    import onnxruntime as ort

    p = Path(path)
    if not p.is_file():
        raise NluError(f"NLU model not found: {p} (run `tierline train nlu`)")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise NluError(f"cannot load NLU model {p}: {exc}") from None
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("format") != FORMAT:
        raise NluError(f"{p} is not a Tierline NLU model (format {meta.get('format')!r})")
    try:
        labels = tuple(json.loads(meta["labels"]))
        vocab = CharVocab(tuple(json.loads(meta["vocab"])))
        max_len = int(meta["max_len"])
        buckets = int(meta.get("bigram_buckets", "0"))
        sounds = int(meta.get("sound_buckets", "0"))
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, ValueError) as exc:
        raise NluError(f"{p}: bad model metadata ({exc})") from None
    if sounds:
        sound("价")  # load the pinyin tables now, not on the first caller turn
    return OnnxCharModel(p, meta.get("kind", ""), labels, vocab, max_len, buckets, sounds,
                         info, session)


def load_char_model(path: str | Path, kind: str, threads: int = 1) -> OnnxCharModel:
    """Load (once per process) a model file and check that it is of ``kind``.

    Raises:
        NluError: missing file, unreadable model, wrong kind or labels.
    """
    with _LOAD_LOCK:
        model = _load(str(Path(path).resolve()), threads)
    if model.kind != kind:
        raise NluError(f"{model.path} is a {model.kind or 'unknown'} model, not {kind}")
    return model


class OnnxIntentClassifier(IntentClassifier):
    """The trained intent model: character transformer, INT8 ONNX, onnxruntime.

    Args:
        path: Model file (default: the shipped ``intent.int8.onnx``).
    """

    trained = True
    name = "char-transformer"

    def __init__(self, path: str | Path | None = None) -> None:
        from tierline.nlu.models import INTENT_MODEL

        self.model = load_char_model(path or INTENT_MODEL, "intent")
        if set(self.model.labels) != set(INTENTS):
            raise NluError(f"{self.model.path}: labels are not the 15 intents")

    def _classify_impl(self, text: str) -> dict[str, float]:
        p = self.model.probabilities(model_reading(text))
        if p is None:
            return {i: float(i == FALLBACK_INTENT) for i in INTENTS}
        return {label: float(v) for label, v in zip(self.model.labels, p, strict=True)}


class OnnxSentiment(SentimentModel):
    """The trained sentiment model: ``P(pos) - P(neg)`` of a neg/neu/pos classifier.

    Args:
        path: Model file (default: the shipped ``sentiment.int8.onnx``).
    """

    trained = True

    def __init__(self, path: str | Path | None = None) -> None:
        from tierline.nlu.models import SENTIMENT_MODEL

        self.model = load_char_model(path or SENTIMENT_MODEL, "sentiment")
        if self.model.labels != SENTIMENT_LABELS:
            raise NluError(f"{self.model.path}: labels are not {SENTIMENT_LABELS}")

    def _score_impl(self, text: str) -> float:
        p = self.model.probabilities(model_reading(text))
        return 0.0 if p is None else float(p[2] - p[0])
