"""`tierline train nlu`: train the intent and sentiment models and ship them as INT8 ONNX.

This module is the command only (flags and the order of the steps); each step is a module of
its own, so a reader finds one idea per file and torch stays out of ``tierline --help``:

- :mod:`~tierline.nlu.training.config`: every setting of a run (model shapes, optimisation,
  ensemble weight grid, smoke overrides);
- :mod:`~tierline.nlu.training.pools`: the training rows of each model and the shared
  vocabulary;
- :mod:`~tierline.nlu.training.features`: text to the unit, bigram and sound ids the runtime
  feeds, batched and padded;
- :mod:`~tierline.nlu.training.architectures`: the BERT, bag, sound-bag and ensemble models;
- :mod:`~tierline.nlu.training.pretrain`: masked-unit pre-training of the shared encoder;
- :mod:`~tierline.nlu.training.loop`: the fine-tuning loop with dev epoch selection;
- :mod:`~tierline.nlu.training.intent` and :mod:`~tierline.nlu.training.sentiment`: the two
  trainers (data per epoch, dev sets, what is kept);
- :mod:`~tierline.nlu.training.export`: ONNX export, INT8 quantisation, metadata;
- :mod:`~tierline.nlu.training.train_extra`: torch, transformers and onnx, imported there
  only.

Both models are small character-level transformers (``transformers`` BERT classes with random
initialisation and our own vocabulary; nothing is downloaded) that read characters, number
magnitude tokens, hashed character bigrams and hashed folded pinyin sounds
(:mod:`tierline.nlu.chars`). The run is seeded: the same seed, thread count and data give the
same models, byte for byte.

1. Pre-training: one shared encoder learns masked-unit prediction on the train parts of all
   text (reviews, SMP2017, CrossWOZ, our corpus).
2. Intent model: an ensemble of four members in one ONNX graph (two transformers, a bag of
   units and a bag of sounds), trained on our corpus, its augmented variants, its noisy-ASR
   copies and out-of-domain queries as ``other``.
3. Sentiment model: fine-tuned from the encoder on reviews, our hand-labelled utterances and
   intent-corpus rows labelled by intent. Score = ``P(pos) - P(neg)``.

The steps' modules import torch through :mod:`~tierline.nlu.training.train_extra`, and
:func:`run` imports them, so this module loads (for ``add_arguments``) without the ``train``
extra and a missing extra is one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tierline.nlu.data import load_ood_other, load_reviews, shared_data_dir
from tierline.nlu.errors import NluError
from tierline.nlu.training.config import (
    INTENT_CONFIG,
    PRETRAIN_CONFIG,
    SENTIMENT_CONFIG,
    SMOKE,
    ModelConfig,
)

__all__ = ["add_arguments", "run"]


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


def run(args: argparse.Namespace) -> int:
    """Pre-train the encoder, fine-tune both models, export INT8 ONNX. Returns 0.

    Raises:
        NluError: the ``train`` extra is missing, a flag is out of range, or the data or the
            output directory cannot be read or created.
    """
    # these imports raise NluError, before any work, when the train extra is missing
    from tierline.nlu.training.intent import train_intent
    from tierline.nlu.training.pools import (
        intent_training_pool,
        pretraining_texts,
        sentiment_training_pool,
        shared_vocab,
    )
    from tierline.nlu.training.pretrain import pretrain
    from tierline.nlu.training.sentiment import train_sentiment
    from tierline.nlu.training.train_extra import torch

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

    encoder = None
    if not args.no_pretrain:
        texts = pretraining_texts(intent_pool, sent_pool, ood)
        encoder = pretrain(_sized(PRETRAIN_CONFIG, args), vocab, texts, args.seed, log,
                           Path(args.encoder_cache) if args.encoder_cache else None)
    if args.only in (None, "intent"):
        path, summary = train_intent(_sized(INTENT_CONFIG, args), vocab, encoder, intent_pool,
                                     ood, out / "intent.int8.onnx", args.seed, args.smoke, log)
        print(f"intent model: {path} ({path.stat().st_size / 1e6:.2f} MB)  {summary}")
    if args.only in (None, "sentiment"):
        path, summary = train_sentiment(_sized(SENTIMENT_CONFIG, args), vocab, encoder,
                                        sent_pool, reviews, out / "sentiment.int8.onnx",
                                        args.seed, args.smoke, log)
        print(f"sentiment model: {path} ({path.stat().st_size / 1e6:.2f} MB)  {summary}")
    return 0


def _sized(cfg: ModelConfig, args: argparse.Namespace) -> ModelConfig:
    """``cfg`` with the ``--epochs`` override, shrunk to the smoke sizes under ``--smoke``."""
    cfg = replace(cfg, epochs=args.epochs or cfg.epochs)
    return replace(cfg, **SMOKE, epochs=args.epochs or 1) if args.smoke else cfg


def _logger() -> Callable[[str], None]:
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    return log
