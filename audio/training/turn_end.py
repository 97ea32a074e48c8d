"""``tierline train turn-end``: fit the end-of-turn model on written user turns.

Examples come from text written by people talking to a system, never from the AISHELL clips the
end-of-turn benchmark speaks (benchmarks/bench_turn_end.py):

* the project's sales-call utterances (nlu/data/intents.tsv, call_acts.tsv) and the Whisper
  readings of their neural-voice copies (intents_asr_kokoro.tsv: how the text looks at run time);
* CrossWOZ user turns and SMP2017 queries from ../shared/data/text (or $TIERLINE_DATA/text).

Each sentence end of a turn (。！？ or the turn's end) is *complete*; a cut at a word boundary
(jieba) inside a sentence, commas included, is *not*. Rows are split by a hash of the turn
(85 % train, 15 % held out) so no turn has prefixes on both sides. The fit is an L2 logistic
regression (scipy L-BFGS, classes weighted equally); the two thresholds are set on the held-out
rows: ``close_at`` where at most ``--max-false-close`` of unfinished prefixes would be closed,
``hold_below`` where at most ``--max-false-hold`` of finished turns would be held.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.audio.turn_end_model import MODEL_PATH, TurnEndModel, bare, features

_SENTENCE_END = re.compile(r"[。！？!?；;]+")
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Example:
    text: str
    complete: bool
    source: str
    held_out: bool


def _held_out(turn: str, share: float = 0.15) -> bool:
    digest = hashlib.sha1(turn.encode("utf-8")).digest()
    return digest[0] / 256 < share


def examples_of(turn: str, source: str, rng: random.Random, cuts: int = 2) -> list[Example]:
    """A turn's sentence ends (complete) and up to ``cuts`` word-boundary cuts inside its
    sentences (not complete), each as the text from the turn's start."""
    import jieba

    turn = turn.strip()
    if not bare(turn):
        return []
    held = _held_out(turn)
    out: list[Example] = []
    ends = {m.end() for m in _SENTENCE_END.finditer(turn)} | {len(turn)}
    for end in sorted(ends):
        if bare(turn[:end]):
            out.append(Example(turn[:end], True, source, held))
    inside: list[int] = []
    pos = 0
    for word in jieba.cut(turn, HMM=False):
        pos += len(word)
        after = _SENTENCE_END.match(turn, pos)
        if pos < len(turn) and not after and pos not in ends and bare(turn[:pos]):
            inside.append(pos)
    for pos in rng.sample(inside, min(cuts, len(inside))):
        out.append(Example(turn[:pos], False, source, held))
    return out


def _rows(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [r[column] for r in csv.DictReader(fh, delimiter="\t") if r.get(column)]


def load_examples(data: Path | None, seed: int = 0) -> list[Example]:
    """Every example of the repository's and the shared data's user turns."""
    rng = random.Random(seed)
    nlu = REPO / "nlu" / "data"
    turns: list[tuple[str, str]] = []
    turns += [(t, "sales") for t in _rows(nlu / "intents.tsv", "text")]
    turns += [(t, "sales") for t in _rows(nlu / "call_acts.tsv", "text")]
    turns += [(t, "sales_asr") for t in _rows(nlu / "intents_asr_kokoro.tsv", "asr")]
    if data is not None:
        crosswoz = data / "text" / "crosswoz" / "user_utterances_intents.tsv"
        smp = data / "text" / "smp2017_ecdt_task1" / "Chinese_data.tsv"
        if crosswoz.is_file():
            turns += [(t, "crosswoz") for t in _rows(crosswoz, "utterance")]
        if smp.is_file():
            turns += [(t, "smp2017") for t in _rows(smp, "Sentence")]
    out: list[Example] = []
    for turn, source in turns:
        out += examples_of(turn, source, rng)
    return out


def _matrix(texts: list[str], index: dict[str, int]):
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for i, text in enumerate(texts):
        for f in set(features(text)):
            if f in index:
                rows.append(i)
                cols.append(index[f])
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(index)))


def fit(examples: list[Example], l2: float = 1.0, min_count: int = 3) -> tuple[dict, float]:
    """Logistic regression weights (feature -> weight) and bias, classes weighted equally."""
    from scipy.optimize import minimize

    counts: dict[str, int] = {}
    for ex in examples:
        for f in set(features(ex.text)):
            counts[f] = counts.get(f, 0) + 1
    names = sorted(f for f, n in counts.items() if n >= min_count)
    index = {f: i for i, f in enumerate(names)}
    x = _matrix([e.text for e in examples], index)
    y = np.array([e.complete for e in examples], dtype=np.float64)
    pos = max(1.0, y.sum())
    neg = max(1.0, len(y) - y.sum())
    w_row = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        ll = -(w_row * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum()
        g = w_row * (p - y)
        grad = np.concatenate([x.T @ g + l2 * w, [g.sum()]])
        return ll + 0.5 * l2 * float(w @ w), grad

    theta = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B",
                     options={"maxiter": 500}).x
    weights = {f: round(float(v), 4) for f, v in zip(names, theta[:-1], strict=True)
               if abs(v) >= 1e-3}
    return weights, round(float(theta[-1]), 4)


