"""`tierline train nlu`: train the intent and sentiment models and ship them as INT8 ONNX.

Both models are small character-level transformers (``transformers`` BERT classes with random
initialisation and our own vocabulary; nothing is downloaded) that read characters, number
magnitude tokens, hashed character bigrams and hashed folded pinyin sounds
(:mod:`tierline.nlu.chars`). They are trained
with torch, exported to ONNX and quantised to INT8 with onnxruntime. The run is seeded: the
same seed, thread count and data give the same models.

1. Pre-training: one shared encoder learns masked-unit prediction on the train parts of all
   text (reviews, SMP2017, CrossWOZ, our corpus).
2. Intent model: four members in one ONNX graph: a transformer fine-tuned from the
   pre-trained encoder, one trained from scratch, a linear bag of units, bigrams and sounds
   (fastText-style; it carries over to garbled ASR text better than the transformers, as the
   TF-IDF baseline showed) and a linear bag of sounds alone (single, pairs, triples: blind to
   the homophones Whisper writes). The transformers' mean and the two bags are mixed with the
   weights that score best on dev without costing clean text. Data: the train split of our
   corpus, fresh augmented variants of it every epoch (:mod:`tierline.nlu.training.augment`), the
   usable noisy-ASR copies of the train split, and real out-of-domain queries (SMP2017,
   CrossWOZ) as ``other``. For each member the epoch with the best mean dev macro-F1 (clean
   and noisy) is kept.
3. Sentiment model: fine-tuned from the encoder on the ChineseNlpCorpus reviews (pos/neg), our
   hand-labelled caller utterances (neg/neu/pos), in-domain neutral questions and asides,
   complaints and churn signals (negative) from the intent corpus, and out-of-domain queries
   as neutral (only where the corpus rows leave room: with the current corpus none;
   docs/nlu.md).
   Score = ``P(pos) - P(neg)``.

torch and transformers come from the ``train`` extra and are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tierline.nlu.chars import MASK, SPECIALS, UNK, CharVocab, bigram_ids, clip_units, sound_ids
from tierline.nlu.data import (
    ASR_COPIES,
    SENTIMENT_LABELS,
    Example,
    load_heard_intents,
    load_intents,
    load_noisy_intents,
    load_ood_other,
    load_reviews,
    load_sentiment,
    shared_data_dir,
)
from tierline.nlu.errors import NluError
from tierline.nlu.evaluation.scores import score
from tierline.nlu.onnx_models import FORMAT
from tierline.nlu.sentiment import LexiconSentiment
from tierline.nlu.training.augment import Augmenter, homophone_table
from tierline.nlu.vocab import INTENTS

__all__ = ["ModelConfig", "add_arguments", "run"]

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


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and optimisation settings of one character model.

    The architecture fields (hidden .. ffn) are shared by the pre-trained encoder and both
    task models; ``max_len`` is the per-task input length (at most ``POSITIONS``).
    """

    hidden: int = 128
    layers: int = 2
    heads: int = 4
    ffn: int = 256
    max_len: int = 96
    dropout: float = 0.1
    epochs: int = 30
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    unk_rate: float = 0.03
    warmup: float = 0.06
    bigram_buckets: int = 16384
    sound_buckets: int = 2048


POSITIONS = 128
"""Position table size of every model (the encoder is shared, so it is fixed)."""
PRETRAIN_CONFIG = ModelConfig(max_len=64, epochs=4, batch=64, lr=1e-3, label_smoothing=0.0,
                              unk_rate=0.0)
INTENT_CONFIG = ModelConfig()
SENTIMENT_CONFIG = ModelConfig(max_len=64, epochs=8, batch=64)
BAG_CONFIG = {"epochs": 20, "batch": 64, "lr": 0.02, "weight_decay": 0.0,
              "label_smoothing": 0.0, "warmup": 0.0}
