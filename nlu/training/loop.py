"""The fine-tuning loop shared by both trainers: fit for a number of epochs, keep the epoch
that scores best on dev, and the prediction and scoring helpers it uses.

What to train on (``epoch_data``), how to pick an epoch (``select``) and what to report
(``scorer``) come from the caller (:mod:`~tierline.nlu.training.intent`,
:mod:`~tierline.nlu.training.sentiment`); this module knows nothing of intents or sentiment.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from tierline.nlu.chars import UNK, CharVocab
from tierline.nlu.data import Example
from tierline.nlu.training.architectures import build_model
from tierline.nlu.training.config import ModelConfig
from tierline.nlu.training.features import FeatureEncoder, Features, length_batches, padded
from tierline.nlu.training.train_extra import nn, torch

__all__ = ["DevScorer", "decide", "dev_scores", "fit", "predict", "schedule"]

DevScorer = Callable[[dict[str, list[Example]], dict[str, list[str]]], dict[str, float]]
"""Scores by dev set name from the dev rows and the predicted labels."""


def schedule(opt: torch.optim.Optimizer, cfg: ModelConfig,
             steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then linear decay to 5 % of the peak learning rate."""
    warm = max(1, int(cfg.warmup * steps))
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.05, 1 - s / max(1, steps)))


def predict(model: nn.Module, encode: FeatureEncoder, texts: Sequence[str],
            labels: Sequence[str], fallback: str, batch: int = 128) -> list[str]:
    """The predicted label of each text (see :func:`decide`)."""
    model.eval()
    out: list[str] = []
    with torch.no_grad():
        for s in range(0, len(texts), batch):
            rows = [encode(t) for t in texts[s:s + batch]]
            logits = model(*padded(rows)).logits
            out += decide(rows, logits.argmax(-1).tolist(), labels, fallback)
    return out


def decide(rows: Sequence[Features], best: Sequence[int], labels: Sequence[str],
           fallback: str) -> list[str]:
    """The label of each row's best class; a row with no readable unit gets ``fallback``,
    as the runtime answers it."""
    return [labels[k] if len(row[0]) > 1 else fallback for row, k in zip(rows, best, strict=True)]


def dev_scores(model: nn.Module, vocab: CharVocab, cfg: ModelConfig,
               dev: dict[str, list[Example]], labels: Sequence[str], fallback: str,
               scorer: DevScorer) -> dict[str, float]:
    """``scorer`` over ``model``'s predictions on every dev set."""
    encode = FeatureEncoder(vocab, cfg)
    preds = {k: predict(model, encode, [e.text for e in v], labels, fallback)
             for k, v in dev.items()}
    return scorer(dev, preds)


def fit(cfg: ModelConfig, vocab: CharVocab, labels: Sequence[str],
        epoch_data: Callable[[int], list[tuple[str, int]]], dev: dict[str, list[Example]],
        select: Callable[[dict[str, list[str]]], float], seed: int,
        log: Callable[[str], None], fallback: str, scorer: DevScorer,
        encoder: dict | None = None, model: nn.Module | None = None
        ) -> tuple[nn.Module, dict]:
    """Train for ``cfg.epochs`` epochs; return the best model (by ``select`` on dev).

    Args:
        epoch_data: The ``(text, label id)`` rows of an epoch, by epoch number.
        select: The dev value the kept epoch maximises, from the predictions by dev set.
        fallback: The label of a text with no readable unit.
        scorer: The dev scores logged each epoch and returned for the kept one.
        encoder: Pre-trained encoder weights for the default model.
        model: The untrained model (default: :func:`build_model` from ``encoder``).

    Returns:
        ``(model, best)`` where ``best`` holds the chosen epoch and its dev scores.
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    encode = FeatureEncoder(vocab, cfg)
    if model is None:
        model = build_model(cfg, len(vocab), len(labels), encoder)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    first = epoch_data(0)
    steps = cfg.epochs * ((len(first) + cfg.batch - 1) // cfg.batch)
    sched = schedule(opt, cfg, steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    unk_id = vocab.tokens.index(UNK)
    best_value, best_state, best = -1.0, None, {}
    for epoch in range(cfg.epochs):
        data = first if epoch == 0 else epoch_data(epoch)
        encoded = [(encode(t), y) for t, y in data]
        model.train()
        t0, total = time.perf_counter(), 0.0
        for idx in length_batches([len(f[0]) for f, _ in encoded], cfg.batch, rng):
            ids, bigrams, sounds, mask = padded([encoded[i][0] for i in idx])
            if cfg.unk_rate:  # unseen characters: the unit and its bigrams are unknown
                drop = (torch.rand(ids.shape) < cfg.unk_rate) & (mask > 0)
                drop[:, 0] = False
                ids = ids.masked_fill(drop, unk_id)
                bigrams = bigrams.masked_fill(drop | (torch.rand(ids.shape) < cfg.unk_rate), 0)
            y = torch.tensor([encoded[i][1] for i in idx], dtype=torch.long)
            loss = loss_fn(model(ids, bigrams, sounds, mask).logits, y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        preds = {k: predict(model, encode, [e.text for e in v], labels, fallback)
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
