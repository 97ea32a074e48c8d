"""The intent model: four members fine-tuned on the same epochs, mixed in one ONNX graph.

A transformer fine-tuned from the pre-trained encoder, one trained from scratch, a linear bag
of units, bigrams and sounds (fastText-style; it carries over to garbled ASR text better than
the transformers, as the TF-IDF baseline showed) and a linear bag of sounds alone (single,
pairs, triples: blind to the homophones Whisper writes). The transformers' mean and the two
bags are mixed with the weights that score best on dev without costing clean text
(:func:`bag_weights`). Data: the train split of our corpus, fresh augmented variants of it
every epoch (:mod:`tierline.nlu.training.augment`), the usable noisy-ASR copies of the train
split, and real out-of-domain queries (SMP2017, CrossWOZ) as ``other``. For each member the
epoch with the best mean dev macro-F1 (clean and noisy) is kept.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from tierline.nlu.chars import CharVocab
from tierline.nlu.data import Example, load_intents, load_noisy_intents
from tierline.nlu.evaluation.scores import score
from tierline.nlu.training.architectures import BagOfUnits, Ensemble, SoundBag
from tierline.nlu.training.augment import Augmenter, homophone_table
from tierline.nlu.training.config import (
    BAG_CONFIG,
    BAG_WEIGHTS,
    CLEAN_GUARD,
    MAX_BAG_SHARE,
    OOD_SHARE,
    SOUND_BAG_WEIGHTS,
    ModelConfig,
)
from tierline.nlu.training.export import export
from tierline.nlu.training.features import FeatureEncoder, padded
from tierline.nlu.training.loop import decide, dev_scores, fit
from tierline.nlu.training.pools import IntentPool
from tierline.nlu.training.train_extra import nn, torch
from tierline.nlu.vocab import INTENTS

__all__ = ["bag_weights", "intent_dev_scores", "member_weights", "train_intent"]


def train_intent(cfg: ModelConfig, vocab: CharVocab, encoder: dict | None, pool: IntentPool,
                 ood: list[Example], path: Path, seed: int, smoke: bool,
                 log: Callable[[str], None]) -> tuple[Path, str]:
    """Fine-tune the intent model and write it as INT8 ONNX to ``path``.

    Returns:
        ``path`` and a one-line summary of the ensemble's dev scores.
    """
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
                             "other", intent_dev_scores, encoder=start)
        members.append(model)
        histories.append({"kind": "transformer", "pretrained": start is not None, **history})
    log("intent member 3/4: bag of units, bigrams and sounds")
    bag_cfg = replace(cfg, **{**BAG_CONFIG, **({"epochs": cfg.epochs} if smoke else {})})
    bag, history = fit(bag_cfg, vocab, INTENTS, epoch_data, dev, select, seed + 2, log, "other",
                       intent_dev_scores, model=BagOfUnits(cfg, len(vocab), len(INTENTS)))
    members.append(bag)
    histories.append({"kind": "bag", **history})
    log("intent member 4/4: sound bag (sounds, sound pairs and triples; no characters)")
    sound_bag, history = fit(bag_cfg, vocab, INTENTS, epoch_data, dev, select, seed + 3, log,
                             "other", intent_dev_scores, model=SoundBag(cfg, len(INTENTS)))
    members.append(sound_bag)
    histories.append({"kind": "sound_bag", **history})
    weights, by_weights = bag_weights(members, vocab, cfg, dev)
    top = sorted(by_weights.items(), key=lambda kv: -kv[1][0])[:5]
    log("bag weights (bag, sound bag) on dev, best mean (clean): "
        + "  ".join(f"{w} {v[0]:.3f} ({v[1]:.3f})" for w, v in top)
        + f"  → {weights} {by_weights[weights][0]:.3f} ({by_weights[weights][1]:.3f})")
    model = Ensemble(members, member_weights(*weights)).eval()
    scores = dev_scores(model, vocab, cfg, dev, INTENTS, "other", intent_dev_scores)
    log("intent ensemble dev " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    info = {"seed": seed, "config": asdict(cfg), "bag_config": asdict(bag_cfg),
            "members": histories, "bag_weight": weights[0], "sound_bag_weight": weights[1],
            "train_rows": len(train), "noisy_rows": len(noisy), "ood_rows": len(ood_train),
            "dev": {k: round(v, 4) for k, v in scores.items()}}
    export(model, vocab, INTENTS, cfg, "intent", info, path, log)
    return path, "dev macro-F1 " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items())


def intent_dev_scores(dev: dict[str, list[Example]],
                      preds: dict[str, list[str]]) -> dict[str, float]:
    """Macro-F1 over the intents on each dev set."""
    return {k: score([e.label for e in dev[k]], preds[k]).macro_f1 for k in dev}


def member_weights(bag_weight: float, sound_weight: float = 0.0) -> list[float]:
    """Ensemble weights of (pre-trained transformer, transformer from scratch, bag, sound
    bag): the bags get their weights and the transformers share the rest."""
    rest = (1 - bag_weight - sound_weight) / 2
    return [rest, rest, bag_weight, sound_weight]


def bag_weights(members: Sequence[nn.Module], vocab: CharVocab, cfg: ModelConfig,
                dev: dict[str, list[Example]]
                ) -> tuple[tuple[float, float], dict[tuple[float, float], tuple[float, float]]]:
    """The (bag, sound bag) weights with the best mean dev macro-F1 over the clean text and
    the noisy copies, among the pairs whose clean dev macro-F1 stays within
    :data:`~tierline.nlu.training.config.CLEAN_GUARD` of the best pair without the sound bag
    (ties: smaller weights).

    Returns:
        The chosen pair, and every pair's (mean, clean) dev macro-F1.
    """
    encode = FeatureEncoder(vocab, cfg)
    probs, rows = {}, {}
    with torch.no_grad():
        for k, examples in dev.items():
            rows[k] = [encode(e.text) for e in examples]
            batch = padded(rows[k])
            probs[k] = [m.eval()(*batch).logits.softmax(-1) for m in members]
    by_weights: dict[tuple[float, float], tuple[float, float]] = {}
    for wb in BAG_WEIGHTS:
        for ws in SOUND_BAG_WEIGHTS:
            if wb + ws > MAX_BAG_SHARE + 1e-9:
                continue
            f1 = {}
            for k, examples in dev.items():
                p = sum(mw * mp for mw, mp in zip(member_weights(wb, ws), probs[k],
                                                  strict=True))
                pred = decide(rows[k], p.argmax(-1).tolist(), INTENTS, "other")
                f1[k] = score([e.label for e in examples], pred).macro_f1
            by_weights[(wb, ws)] = (round(sum(f1.values()) / len(f1), 6), round(f1["clean"], 6))
    no_sound = max((w for w in by_weights if w[1] == 0), key=lambda w: (by_weights[w][0], -w[0]))
    floor = by_weights[no_sound][1] - CLEAN_GUARD
    allowed = [w for w in by_weights if by_weights[w][1] >= floor - 1e-9]
    best = max(allowed, key=lambda w: (by_weights[w][0], -w[1], -w[0]))
    return best, {w: (round(v[0], 4), round(v[1], 4)) for w, v in by_weights.items()}
