"""Train the call-act model (opt_out / callback / other) and write ``nlu/models/call_acts.json``.

    python -m tierline.nlu.training.call_acts [--out F] [--seed 7]

Data: :func:`tierline.nlu.data.call_acts.training_rows` (the written rows, the relabelled
intent-corpus rows, every other training row of the intent corpus as ``other``); each
opt_out and callback row is also added as a recogniser would write it (再 ↔ 在, the homophones
Whisper swaps most in these turns, and without sentence-final particles). Model: scikit-learn
multinomial logistic regression on binary character 1-3-grams
(:func:`tierline.nlu.call_acts.features`), classes balanced. C is chosen by 5-fold
cross-validation on the training rows (augmented copies stay in their row's fold); the
opt_out threshold is the highest probability at which the out-of-fold recall of opt_out is at
least :data:`OPT_OUT_RECALL` (a legal obligation: recall before precision), the callback
threshold the one with the best out-of-fold F1. The weights of n-grams seen in fewer than two
rows are not kept. Runs in about a minute on one core; the held-out sets are never read here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys

import numpy as np

from tierline.nlu.call_acts import ACTS, CALL_ACTS_MODEL, CallActModel, features
from tierline.nlu.data.call_acts import training_rows
from tierline.nlu.errors import NluError

OPT_OUT_RECALL = 0.98
C_GRID = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FOLDS = 5
_PARTICLES = re.compile(r"[了啊吧呢嘛呀哈啦撒哦噻]+(?=[，,。.！!？?]|$)")


def augmented(text: str) -> list[str]:
    """The row itself and the forms a recogniser writes it in (再/在 swapped, no particles)."""
    out = [text]
    for variant in (text.replace("再", "在"), _PARTICLES.sub("", text)):
        if variant != text and variant not in out:
            out.append(variant)
    return out


def _matrix(texts: list[str], vocab: dict[str, int]):
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for i, t in enumerate(texts):
        for j in {vocab[g] for g in features(t) if g in vocab}:
            rows.append(i)
            cols.append(j)
    return csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                      shape=(len(texts), len(vocab)))


def _vocab(texts: list[str], min_rows: int = 2) -> dict[str, int]:
    seen: dict[str, int] = {}
    for t in texts:
        for g in set(features(t)):
            seen[g] = seen.get(g, 0) + 1
    kept = sorted(g for g, n in seen.items() if n >= min_rows)
    return {g: i for i, g in enumerate(kept)}


def _expand(texts: list[str], labels: list[str], groups: list[int]):
    xt, yl, gr = [], [], []
    for t, y, g in zip(texts, labels, groups, strict=True):
        for v in (augmented(t) if y != "other" else [t]):
            xt.append(v)
            yl.append(y)
            gr.append(g)
    return xt, yl, gr


def _fit(texts: list[str], labels: list[str], c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    vocab = _vocab(texts)
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    clf.fit(_matrix(texts, vocab), labels)
    return clf, vocab


def _oof(texts: list[str], labels: list[str], c: float, seed: int) -> np.ndarray:
    """Out-of-fold probabilities (columns in ACTS order) of the original rows."""
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, FOLDS, len(texts))
    probs = np.zeros((len(texts), len(ACTS)))
    for k in range(FOLDS):
        train = [i for i in range(len(texts)) if fold[i] != k]
        xt, yl, _ = _expand([texts[i] for i in train], [labels[i] for i in train], train)
        clf, vocab = _fit(xt, yl, c, seed)
        test = [i for i in range(len(texts)) if fold[i] == k]
        p = clf.predict_proba(_matrix([texts[i] for i in test], vocab))
        order = [list(clf.classes_).index(a) for a in ACTS]
        probs[test] = p[:, order]
    return probs


def _recall_threshold(p: np.ndarray, positive: np.ndarray, recall: float) -> float:
    scores = np.sort(p[positive])
    k = int(np.floor((1 - recall) * len(scores)))
    return float(min(0.5, scores[k]))


def _best_f1_threshold(p: np.ndarray, positive: np.ndarray) -> float:
    best, best_t = -1.0, 0.5
    for t in np.arange(0.1, 0.91, 0.05):
        pred = p >= t
        tp = float((pred & positive).sum())
        f1 = 2 * tp / max(1.0, pred.sum() + positive.sum())
        if f1 > best:
            best, best_t = f1, float(round(t, 2))
    return best_t


def _rates(pred: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    tp = float((pred & positive).sum())
    return {"recall": round(tp / max(1, int(positive.sum())), 4),
            "precision": round(tp / max(1, int(pred.sum())), 4)}


def train(seed: int = 7, log=print) -> CallActModel:
    """Fit the model on :func:`training_rows` (see the module docstring)."""
    rows = training_rows()
    texts = [r.text for r in rows]
    labels = [r.label for r in rows]
    y = np.array([ACTS.index(v) for v in labels])
    best = None
    for c in C_GRID:
        p = _oof(texts, labels, c, seed)
        opt = y == 0
        t = _recall_threshold(p[:, 0], opt, OPT_OUT_RECALL)
        prec = _rates(p[:, 0] >= t, opt)["precision"]
        log(f"C={c}: out-of-fold opt_out precision {prec:.3f} at recall {OPT_OUT_RECALL}")
        if best is None or prec > best[0]:
            best = (prec, c, p)
    assert best is not None
    _, c, p = best
    t_opt = _recall_threshold(p[:, 0], y == 0, OPT_OUT_RECALL)
    t_cb = _best_f1_threshold(p[:, 1], y == 1)
    oof = {"opt_out": _rates(p[:, 0] >= t_opt, y == 0),
           "callback": _rates((p[:, 1] >= t_cb) & (p[:, 0] < t_opt), y == 1)}
    xt, yl, _ = _expand(texts, labels, list(range(len(texts))))
    clf, vocab = _fit(xt, yl, c, seed)
    order = [list(clf.classes_).index(a) for a in ACTS]
    coef = clf.coef_[order].T
    weights = {g: tuple(round(float(v), 4) for v in coef[i]) for g, i in vocab.items()
               if np.abs(coef[i]).max() >= 1e-3}
    counts = {a: labels.count(a) for a in ACTS}
    info = {"trained": dt.date.today().isoformat(), "seed": seed, "C": c, "rows": counts,
            "rows_with_recogniser_forms": len(xt), "ngrams": len(weights),
            "out_of_fold": oof, "opt_out_recall_target": OPT_OUT_RECALL}
    log(f"chosen C={c}; thresholds opt_out {t_opt:.3f}, callback {t_cb:.2f}; "
        f"out-of-fold {oof}")
    return CallActModel(ACTS, tuple(round(float(b), 4) for b in clf.intercept_[order]),
                        weights, {"opt_out": round(t_opt, 4), "callback": t_cb}, info)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tierline.nlu.training.call_acts",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(CALL_ACTS_MODEL), help="model file to write")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    try:
        model = train(args.seed, log=lambda m: print(m, file=sys.stderr))
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(model.to_json(), fh, ensure_ascii=False, separators=(",", ":"))
    except (NluError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(model.weights)} n-grams)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
