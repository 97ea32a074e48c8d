"""The four members of the NLU models and the ensemble that joins them in one graph.

Every member takes the same four inputs (unit ids, bigram ids, sound ids, attention mask) and
returns a ``SequenceClassifierOutput``, so any of them, or their :class:`Ensemble`, exports
to the one ONNX signature the runtime feeds:

- :func:`build_model`: a small BERT (``transformers`` classes, random initialisation, our
  own vocabulary; nothing is downloaded) whose input embedding adds hashed bigrams and
  hashed sounds (:class:`WithBigrams`); also the masked-LM head of pre-training
  (:func:`build_masked_lm`).
- :class:`BagOfUnits`: a linear bag of units, bigrams and sounds.
- :class:`SoundBag`: a linear bag of folded sounds, sound pairs and triples.
"""

from __future__ import annotations

from collections.abc import Sequence

from tierline.nlu.errors import NluError
from tierline.nlu.training.config import POSITIONS, SOUND_GRAM_BUCKETS, ModelConfig
from tierline.nlu.training.train_extra import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    F,
    SequenceClassifierOutput,
    nn,
    torch,
)

__all__ = ["BagOfUnits", "Ensemble", "SoundBag", "WithBigrams", "bert_config",
           "build_masked_lm", "build_model", "class_table"]

SOUND_PRIME = 2053
"""Multiplier of the sound bag's pair and triple hashes: above every sound id while
sound_buckets ≤ 2053 (2048 shipped), so a pair is unique before the modulo; a larger table
only adds hash collisions."""


def bert_config(cfg: ModelConfig, vocab_size: int, num_labels: int = 2) -> BertConfig:
    """The ``transformers`` configuration of a BERT of ``cfg``'s shape over our vocabulary."""
    return BertConfig(
        vocab_size=vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads, intermediate_size=cfg.ffn,
        max_position_embeddings=POSITIONS, num_labels=num_labels, pad_token_id=0,
        hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout,
        type_vocab_size=1,
    )


def _hashed_table(buckets: int, hidden: int) -> nn.Embedding | None:
    if not buckets:
        return None
    emb = nn.Embedding(buckets, hidden, padding_idx=0)
    nn.init.normal_(emb.weight, std=0.02)
    with torch.no_grad():
        emb.weight[0].zero_()
    return emb


class WithBigrams(nn.Module):
    """A transformers BERT head model whose input embedding adds hashed bigrams and hashed
    sounds (each table only when its bucket count is not 0)."""

    def __init__(self, inner: nn.Module, cfg: ModelConfig) -> None:
        super().__init__()
        self.inner = inner
        self.bigram = _hashed_table(cfg.bigram_buckets, cfg.hidden)
        self.sound = _hashed_table(cfg.sound_buckets, cfg.hidden)

    def forward(self, input_ids, bigram_ids, sound_ids, attention_mask, labels=None):
        emb = self.inner.bert.embeddings.word_embeddings(input_ids)
        if self.bigram is not None:
            emb = emb + self.bigram(bigram_ids)
        if self.sound is not None:
            emb = emb + self.sound(sound_ids)
        return self.inner(inputs_embeds=emb, attention_mask=attention_mask, labels=labels)


def build_masked_lm(cfg: ModelConfig, vocab_size: int) -> WithBigrams:
    """The masked-language model that pre-trains the shared encoder."""
    return WithBigrams(BertForMaskedLM(bert_config(cfg, vocab_size)), cfg)


def build_model(cfg: ModelConfig, vocab_size: int, num_labels: int,
                encoder: dict | None = None) -> WithBigrams:
    """A BERT-style classifier over our character vocabulary (+ hashed bigrams).

    Args:
        encoder: Pre-trained encoder weights of
            :func:`~tierline.nlu.training.pretrain.pretrain`; random initialisation when None.

    Raises:
        NluError: ``encoder`` does not fit ``cfg``.
    """
    model = WithBigrams(BertForSequenceClassification(
        bert_config(cfg, vocab_size, num_labels)), cfg)
    if encoder is not None:
        missing, unexpected = model.load_state_dict(encoder, strict=False)
        head = ("inner.bert.pooler", "inner.classifier")
        if unexpected or any(not k.startswith(head) for k in missing):
            raise NluError("pre-trained encoder does not fit the model configuration")
    return model