"""Optimisation settings of the bag member (architecture fields follow the intent model)."""
OOD_SHARE = 0.05
"""Public out-of-domain queries added to each intent epoch as ``other``, as a share of the
labelled rows (it was a fixed 400 when an epoch held ~8,400 rows: with 1,037 more corpus rows
a fixed count halved the share, and false alarms on held-out public queries doubled)."""
BAG_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
"""Candidate weights of the bag member in the intent ensemble (chosen on dev)."""
SOUND_BAG_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
"""Candidate weights of the sound bag member (chosen on dev together with the bag's)."""
CLEAN_GUARD = 0.005
"""Largest drop in clean dev macro-F1 that a pair of bag weights may cost against the best
pair without the sound bag (the noisy copies must not be bought with clean text)."""
MAX_BAG_SHARE = 0.8
"""Largest combined weight of the two bags (the transformers keep at least the rest)."""
SOUND_GRAM_BUCKETS = (32768, 65536)
"""Hash table sizes of the sound bag's sound pairs and sound triples."""
SMOKE = {"hidden": 32, "layers": 1, "heads": 2, "ffn": 64, "bigram_buckets": 512,
         "sound_buckets": 128}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tierline train nlu``."""
    from tierline.nlu.models import MODELS_DIR

    parser.add_argument("--out", default=str(MODELS_DIR), metavar="DIR",
                        help="where to write intent.int8.onnx and sentiment.int8.onnx")
    parser.add_argument("--data", metavar="DIR",
                        help="shared public data (default $TIERLINE_DATA or ../shared/data)")
    parser.add_argument("--only", choices=["intent", "sentiment"], help="train one model")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--epochs", type=int, help="override the fine-tuning epoch count")
    parser.add_argument("--no-pretrain", action="store_true",
                        help="skip the masked-language-model pre-training of the encoder")
    parser.add_argument("--encoder-cache", metavar="F",
                        help="reuse (or save) the pre-trained encoder here to iterate faster")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny, fast run on a data subset (for tests; not a usable model)")


def require_train_extra():
    """torch and transformers, imported.

    Raises:
        NluError: the ``train`` extra is not installed (one line with the install commands).
    """
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise NluError(
            f"training needs the train extra ({exc.name} is missing): "
            "pip install torch==2.13.0 && pip install -e '.[train]'") from None
    return torch, transformers


def run(args: argparse.Namespace) -> int:
    """Pre-train the encoder, fine-tune both models, export INT8 ONNX. Returns 0."""
    torch, _ = require_train_extra()
    if args.threads < 1:
        raise NluError(f"--threads must be at least 1, not {args.threads}")
    torch.set_num_threads(args.threads)
    data_dir = shared_data_dir(args.data)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NluError(f"cannot create {out}: {exc.strerror}") from None
    log = _logger()
    ood = load_ood_other(data_dir)
    reviews = load_reviews(data_dir)
    intent_pool = intent_training_pool(args.smoke)
    sent_pool = sentiment_training_pool(reviews, ood, args.smoke)
    if args.smoke:
        ood = ood[::50]
    vocab = shared_vocab(intent_pool, sent_pool, ood)
    log(f"vocabulary {len(vocab)} units; intent train {len(intent_pool[0])} + "
        f"{len(intent_pool[1])} noisy; sentiment "
        + ", ".join(f"{k} {len(v)}" for k, v in sent_pool.items()))

    def sized(cfg: ModelConfig) -> ModelConfig:
        cfg = replace(cfg, epochs=args.epochs or cfg.epochs)
        return replace(cfg, **SMOKE, epochs=args.epochs or 1) if args.smoke else cfg

    encoder = None
    if not args.no_pretrain:
        texts = pretraining_texts(intent_pool, sent_pool, ood)
        encoder = pretrain(sized(PRETRAIN_CONFIG), vocab, texts, args.seed, log,
                           Path(args.encoder_cache) if args.encoder_cache else None)
    if args.only in (None, "intent"):
        path, summary = train_intent(sized(INTENT_CONFIG), vocab, encoder, intent_pool, ood,
                                     out / "intent.int8.onnx", args.seed, args.smoke, log)
        print(f"intent model: {path} ({path.stat().st_size / 1e6:.2f} MB)  {summary}")
    if args.only in (None, "sentiment"):
        path, summary = train_sentiment(sized(SENTIMENT_CONFIG), vocab, encoder, sent_pool,
                                        reviews, out / "sentiment.int8.onnx", args.seed,
                                        args.smoke, log)
        print(f"sentiment model: {path} ({path.stat().st_size / 1e6:.2f} MB)  {summary}")
    return 0


def _logger() -> Callable[[str], None]:
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    return log


# -- data assembly ----------------------------------------------------------------------------

def _norm(texts: Sequence[str]) -> list[str]:
    from tierline.nlu.pipeline import normalize

    return [normalize(t) for t in texts]


IntentPool = tuple[list[Example], list[Example]]


def intent_training_pool(smoke: bool = False) -> IntentPool:
    """(clean train rows, usable noisy-ASR copies of them from every TTS engine)."""
    train = load_intents("train")
    # the copies that fail heard_enough are label noise in training
    noisy = [e for copy in ASR_COPIES for e in load_heard_intents("train", copy)]
    if smoke:
        train, noisy = train[::10], noisy[::10]
    return train, noisy


def sentiment_training_pool(reviews: list[Example], ood: list[Example],
                            smoke: bool = False) -> dict[str, list[Example]]:
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


def shared_vocab(intent_pool: IntentPool, sent_pool: dict[str, list[Example]],
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


def pretraining_texts(intent_pool: IntentPool, sent_pool: dict[str, list[Example]],
                      ood: list[Example]) -> list[str]:
    """Unlabelled text for masked-language-model pre-training (train parts only)."""
    own = [e.text for e in intent_pool[0] + intent_pool[1] + sent_pool["own"]]
    return (own * 3 + [e.text for e in ood if e.split == "train"]
            + [e.text for e in sent_pool["reviews"]])


def train_intent(cfg: ModelConfig, vocab: CharVocab, encoder: dict | None, pool: IntentPool,
                 ood: list[Example], path: Path, seed: int, smoke: bool,
                 log: Callable[[str], None]) -> tuple[Path, str]:
    """Fine-tune the intent model and write it as INT8 ONNX to ``path``."""
    train, noisy = pool
    ood_train = [e for e in ood if e.split == "train"]
    own_other = [e.text for e in train if e.label == "other"]
    rng = random.Random(seed)
    aug = Augmenter(homophone_table(vocab.tokens), own_other, seed)
    label_id = {lab: i for i, lab in enumerate(INTENTS)}

    def epoch_data(_epoch: int) -> list[tuple[str, int]]:
        rows = [(e.text, label_id[e.label]) for e in train]
        rows += [(aug.variant(e.text), label_id[e.label]) for e in train for _ in range(2)]
        rows += [(e.text, label_id[e.label]) for e in noisy]
        rows += [(aug.variant(e.text), label_id[e.label]) for e in noisy]
        n_ood = min(len(ood_train), 60 if smoke else round(OOD_SHARE * len(rows)))
        rows += [(e.text, label_id["other"]) for e in rng.sample(ood_train, n_ood)]
        return rows

    dev = {"clean": load_intents("dev"), "asr": load_noisy_intents("dev"),
           "asr_kokoro": load_noisy_intents("dev", "kokoro")}
    dev = {k: v[::5] if smoke else v for k, v in dev.items() if v}

    def select(preds: dict[str, list[str]]) -> float:
        return sum(score([e.label for e in dev[k]], preds[k]).macro_f1 for k in dev) / len(dev)

    members, histories = [], []
    for k, start in enumerate((encoder, None)):
        how = "from the pre-trained encoder" if start is not None else "from scratch"
        log(f"intent member {k + 1}/4: transformer {how}")
        model, history = fit(cfg, vocab, INTENTS, epoch_data, dev, select, seed + k, log,
                             "other", encoder=start)
        members.append(model)
        histories.append({"kind": "transformer", "pretrained": start is not None, **history})
    log("intent member 3/4: bag of units, bigrams and sounds")
    bag_cfg = replace(cfg, **{**BAG_CONFIG, **({"epochs": cfg.epochs} if smoke else {})})
    bag, history = fit(bag_cfg, vocab, INTENTS, epoch_data, dev, select, seed + 2, log, "other",
                       model=build_bag(cfg, len(vocab), len(INTENTS)))
    members.append(bag)
    histories.append({"kind": "bag", **history})
    log("intent member 4/4: sound bag (sounds, sound pairs and triples; no characters)")
    sound_bag, history = fit(bag_cfg, vocab, INTENTS, epoch_data, dev, select, seed + 3, log,
                             "other", model=build_sound_bag(cfg, len(INTENTS)))
    members.append(sound_bag)
    histories.append({"kind": "sound_bag", **history})
    weights, by_weights = _bag_weights(members, vocab, cfg, dev)
    top = sorted(by_weights.items(), key=lambda kv: -kv[1][0])[:5]
    log("bag weights (bag, sound bag) on dev, best mean (clean): "
        + "  ".join(f"{w} {v[0]:.3f} ({v[1]:.3f})" for w, v in top)
        + f"  → {weights} {by_weights[weights][0]:.3f} ({by_weights[weights][1]:.3f})")
    model = _ensemble(members, _member_weights(*weights))
    scores = _dev_scores(model, vocab, cfg, dev, INTENTS, "other", _intent_dev_scores)
    log("intent ensemble dev " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    info = {"seed": seed, "config": asdict(cfg), "bag_config": asdict(bag_cfg),
            "members": histories, "bag_weight": weights[0], "sound_bag_weight": weights[1],
            "train_rows": len(train), "noisy_rows": len(noisy), "ood_rows": len(ood_train),
            "dev": {k: round(v, 4) for k, v in scores.items()}}
    export(model, vocab, INTENTS, cfg, "intent", info, path, log)
    return path, "dev macro-F1 " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items())


def _member_weights(bag_weight: float, sound_weight: float = 0.0) -> list[float]:
    """Ensemble weights of (pre-trained transformer, transformer from scratch, bag, sound
    bag): the bags get their weights and the transformers share the rest."""
    rest = (1 - bag_weight - sound_weight) / 2
    return [rest, rest, bag_weight, sound_weight]


def _bag_weights(members, vocab: CharVocab, cfg: ModelConfig, dev: dict[str, list[Example]]
                 ) -> tuple[tuple[float, float], dict[tuple[float, float], tuple[float, float]]]:
    """The (bag, sound bag) weights with the best mean dev macro-F1 over the clean text and
    the noisy copies, among the pairs whose clean dev macro-F1 stays within
    :data:`CLEAN_GUARD` of the best pair without the sound bag (ties: smaller weights).

    Returns:
        The chosen pair, and every pair's (mean, clean) dev macro-F1.
    """
    import torch

    encode = _Encoder(vocab, cfg)
    probs, rows = {}, {}
    with torch.no_grad():
        for k, examples in dev.items():
            rows[k] = [encode(e.text) for e in examples]
            batch = _tensor(rows[k], torch)
            probs[k] = [m.eval()(*batch).logits.softmax(-1) for m in members]
    by_weights: dict[tuple[float, float], tuple[float, float]] = {}
    for wb in BAG_WEIGHTS:
        for ws in SOUND_BAG_WEIGHTS:
            if wb + ws > MAX_BAG_SHARE + 1e-9:
                continue
            f1 = {}
            for k, examples in dev.items():
                p = sum(mw * mp for mw, mp in zip(_member_weights(wb, ws), probs[k],
                                                  strict=True))
                pred = _decide(rows[k], p.argmax(-1).tolist(), INTENTS, "other")
                f1[k] = score([e.label for e in examples], pred).macro_f1
            by_weights[(wb, ws)] = (round(sum(f1.values()) / len(f1), 6), round(f1["clean"], 6))
    no_sound = max((w for w in by_weights if w[1] == 0), key=lambda w: (by_weights[w][0], -w[0]))
    floor = by_weights[no_sound][1] - CLEAN_GUARD
    allowed = [w for w in by_weights if by_weights[w][1] >= floor - 1e-9]
    best = max(allowed, key=lambda w: (by_weights[w][0], -w[1], -w[0]))
    return best, {w: (round(v[0], 4), round(v[1], 4)) for w, v in by_weights.items()}


def _ensemble_class():
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class Ensemble(torch.nn.Module):
        """Weighted mean of the members' probabilities; ``logits`` are its logarithm."""

        def __init__(self, members, weights) -> None:
            super().__init__()
            self.members = torch.nn.ModuleList(members)
            self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32))

        def forward(self, input_ids, bigram_ids, sound_ids, attention_mask):
            probs = torch.stack([m(input_ids, bigram_ids, sound_ids, attention_mask)
                                 .logits.softmax(-1) for m in self.members])
            probs = (probs * self.weights[:, None, None]).sum(0)
            return SequenceClassifierOutput(logits=torch.log(probs + 1e-9))

    return Ensemble


