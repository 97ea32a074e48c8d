"""Text to model inputs: unit, bigram and sound ids, batched by length and padded to tensors.

:class:`FeatureEncoder` computes exactly what the runtime feeds the ONNX graph
(:mod:`tierline.nlu.onnx_models`), so training, dev scoring and export read text the same way.
Pre-training, the fine-tuning loop, the ensemble weight search and export all batch through
here.
"""

from __future__ import annotations

import random

from tierline.nlu.chars import CharVocab, bigram_ids, clip_units, sound_ids
from tierline.nlu.pipeline import normalize
from tierline.nlu.training.config import ModelConfig
from tierline.nlu.training.train_extra import torch

__all__ = ["FeatureEncoder", "Features", "length_batches", "padded"]

Features = tuple[list[int], list[int], list[int]]
"""Unit ids, bigram ids and sound ids of one text (equal length, ``[CLS]`` first)."""


class FeatureEncoder:
    """Normalise + clip + ids + bigram and sound ids, with a cache (exactly what the runtime
    feeds)."""

    def __init__(self, vocab: CharVocab, cfg: ModelConfig, cache_limit: int = 200_000) -> None:
        self.vocab, self.cfg = vocab, cfg
        self.cache: dict[str, Features] = {}
        self.cache_limit = cache_limit

    def __call__(self, text: str) -> Features:
        feats = self.cache.get(text)
        if feats is None:
            seq = clip_units(normalize(text), self.cfg.max_len)
            buckets, sounds = self.cfg.bigram_buckets, self.cfg.sound_buckets
            ids = self.vocab.ids(seq)
            feats = (ids, bigram_ids(seq, buckets) if buckets else [0] * len(ids),
                     sound_ids(seq, sounds) if sounds else [0] * len(ids))
            if len(self.cache) < self.cache_limit:
                self.cache[text] = feats
        return feats


def length_batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
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


def padded(rows: list[Features]) -> tuple[torch.Tensor, ...]:
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
