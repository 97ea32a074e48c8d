"""Masked-language-model pre-training of the character encoder both NLU models start from.

One encoder (unit, bigram and sound embeddings and the BERT layers) learns on the train parts
of all text (reviews, SMP2017, CrossWOZ, our corpus); the intent and sentiment trainers load
its weights into their classifiers (:func:`~tierline.nlu.training.architectures.build_model`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from tierline.nlu.chars import MASK, SPECIALS, CharVocab
from tierline.nlu.training.architectures import build_masked_lm
from tierline.nlu.training.config import ModelConfig
from tierline.nlu.training.features import FeatureEncoder, length_batches, padded
from tierline.nlu.training.loop import schedule
from tierline.nlu.training.train_extra import nn, torch

__all__ = ["pretrain"]


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
    key = {"vocab": list(vocab.tokens), "config": asdict(cfg), "seed": seed, "n": len(texts)}
    if cache is not None and cache.is_file():
        saved = torch.load(cache, weights_only=False)
        if saved.get("key") == key:
            log(f"pre-trained encoder loaded from {cache}")
            return saved["encoder"]
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = build_masked_lm(cfg, len(vocab))
    encode = FeatureEncoder(vocab, cfg, cache_limit=0)
    encoded = [f for f in (encode(t) for t in texts) if len(f[0]) > 2]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * ((len(encoded) + cfg.batch - 1) // cfg.batch)
    sched = schedule(opt, cfg, steps)
    n_special = len(SPECIALS)
    mask_id = vocab.tokens.index(MASK)
    log(f"pre-training: {len(encoded)} texts, {cfg.epochs} epochs, {steps} steps")
    for epoch in range(cfg.epochs):
        model.train()
        t0, total, n = time.perf_counter(), 0.0, 0
        for idx in length_batches([len(f[0]) for f in encoded], cfg.batch, rng):
            ids, bigrams, sounds, att = padded([encoded[i] for i in idx])
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
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
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