def _ensemble(members, weights: Sequence[float] | None = None):
    weights = list(weights) if weights is not None else [1 / len(members)] * len(members)
    return _ensemble_class()(members, weights).eval()


def _dev_scores(model, vocab: CharVocab, cfg: ModelConfig, dev: dict[str, list[Example]],
                labels: Sequence[str], fallback: str, scorer) -> dict[str, float]:
    import torch

    encode = _Encoder(vocab, cfg)
    preds = {k: _predict(model, encode, [e.text for e in v], labels, fallback, torch)
             for k, v in dev.items()}
    return scorer(dev, preds)


def train_sentiment(cfg: ModelConfig, vocab: CharVocab, encoder: dict | None,
                    pool: dict[str, list[Example]], reviews: list[Example], path: Path,
                    seed: int, smoke: bool, log: Callable[[str], None]) -> tuple[Path, str]:
    """Fine-tune the sentiment model and write it as INT8 ONNX to ``path``."""
    rng = random.Random(seed)
    aug = Augmenter(homophone_table(vocab.tokens), [], seed)
    label_id = {lab: i for i, lab in enumerate(SENTIMENT_LABELS)}
    pos = [e for e in pool["reviews"] if e.label == "pos"]
    neg = [e for e in pool["reviews"] if e.label == "neg"]
    per_class = 40 if smoke else 3000

    def epoch_data(_epoch: int) -> list[tuple[str, int]]:
        rows = [(e.text, label_id[e.label]) for e in rng.sample(pos, min(per_class, len(pos)))]
        rows += [(e.text, label_id[e.label]) for e in rng.sample(neg, min(per_class, len(neg)))]
        for e in pool["own"] + pool["corpus"]:
            rows += [(e.text, label_id[e.label]), (aug.variant(e.text), label_id[e.label])]
        # counts the negative corpus rows too, so it is 0 with the current corpus; a fix
        # changes the model (tried, not shipped: docs/nlu.md)
        n_ood = max(0, per_class - 2 * len(pool["corpus"]))
        rows += [(e.text, label_id["neu"])
                 for e in rng.sample(pool["ood"], min(n_ood, len(pool["ood"])))]
        return rows

    dev_reviews = [e for e in reviews if e.split == "dev"]
    dev = {"own": load_sentiment("dev"), "reviews": dev_reviews[:: 1 if not smoke else 50]}

    def select(preds: dict[str, list[str]]) -> float:
        own = score([e.label for e in dev["own"]], preds["own"], SENTIMENT_LABELS).macro_f1
        rev = _polarity_accuracy(dev["reviews"], preds["reviews"])
        return (own + rev) / 2

    model, history = fit(cfg, vocab, SENTIMENT_LABELS, epoch_data, dev, select, seed, log,
                         "neu", scorer=_sentiment_dev_scores, encoder=encoder)
    info = {"seed": seed, "config": asdict(cfg), "pretrained": encoder is not None,
            "rows": {k: len(v) for k, v in pool.items()}, "best": history}
    export(model, vocab, SENTIMENT_LABELS, cfg, "sentiment", info, path, log)
    return path, (f"dev own-utterance macro-F1 {history['own']:.3f}, "
                  f"review polarity accuracy {history['reviews']:.3f}")