def class_table(n: int, num_labels: int) -> nn.Embedding:
    """A zero-initialised table of one weight per class for each of ``n`` features (id 0 is
    padding and stays zero): the feature weights of a linear bag member."""
    emb = nn.Embedding(max(1, n), num_labels, padding_idx=0)
    nn.init.zeros_(emb.weight)
    return emb


class BagOfUnits(nn.Module):
    """A linear classifier over the bag of units, hashed bigrams and hashed sounds.

    Every feature has one weight per class; the logits are the feature weights summed over
    the turn and divided by the square root of its length (a fastText-style model without a
    hidden layer, close to the TF-IDF + logistic-regression baseline). Same inputs as
    :func:`build_model`, so it joins the ensemble in one graph.
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, num_labels: int) -> None:
        super().__init__()
        self.unit = class_table(vocab_size, num_labels)
        self.bigram = class_table(cfg.bigram_buckets, num_labels)
        self.sound = class_table(cfg.sound_buckets, num_labels)
        self.bias = nn.Parameter(torch.zeros(num_labels))
        self.use_bigrams, self.use_sounds = bool(cfg.bigram_buckets), bool(cfg.sound_buckets)

    def forward(self, input_ids, bigram_ids, sound_ids, attention_mask, labels=None):
        feats = self.unit(input_ids)
        if self.use_bigrams:
            feats = feats + self.bigram(bigram_ids)
        if self.use_sounds:
            feats = feats + self.sound(sound_ids)
        mask = attention_mask.unsqueeze(-1).to(feats.dtype)
        length = mask.sum(1).clamp(min=1.0)
        return SequenceClassifierOutput(
            logits=(feats * mask).sum(1) / length.sqrt() + self.bias)


class SoundBag(nn.Module):
    """A linear classifier over folded sounds only: single sounds, pairs and triples.

    It never reads the characters, so a homophone Whisper writes over a phone line (钉钉 →
    定定, 特贵 → 特规) gives it the same input as the word that was said; pairs and triples
    stand in for words (jia ge, xu fei, bu xu yao). The pairs and triples are hashed inside the
    graph from ``sound_ids``, so the runtime feeds what it feeds every member. Logits are the
    feature weights summed over the turn and divided by the square root of the feature count.
    """

    def __init__(self, cfg: ModelConfig, num_labels: int) -> None:
        super().__init__()
        self.pair_buckets, self.triple_buckets = SOUND_GRAM_BUCKETS
        self.single = class_table(cfg.sound_buckets, num_labels)
        self.pair = class_table(self.pair_buckets, num_labels)
        self.triple = class_table(self.triple_buckets, num_labels)
        self.bias = nn.Parameter(torch.zeros(num_labels))

    def forward(self, input_ids, bigram_ids, sound_ids, attention_mask, labels=None):
        prime = SOUND_PRIME
        s = sound_ids * attention_mask
        nxt = F.pad(s[:, 1:], (0, 1))
        nxt2 = F.pad(s[:, 2:], (0, 2))
        has1 = (s > 0).long()
        has2 = has1 * (nxt > 0).long()
        has3 = has2 * (nxt2 > 0).long()
        pair = ((s * prime + nxt) % (self.pair_buckets - 1) + 1) * has2
        triple = (((s * prime + nxt) * prime + nxt2) % (self.triple_buckets - 1) + 1) * has3
        total = (self.single(s).sum(1) + self.pair(pair).sum(1)
                 + self.triple(triple).sum(1))
        count = (has1.sum(1) + has2.sum(1) + has3.sum(1)).clamp(min=1).to(total.dtype)
        return SequenceClassifierOutput(logits=total / count.sqrt()[:, None] + self.bias)


class Ensemble(nn.Module):
    """Weighted mean of the members' probabilities; ``logits`` are its logarithm."""

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", torch.tensor(list(weights), dtype=torch.float32))

    def forward(self, input_ids, bigram_ids, sound_ids, attention_mask):
        probs = torch.stack([m(input_ids, bigram_ids, sound_ids, attention_mask)
                             .logits.softmax(-1) for m in self.members])
        probs = (probs * self.weights[:, None, None]).sum(0)
        return SequenceClassifierOutput(logits=torch.log(probs + 1e-9))