def thresholds(model: TurnEndModel, held: list[Example], max_false_close: float,
               max_false_hold: float) -> tuple[float, float]:
    """``close_at`` and ``hold_below`` set on held-out examples."""
    p_not = np.sort([model.complete(e.text) for e in held if not e.complete])
    p_done = np.sort([model.complete(e.text) for e in held if e.complete])
    close_at = float(np.quantile(p_not, 1 - max_false_close)) if len(p_not) else 0.9
    hold_below = float(np.quantile(p_done, max_false_hold)) if len(p_done) else 0.1
    return round(min(0.99, close_at), 4), round(max(0.01, min(hold_below, close_at)), 4)


def evaluate(model: TurnEndModel, held: list[Example]) -> dict:
    """Held-out accuracy (at 0.5), AUC, and what the two thresholds do, per source."""
    report: dict = {}
    for source in sorted({e.source for e in held}) + ["all"]:
        rows = [e for e in held if source in ("all", e.source)]
        p = np.array([model.complete(e.text) for e in rows])
        y = np.array([e.complete for e in rows])
        if not len(rows):
            continue
        order = np.argsort(p)
        ranks = np.empty(len(p))
        ranks[order] = np.arange(1, len(p) + 1)
        n_pos, n_neg = int(y.sum()), int((~y).sum())
        auc = ((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
               if n_pos and n_neg else float("nan"))
        report[source] = {
            "n": len(rows), "complete": n_pos, "auc": round(float(auc), 4),
            "accuracy": round(float(((p >= 0.5) == y).mean()), 4),
            "finished_closed": round(float((p[y] >= model.close_at).mean()), 4) if n_pos else None,
            "unfinished_closed": round(float((p[~y] >= model.close_at).mean()), 4)
            if n_neg else None,
            "finished_held": round(float((p[y] < model.hold_below).mean()), 4) if n_pos else None,
            "unfinished_held": round(float((p[~y] < model.hold_below).mean()), 4)
            if n_neg else None,
        }
    return report


def train(data: Path | None, out: Path = MODEL_PATH, max_false_close: float = 0.05,
          max_false_hold: float = 0.1, seed: int = 0) -> dict:
    """Train, set the thresholds on the held-out rows, write the model; returns the report."""
    examples = load_examples(data, seed)
    train_rows = [e for e in examples if not e.held_out]
    held = [e for e in examples if e.held_out]
    weights, bias = fit(train_rows)
    sources = sorted({e.source for e in examples})
    model = TurnEndModel(weights, bias, 0.5, 0.5,
                         f"{len(train_rows)} examples ({', '.join(sources)}), seed {seed}")
    close_at, hold_below = thresholds(model, held, max_false_close, max_false_hold)
    model = TurnEndModel(weights, bias, close_at, hold_below, model.trained_on)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(model.to_json(), ensure_ascii=False, sort_keys=True) + "\n",
                   encoding="utf-8")
    return {"model": str(out), "train": len(train_rows), "held_out": len(held),
            "features": len(weights), "close_at": close_at, "hold_below": hold_below,
            "held_out_report": evaluate(model, held)}


def add_arguments(parser) -> None:
    """Flags of ``tierline train turn-end``."""
    parser.add_argument("--out", default=str(MODEL_PATH), metavar="FILE",
                        help="model JSON to write (default: the shipped one)")
    parser.add_argument("--data", metavar="DIR",
                        help="shared public data (default $TIERLINE_DATA or ../shared/data; "
                             "without it only the repository's sales utterances are used)")
    parser.add_argument("--max-false-close", type=float, default=0.05,
                        help="share of held-out unfinished prefixes the early close may close "
                             "(sets close_at; default 0.05)")
    parser.add_argument("--max-false-hold", type=float, default=0.1,
                        help="share of held-out finished turns the longer hangover may hold "
                             "(sets hold_below; default 0.1)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    """Train, print the held-out report as JSON, write the model."""
    import os
    import sys

    from tierline.audio.errors import AudioError

    try:
        import jieba  # word boundaries of the unfinished examples
    except ImportError as exc:
        raise AudioError("tierline train turn-end needs jieba: pip install -e '.[train]'") \
            from exc
    for name in ("max_false_close", "max_false_hold"):
        if not 0 < getattr(args, name) < 1:
            raise AudioError(f"--{name.replace('_', '-')} must be in (0, 1)")
    data = Path(args.data or os.environ.get("TIERLINE_DATA") or REPO.parent / "shared" / "data")
    if not (data / "text").is_dir():
        if args.data:
            raise AudioError(f"shared data not found: {data}/text")
        print(f"tierline: warning: no shared data at {data}: training on the repository's "
              "utterances only", file=sys.stderr)
        data = None
    import logging

    jieba.setLogLevel(logging.WARNING)
    report = train(data, Path(args.out), args.max_false_close, args.max_false_hold, args.seed)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0