def _polarity_accuracy(examples: Sequence[Example], predicted: Sequence[str]) -> float:
    """Share of pos/neg reviews predicted with their own label (neutral counts as wrong)."""
    if not examples:
        return 0.0
    return sum(p == e.label for e, p in zip(examples, predicted, strict=True)) / len(examples)


def _sentiment_dev_scores(dev: dict[str, list[Example]],
                          preds: dict[str, list[str]]) -> dict[str, float]:
    return {"own": score([e.label for e in dev["own"]], preds["own"], SENTIMENT_LABELS).macro_f1,
            "reviews": _polarity_accuracy(dev["reviews"], preds["reviews"])}


def _intent_dev_scores(dev: dict[str, list[Example]],
                       preds: dict[str, list[str]]) -> dict[str, float]:
    return {k: score([e.label for e in dev[k]], preds[k]).macro_f1 for k in dev}


# -- training loop ----------------------------------------------------------------------------

Features = tuple[list[int], list[int], list[int]]
"""Unit ids, bigram ids and sound ids of one text (equal length, ``[CLS]`` first)."""


def _bert_config(cfg: ModelConfig, vocab_size: int, num_labels: int = 2):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads, intermediate_size=cfg.ffn,
        max_position_embeddings=POSITIONS, num_labels=num_labels, pad_token_id=0,
        hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout,
        type_vocab_size=1,
    )


