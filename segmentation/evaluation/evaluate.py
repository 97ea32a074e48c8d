"""One evaluation run: the tier model beside its baselines, on data it never saw.

Sets:

- ``generated``: dialogs drawn from the *test* template pool (phrasings held out from
  training) with a seed the trainer never uses; scored on the final tier of every dialog
  and on the tier after every turn;
- ``seed-sample``: seed-format files (``samples/tier/``), written by hand apart from the
  generator's templates; final tier of each dialog.

Scorers: ``model`` (:class:`~tierline.segmentation.tier.TierScorer` as calls use it, with
hysteresis, no online layer, no LLM), ``text-blind`` (same network on voice + CRM columns),
``rfm-rules`` (:mod:`tierline.segmentation.rfm`), and ``hand-rules`` (the first,
hand-weighted scorer). Also counted: how often each scorer changes the tier within a call,
against how often the true tier changes (flapping).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.model import MAIN, TEXT_BLIND, TierModel, load_model
from tierline.segmentation.outcome_layer import Adapter
from tierline.segmentation.records import TIERS, TurnEvidence
from tierline.segmentation.rfm import rfm_tier
from tierline.segmentation.rules import RuleTierScorer
from tierline.segmentation.seedfmt import SeedDialog
from tierline.segmentation.tier import TierScorer
from tierline.segmentation.training.dataset import prefix_vectors, seed_evidence
from tierline.segmentation.training.generator import DialogGenerator
from tierline.segmentation.training.train import macro_f1

EVAL_SEED = 20_240_601
SCORERS = ("model", "text-blind", "rfm-rules", "hand-rules")


@dataclass(frozen=True)
class Case:
    """One dialog to score: CRM record, evidence per turn, true tier after 0..n turns
    (only the last one known for seed files)."""

    id: str
    customer: CustomerProfile
    evidence: tuple[TurnEvidence, ...]
    labels: tuple[str | None, ...]


def _per_turn(make: Callable[[CustomerProfile], object], case: Case) -> list[str]:
    scorer = make(case.customer)
    out = [scorer.initial().label]
    out += [scorer.update(ev).label for ev in case.evidence]
    return out


def _text_blind(model: TierModel, case: Case) -> list[str]:
    logits = model.logits(prefix_vectors(case.customer, case.evidence))
    return [TIERS[i] for i in logits.argmax(axis=1)]


def predict(cases: Sequence[Case]) -> dict[str, list[list[str]]]:
    """Tier after every turn of every case, per scorer."""
    main, blind = load_model(MAIN), load_model(TEXT_BLIND)
    identity = Adapter()
    return {
        "model": [_per_turn(lambda c: TierScorer(c, main, identity, llm=False), k)
                  for k in cases],
        "text-blind": [_text_blind(blind, k) for k in cases],
        "rfm-rules": [[rfm_tier(k.customer)[0]] * (len(k.evidence) + 1) for k in cases],
        "hand-rules": [_per_turn(RuleTierScorer, k) for k in cases],
    }


def _metrics(truth: list[str], pred: list[str]) -> dict[str, float]:
    y = np.array([TIERS.index(t) for t in truth])
    p = np.array([TIERS.index(t) for t in pred])
    return {"n": len(y), "accuracy": round(float((y == p).mean()), 4) if len(y) else 0.0,
            "macro_f1": round(macro_f1(y, p), 4)}


def _changes(seq: Sequence[str | None]) -> int:
    known = [s for s in seq[1:] if s is not None]
    return sum(a != b for a, b in zip(known, known[1:], strict=False))


def score(cases: Sequence[Case]) -> dict[str, dict]:
    """Accuracy and macro-F1 per scorer, on final tiers and (when known) every turn."""
    preds = predict(cases)
    out: dict[str, dict] = {}
    per_turn_known = all(None not in c.labels for c in cases)
    for name, runs in preds.items():
        row = {"final": _metrics([c.labels[-1] for c in cases], [r[-1] for r in runs])}
        if per_turn_known:
            truth = [t for c in cases for t in c.labels[1:]]
            row["per_turn"] = _metrics(truth, [t for r in runs for t in r[1:]])
            row["changes_per_call"] = round(float(np.mean([_changes(r) for r in runs])), 3)
        out[name] = row
    if per_turn_known:
        out["truth"] = {"changes_per_call": round(float(np.mean(
            [_changes(c.labels) for c in cases])), 3)}
    return out


def calibration(cases: Sequence[Case], bins: int = 10) -> dict[str, float]:
    """How far the model's tier probabilities are from the frequencies they claim.

    Every turn with a known true tier contributes its top tier probability and whether that
    tier (the argmax of the scores, not the hysteresis label) is the true one. Expected
    calibration error is the turn-weighted gap between mean confidence and accuracy over
    ``bins`` equal-width confidence bins; a calibrated model has ECE near 0.
    """
    main = load_model(MAIN)
    conf: list[float] = []
    hit: list[bool] = []
    for case in cases:
        scorer = TierScorer(case.customer, main, Adapter(), llm=False)
        updates = [scorer.initial(), *(scorer.update(ev) for ev in case.evidence)]
        for update, truth in zip(updates, case.labels, strict=True):
            if truth is None:
                continue
            best = max(update.scores, key=update.scores.__getitem__)
            conf.append(update.scores[best])
            hit.append(best == truth)
    c, h = np.array(conf), np.array(hit, dtype=float)
    edges = np.minimum((c * bins).astype(int), bins - 1)
    ece = sum(abs(c[edges == b].mean() - h[edges == b].mean()) * (edges == b).sum()
              for b in range(bins) if (edges == b).any()) / max(1, len(c))
    return {"turns": len(c), "ece": round(float(ece), 4),
            "mean_confidence": round(float(c.mean()), 4) if len(c) else 0.0,
            "accuracy": round(float(h.mean()), 4) if len(h) else 0.0}


def generated_cases(n: int, seed: int = EVAL_SEED) -> list[Case]:
    gen = DialogGenerator(split="test")
    return [Case(d.id, d.customer, d.evidence, d.labels) for d in gen.iter(n, seed, "test")]


def seed_cases(dialogs: Sequence[SeedDialog]) -> list[Case]:
    gen = DialogGenerator(split="all")
    return [Case(d.id, d.customer, seed_evidence(d, gen),
                 (None,) * len(d.utterances) + (d.label,)) for d in dialogs]


def format_table(results: dict[str, dict[str, dict]]) -> str:
    """The evaluation as a plain-text table."""
    lines = [f"{'set':<14} {'scorer':<11} {'n':>6} {'acc':>7} {'macroF1':>8}   "
             f"{'per-turn n':>10} {'acc':>7} {'macroF1':>8}  changes/call"]
    for set_name, rows in results.items():
        truth = rows.get("truth", {}).get("changes_per_call")
        for scorer in SCORERS:
            r = rows[scorer]
            f, t = r["final"], r.get("per_turn")
            turn = (f"{t['n']:>10} {t['accuracy']:>7.3f} {t['macro_f1']:>8.3f}" if t
                    else f"{'-':>10} {'-':>7} {'-':>8}")
            ch = f"  {r['changes_per_call']:.2f} (truth {truth:.2f})" if t else ""
            lines.append(f"{set_name:<14} {scorer:<11} {f['n']:>6} {f['accuracy']:>7.3f} "
                         f"{f['macro_f1']:>8.3f}   {turn}{ch}")
    return "\n".join(lines)