def _with_bigrams(inner, cfg: ModelConfig):
    """Wrap a transformers BERT head model so its input embedding adds hashed bigrams and
    hashed sounds (each table only when its bucket count is not 0)."""
    import torch

    def table(buckets: int):
        if not buckets:
            return None
        emb = torch.nn.Embedding(buckets, cfg.hidden, padding_idx=0)
        torch.nn.init.normal_(emb.weight, std=0.02)
        with torch.no_grad():
            emb.weight[0].zero_()
        return emb

    class WithBigrams(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.bigram = table(cfg.bigram_buckets)
            self.sound = table(cfg.sound_buckets)

        def forward(self, input_ids, bigram_ids, sound_ids, attention_mask, labels=None):
            emb = self.inner.bert.embeddings.word_embeddings(input_ids)
            if self.bigram is not None:
                emb = emb + self.bigram(bigram_ids)
            if self.sound is not None:
                emb = emb + self.sound(sound_ids)
            return self.inner(inputs_embeds=emb, attention_mask=attention_mask, labels=labels)

    return WithBigrams()


def build_model(cfg: ModelConfig, vocab_size: int, num_labels: int,
                encoder: dict | None = None):
    """A BERT-style classifier over our character vocabulary (+ hashed bigrams).

    Args:
        encoder: Pre-trained encoder weights of :func:`pretrain`; random initialisation
            when None.
    """
    from transformers import BertForSequenceClassification

    model = _with_bigrams(BertForSequenceClassification(
        _bert_config(cfg, vocab_size, num_labels)), cfg)
    if encoder is not None:
        missing, unexpected = model.load_state_dict(encoder, strict=False)
        head = ("inner.bert.pooler", "inner.classifier")
        if unexpected or any(not k.startswith(head) for k in missing):
            raise NluError("pre-trained encoder does not fit the model configuration")
    return model


def _class_table(n: int, num_labels: int):
    """A zero-initialised table of one weight per class for each of ``n`` features (id 0 is
    padding and stays zero): the feature weights of a linear bag member."""
    import torch

    emb = torch.nn.Embedding(max(1, n), num_labels, padding_idx=0)
    torch.nn.init.zeros_(emb.weight)
    return emb


def build_bag(cfg: ModelConfig, vocab_size: int, num_labels: int):
    """A linear classifier over the bag of units, hashed bigrams and hashed sounds.

    Every feature has one weight per class; the logits are the feature weights summed over
    the turn and divided by the square root of its length (a fastText-style model without a
    hidden layer, close to the TF-IDF + logistic-regression baseline). Same inputs as
    :func:`build_model`, so it joins the ensemble in one graph.
    """
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class BagOfUnits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unit = _class_table(vocab_size, num_labels)
            self.bigram = _class_table(cfg.bigram_buckets, num_labels)
            self.sound = _class_table(cfg.sound_buckets, num_labels)
            self.bias = torch.nn.Parameter(torch.zeros(num_labels))

        def forward(self, input_ids, bigram_ids, sound_ids, attention_mask, labels=None):
            feats = self.unit(input_ids)
            if cfg.bigram_buckets:
                feats = feats + self.bigram(bigram_ids)
            if cfg.sound_buckets:
                feats = feats + self.sound(sound_ids)
            mask = attention_mask.unsqueeze(-1).to(feats.dtype)
            length = mask.sum(1).clamp(min=1.0)
            return SequenceClassifierOutput(
                logits=(feats * mask).sum(1) / length.sqrt() + self.bias)

    return BagOfUnits()


def build_sound_bag(cfg: ModelConfig, num_labels: int):
    """A linear classifier over folded sounds only: single sounds, pairs and triples.

    It never reads the characters, so a homophone Whisper writes over a phone line (钉钉 →
    定定, 特贵 → 特规) gives it the same input as the word that was said; pairs and triples
    stand in for words (jia ge, xu fei, bu xu yao). The pairs and triples are hashed inside the
    graph from ``sound_ids``, so the runtime feeds what it feeds every member. Logits are the
    feature weights summed over the turn and divided by the square root of the feature count.
    """
    import torch
    import torch.nn.functional as F
    from transformers.modeling_outputs import SequenceClassifierOutput

    pair_buckets, triple_buckets = SOUND_GRAM_BUCKETS
    # above every sound id while sound_buckets ≤ 2053 (2048 shipped): a pair is unique before
    # the modulo; a larger table only adds hash collisions
    prime = 2053

    class SoundBag(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.single = _class_table(cfg.sound_buckets, num_labels)
            self.pair = _class_table(pair_buckets, num_labels)
            self.triple = _class_table(triple_buckets, num_labels)
            self.bias = torch.nn.Parameter(torch.zeros(num_labels))

        def forward(self, input_ids, bigram_ids, sound_ids, attention_mask, labels=None):
            s = sound_ids * attention_mask
            nxt = F.pad(s[:, 1:], (0, 1))
            nxt2 = F.pad(s[:, 2:], (0, 2))
            has1 = (s > 0).long()
            has2 = has1 * (nxt > 0).long()
            has3 = has2 * (nxt2 > 0).long()
            pair = ((s * prime + nxt) % (pair_buckets - 1) + 1) * has2
            triple = (((s * prime + nxt) * prime + nxt2) % (triple_buckets - 1) + 1) * has3
            total = (self.single(s).sum(1) + self.pair(pair).sum(1)
                     + self.triple(triple).sum(1))
            count = (has1.sum(1) + has2.sum(1) + has3.sum(1)).clamp(min=1).to(total.dtype)
            return SequenceClassifierOutput(logits=total / count.sqrt()[:, None] + self.bias)

    return SoundBag()


def pretrain(cfg: ModelConfig, vocab: CharVocab, texts: Sequence[str], seed: int,
             log: Callable[[str], None], cache: Path | None = None) -> dict:
    """Masked-language-model pre-training of the shared character encoder.

    15 % of the units of each text are chosen; 80 % of those become ``[MASK]``, 10 % a
    random unit, 10 % stay. The bigrams that touch a chosen unit and its sound are blanked,
    else they would give the answer away. Uses only the train parts of every corpus.

    Args:
        cache: Load the weights from here when it holds an encoder for the same vocabulary
            and configuration; otherwise save them there after training.

    Returns:
        The encoder weights (``inner.bert.*``, ``bigram.*`` and ``sound.*``).
    """
    import torch
    from transformers import BertForMaskedLM

    key = {"vocab": list(vocab.tokens), "config": asdict(cfg), "seed": seed, "n": len(texts)}
    if cache is not None and cache.is_file():
        saved = torch.load(cache, weights_only=False)
        if saved.get("key") == key:
            log(f"pre-trained encoder loaded from {cache}")
            return saved["encoder"]
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = _with_bigrams(BertForMaskedLM(_bert_config(cfg, len(vocab))), cfg)
    encode = _Encoder(vocab, cfg, cache_limit=0)
    encoded = [f for f in (encode(t) for t in texts) if len(f[0]) > 2]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * ((len(encoded) + cfg.batch - 1) // cfg.batch)
    sched = _schedule(opt, cfg, steps, torch)
    n_special = len(SPECIALS)
    mask_id = vocab.tokens.index(MASK)
    log(f"pre-training: {len(encoded)} texts, {cfg.epochs} epochs, {steps} steps")
    for epoch in range(cfg.epochs):
        model.train()
        t0, total, n = time.perf_counter(), 0.0, 0
        for idx in _batches([len(f[0]) for f in encoded], cfg.batch, rng):
            ids, bigrams, sounds, att = _tensor([encoded[i] for i in idx], torch)
            chosen = (torch.rand(ids.shape) < 0.15) & (ids >= n_special)
            if not chosen.any():
                continue
            labels = torch.where(chosen, ids, torch.full_like(ids, -100))
            roll = torch.rand(ids.shape)
            inputs = ids.masked_fill(chosen & (roll < 0.8), mask_id)
            swap = chosen & (roll >= 0.8) & (roll < 0.9)
            inputs = torch.where(swap, torch.randint(n_special, len(vocab), ids.shape), inputs)
            leak = chosen.clone()
            leak[:, :-1] |= chosen[:, 1:]  # bigram i covers units i and i+1
            bigrams = bigrams.masked_fill(leak, 0)
            sounds = sounds.masked_fill(chosen, 0)
            loss = model(inputs, bigrams, sounds, att, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total, n = total + loss.item(), n + 1
            if n % 200 == 0:
                log(f"pre-training epoch {epoch + 1}: step {n}, loss {total / n:.3f}")
        log(f"pre-training epoch {epoch + 1}/{cfg.epochs}  loss {total / max(1, n):.3f}  "
            f"({time.perf_counter() - t0:.0f} s)")
    encoder = {k: v.detach().clone() for k, v in model.state_dict().items()
               if k.startswith(("inner.bert.", "bigram.", "sound."))}
    if cache is not None:
        torch.save({"key": key, "encoder": encoder}, cache)
    return encoder


def _schedule(opt, cfg: ModelConfig, steps: int, torch):
    """Linear warm-up, then linear decay to 5 % of the peak learning rate."""
    warm = max(1, int(cfg.warmup * steps))
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.05, 1 - s / max(1, steps)))


class _Encoder:
    """Normalise + clip + ids + bigram and sound ids, with a cache (exactly what the runtime
    feeds)."""

    def __init__(self, vocab: CharVocab, cfg: ModelConfig, cache_limit: int = 200_000) -> None:
        from tierline.nlu.pipeline import normalize

        self.vocab, self.cfg, self.normalize = vocab, cfg, normalize
        self.cache: dict[str, Features] = {}
        self.cache_limit = cache_limit

    def __call__(self, text: str) -> Features:
        feats = self.cache.get(text)
        if feats is None:
            seq = clip_units(self.normalize(text), self.cfg.max_len)
            buckets, sounds = self.cfg.bigram_buckets, self.cfg.sound_buckets
            ids = self.vocab.ids(seq)
            feats = (ids, bigram_ids(seq, buckets) if buckets else [0] * len(ids),
                     sound_ids(seq, sounds) if sounds else [0] * len(ids))
            if len(self.cache) < self.cache_limit:
                self.cache[text] = feats
        return feats


def _batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within chunks of 50 batches)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = size * 50
    batches = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda i: lengths[i])
        batches += [part[k:k + size] for k in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


def _tensor(rows: list[Features], torch):
    """Padded ``(ids, bigram ids, sound ids, attention mask)``."""
    width = max(len(r[0]) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    bigrams = torch.zeros((len(rows), width), dtype=torch.long)
    sounds = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (a, b, c) in enumerate(rows):
        ids[i, :len(a)] = torch.tensor(a, dtype=torch.long)
        bigrams[i, :len(b)] = torch.tensor(b, dtype=torch.long)
        sounds[i, :len(c)] = torch.tensor(c, dtype=torch.long)
        mask[i, :len(a)] = 1
    return ids, bigrams, sounds, mask


def _predict(model, encode: _Encoder, texts: Sequence[str], labels: Sequence[str],
             fallback: str, torch, batch: int = 128) -> list[str]:
    model.eval()
    out: list[str] = []
    with torch.no_grad():
        for s in range(0, len(texts), batch):
            rows = [encode(t) for t in texts[s:s + batch]]
            logits = model(*_tensor(rows, torch)).logits
            out += _decide(rows, logits.argmax(-1).tolist(), labels, fallback)
    return out


def _decide(rows: Sequence[Features], best: Sequence[int], labels: Sequence[str],
            fallback: str) -> list[str]:
    """The label of each row's best class; a row with no readable unit gets ``fallback``,
    as the runtime answers it."""
    return [labels[k] if len(row[0]) > 1 else fallback for row, k in zip(rows, best, strict=True)]


def fit(cfg: ModelConfig, vocab: CharVocab, labels: Sequence[str],
        epoch_data: Callable[[int], list[tuple[str, int]]], dev: dict[str, list[Example]],
        select: Callable[[dict[str, list[str]]], float], seed: int,
        log: Callable[[str], None], fallback: str, scorer=None, encoder: dict | None = None,
        model=None):
    """Train for ``cfg.epochs`` epochs; return the best model (by ``select`` on dev).

    Args:
        model: The untrained model (default: :func:`build_model` from ``encoder``).

    Returns:
        ``(model, best)`` where ``best`` holds the chosen epoch and its dev scores.
    """
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    scorer = scorer or _intent_dev_scores
    encode = _Encoder(vocab, cfg)
    if model is None:
        model = build_model(cfg, len(vocab), len(labels), encoder)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    first = epoch_data(0)
    steps = cfg.epochs * ((len(first) + cfg.batch - 1) // cfg.batch)
    sched = _schedule(opt, cfg, steps, torch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    unk_id = vocab.tokens.index(UNK)
    best_value, best_state, best = -1.0, None, {}
    for epoch in range(cfg.epochs):
        data = first if epoch == 0 else epoch_data(epoch)
        encoded = [(encode(t), y) for t, y in data]
        model.train()
        t0, total = time.perf_counter(), 0.0
        for idx in _batches([len(f[0]) for f, _ in encoded], cfg.batch, rng):
            ids, bigrams, sounds, mask = _tensor([encoded[i][0] for i in idx], torch)
            if cfg.unk_rate:  # unseen characters: the unit and its bigrams are unknown
                drop = (torch.rand(ids.shape) < cfg.unk_rate) & (mask > 0)
                drop[:, 0] = False
                ids = ids.masked_fill(drop, unk_id)
                bigrams = bigrams.masked_fill(drop | (torch.rand(ids.shape) < cfg.unk_rate), 0)
            y = torch.tensor([encoded[i][1] for i in idx], dtype=torch.long)
            loss = loss_fn(model(ids, bigrams, sounds, mask).logits, y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        preds = {k: _predict(model, encode, [e.text for e in v], labels, fallback, torch)
                 for k, v in dev.items()}
        value = select(preds)
        scores = scorer(dev, preds)
        log(f"epoch {epoch + 1}/{cfg.epochs}  loss {total / len(encoded):.4f}  dev "
            + "  ".join(f"{k} {v:.3f}" for k, v in scores.items())
            + f"  ({time.perf_counter() - t0:.0f} s, {len(encoded)} rows)")
        if value > best_value:
            best_value = value
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = {"epoch": epoch + 1, **{k: round(v, 4) for k, v in scores.items()}}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    log(f"kept epoch {best['epoch']}")
    return model, best


# -- export -----------------------------------------------------------------------------------

def export(model, vocab: CharVocab, labels: Sequence[str], cfg: ModelConfig, kind: str,
           info: dict, path: Path, log: Callable[[str], None]) -> None:
    """Export to ONNX, quantise weights to INT8 and embed the metadata."""
    import tempfile
    import warnings

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Logits(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, bigram_ids, sound_ids, attention_mask):
            return self.inner(input_ids, bigram_ids, sound_ids, attention_mask).logits

    model.eval()
    ids, bigrams, sounds, mask = _tensor([_Encoder(vocab, cfg)("您好我想问一下价格")], torch)
    names = ["input_ids", "bigram_ids", "sound_ids", "attention_mask"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = Path(tmp) / "model.onnx"
        int8 = Path(tmp) / "model.int8.onnx"
        torch.onnx.export(Logits(model), (ids, bigrams, sounds, mask), str(fp32),
                          input_names=names,
                          output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # int64 hashing in the sound bag: not weights
        try:
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(quiet)
        proto = onnx.load(str(int8))
        unused = {n for n, b in (("bigram_ids", cfg.bigram_buckets),
                                 ("sound_ids", cfg.sound_buckets)) if not b}
        if unused:  # the graph keeps unused inputs: drop them
            keep = [i for i in proto.graph.input if i.name not in unused]
            del proto.graph.input[:]
            proto.graph.input.extend(keep)
        meta = {"format": FORMAT, "kind": kind, "labels": json.dumps(list(labels)),
                "vocab": json.dumps(list(vocab.tokens), ensure_ascii=False),
                "max_len": str(cfg.max_len), "bigram_buckets": str(cfg.bigram_buckets),
                "sound_buckets": str(cfg.sound_buckets),
                "info": json.dumps(info, ensure_ascii=False)}
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        proto.producer_name = "tierline.nlu.training.train"
        onnx.save(proto, str(path))
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
