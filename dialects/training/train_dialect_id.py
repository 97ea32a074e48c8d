"""``tierline train dialect-id``: fit, measure and ship the dialect identifier.

1. **Clips.** Every labelled Chinese clip of the shared data folder
   (:mod:`dialect_corpus`) except the sample calls' speakers
   (:data:`~tierline.dialects.evaluation.sample_calls.SAMPLE_SPEAKERS`), cut into
   turn-sized units (:mod:`dialect_features`). A family
   takes part when it has at least ``--min-speakers`` speaker groups (default 8); the others
   (min and hakka here: 4 and 5 groups from one or two sources each) are held back and only
   show how often a family the model never learnt comes out ``unknown``.
2. **Features.** Each unit under each augmentation recipe (clean, μ-law, A-law, noise +
   A-law by default) goes through Whisper base's int8 encoder (``--window``: dynamic by
   default, the turn plus 2 s; fixed, Whisper's 30 s) and is mean-pooled over the frames that
   hold audio. Cached in ``--work``. ``--check-fixed`` scores the dynamic-window fold models
   on fixed-window states too.
3. **Evaluation.** Speaker-disjoint k-fold (:func:`speaker_folds`): each fold's model is
   trained on the other folds' speakers (all recipes) and scored on its own speakers' clean
   audio and their 8 kHz μ-law round trip (:func:`tierline.audio.io.telephone_round_trip`),
   on whole turns and on each clip's first 3 s. The out-of-fold confidences choose the
   threshold below which the identifier says ``unknown`` (the lowest at which the accepted
   telephone turns are right at least ``--target`` of the time); the per-call accumulator
   is replayed on each held-out speaker's turns in order.
4. **Model.** Logistic regression (scikit-learn, L2, balanced so that every family and,
   within it, every speaker weighs the same) on standardised states; the scaler is folded
   into the weights and written as a four-node ONNX graph (MatMul, Add, Softmax) with the
   families, threshold and width in its metadata: about 10 kB.

The evaluation goes to ``--report`` (JSON) and, as tables, to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.evaluation.dialect_eval import Scores, score, speaker_folds
from tierline.dialects.families import UNKNOWN
from tierline.dialects.training.dialect_features import FeatureTable

TRAIN_RECIPES = ("clean", "ulaw", "alaw", "noise")
EVAL_RECIPES = ("clean", "ulaw")


@dataclass(frozen=True)
class LinearSoftmax:
    """A linear softmax classifier on pooled states, the scaler folded in.

    Attributes:
        families: Output order.
        weight: (width, families).
        bias: (families,).
    """

    families: tuple[str, ...]
    weight: np.ndarray
    bias: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = np.asarray(x, np.float64) @ self.weight + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def speaker_weights(families: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Sample weights under which every family, and every speaker within it, weighs the same
    (mean 1)."""
    w = np.ones(len(families))
    for family in set(families.tolist()):
        rows = np.nonzero(families == family)[0]
        per = Counter(speakers[rows].tolist())
        for i in rows:
            w[i] = 1.0 / per[speakers[i]] / len(per)
    return w / w.mean()


def fit(x: np.ndarray, families: np.ndarray, speakers: np.ndarray, order: Sequence[str],
        c: float) -> LinearSoftmax:
    """Logistic regression on standardised ``x``, returned with the scaler folded in."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit((x - mean) / std, families, sample_weight=speaker_weights(families, speakers))
    index = [list(clf.classes_).index(f) for f in order]
    coef = clf.coef_[index].T  # (width, families)
    weight = coef / std[:, None]
    bias = clf.intercept_[index] - mean @ weight
    return LinearSoftmax(tuple(order), weight.astype(np.float32), bias.astype(np.float32))


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest confidence threshold at which the accepted items are right at least
    ``target`` of the time (0.5 when none reaches it, so a coin flip is never named)."""
    for threshold in np.arange(0.30, 0.96, 0.05):
        kept = confidence >= threshold
        if kept.any() and correct[kept].mean() >= target:
            return round(float(threshold), 2)
    return 0.5


def export_onnx(model: LinearSoftmax, path: Path, meta: dict[str, str]) -> None:
    """Write ``model`` as ONNX: pooled (n, width) float → probs (n, families)."""
    from onnx import TensorProto, checker, helper, numpy_helper

    width = model.weight.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["pooled", "weight"], ["logits0"]),
         helper.make_node("Add", ["logits0", "bias"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)],
        "dialect_id",
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT,
                                       ["n", len(model.families)])],
        [numpy_helper.from_array(model.weight.astype(np.float32), "weight"),
         numpy_helper.from_array(model.bias.astype(np.float32), "bias")],
    )
    onnx_model = helper.make_model(graph, producer_name="tierline",
                                   opset_imports=[helper.make_opsetid("", 13)])
    onnx_model.ir_version = 8
    for key, value in meta.items():
        onnx_model.metadata_props.add(key=key, value=value)
    checker.check_model(onnx_model)
    path.write_bytes(onnx_model.SerializeToString())


def _width_of(table: FeatureTable) -> int:
    return table.states.shape[1] // 2  # the mean half of (mean, std)


def _rows(table: FeatureTable, speakers: set[str], families: Sequence[str]) -> np.ndarray:
    fam, spk = table.families, table.speakers
    return np.nonzero(np.isin(spk, list(speakers)) & np.isin(fam, list(families)))[0]


def _call_replay(table: FeatureTable, rows: np.ndarray, model: LinearSoftmax,
                 threshold: float, min_speech_s: float) -> list[dict]:
    """Replay each speaker's turns (not the first-3 s crops) in order, accumulated as
    :class:`tierline.dialects.dialect_id.DialectTracker` does."""
    from tierline.dialects.dialect_id import accumulate

    out = []
    by_speaker: dict[str, list[int]] = {}
    for i in rows:
        if table.units[i].kind == "turn":
            by_speaker.setdefault(table.speakers[i], []).append(int(i))
    for speaker, idx in by_speaker.items():
        probs = model.probabilities(table.states[idx, : _width_of(table)])
        logp, seconds, first, label = np.zeros(len(model.families)), 0.0, None, UNKNOWN
        for i, p in zip(idx, probs, strict=True):
            u = table.units[i]
            logp, seconds, combined = accumulate(logp, seconds, p, u.end_s - u.start_s)
            best = int(np.argmax(combined))
            label = (model.families[best] if combined[best] >= threshold
                     and seconds >= min_speech_s else UNKNOWN)
            if first is None and seconds >= min_speech_s:
                first = label
        out.append({"speaker": speaker, "family": table.families[idx[0]], "turns": len(idx),
                    "first_decision": first, "final": label})
    return out


def cross_validate(tables: dict[str, FeatureTable], recipes: Sequence[str],
                   families: Sequence[str], folds: int, c: float, target: float, seed: int,
                   min_speech_s: float, held_back: Sequence[str],
                   log: Callable[[str], None]) -> dict:
    """Speaker-disjoint k-fold over ``tables`` (recipe → features; ``recipes`` are trained
    on, :data:`EVAL_RECIPES` scored); see the module docstring.

    Returns:
        The report: threshold, scores per evaluation recipe and unit kind (with and without
        the ``unknown`` threshold), the call replay, the held-back families' rejection rate,
        and under ``_fold_models`` the (model, held-out speakers) pairs.
    """
    clean = tables["clean"]
    keep = np.isin(clean.families, list(families))
    fam, spk = clean.families[keep], clean.speakers[keep]
    width = _width_of(clean)
    fold_models = []
    for k, (train, test) in enumerate(speaker_folds(fam, spk, folds, seed), 1):
        train_spk, test_spk = set(spk[train].tolist()), set(spk[test].tolist())
        xs, ys, gs = [], [], []
        for table in (tables[r] for r in recipes):
            rows = _rows(table, train_spk, families)
            xs.append(table.states[rows, :width])
            ys.append(table.families[rows])
            gs.append(table.speakers[rows])
        fold_models.append((fit(np.vstack(xs), np.concatenate(ys), np.concatenate(gs),
                                families, c), test_spk))
        log(f"fold {k}/{folds}: {len(train_spk)} training speakers, {len(test_spk)} held out")
    ulaw = tables["ulaw"]
    probs = out_of_fold(ulaw, fold_models, families)
    turn = np.nonzero(np.isin(ulaw.families, list(families)) & (ulaw.kinds == "turn"))[0]
    correct = np.array(families)[probs[turn].argmax(1)] == ulaw.families[turn]
    threshold = choose_threshold(probs[turn].max(1), correct, target)
    report: dict = {"families": list(families), "folds": folds, "threshold": threshold,
                    "speakers": {f: len(set(spk[fam == f].tolist())) for f in families},
                    "scores": {}}
    for r in EVAL_RECIPES:
        report["scores"].update(score_fold_models(tables[r], fold_models, families,
                                                  threshold, r))
        other = np.nonzero(np.isin(tables[r].families, list(held_back)))[0]
        if len(other):  # every fold model hears every held-back clip
            conf = np.concatenate([m.probabilities(tables[r].states[other, :width]).max(1)
                                   for m, _ in fold_models])
            report["scores"][f"{r}/held_back_unknown_rate"] = round(
                float((conf < threshold).mean()), 4)
    calls = []
    for model, test_spk in fold_models:
        calls += _call_replay(ulaw, _rows(ulaw, test_spk, families), model, threshold,
                              min_speech_s)
    report["calls"] = {"all": _call_summary(calls),
                       "several_turns": _call_summary([c for c in calls if c["turns"] > 1])}
    report["_fold_models"] = fold_models
    return report


def out_of_fold(table: FeatureTable, fold_models: list, families: Sequence[str]
                ) -> np.ndarray:
    """(units, families) probabilities, each unit scored by the model of the fold that held
    its speaker out (zeros for units of other families)."""
    width = _width_of(table)
    probs = np.zeros((len(table.units), len(families)))
    for model, test_spk in fold_models:
        rows = _rows(table, test_spk, families)
        probs[rows] = model.probabilities(table.states[rows, :width])
    return probs


def score_fold_models(table: FeatureTable, fold_models: list, families: Sequence[str],
                      threshold: float, name: str) -> dict:
    """Each fold model scored on its own held-out speakers' units of ``table`` (a recipe,
    or states from the other encoder window): ``{name/turn: ..., name/first: ...}``, each
    forced to a family and with the ``unknown`` threshold."""
    probs = out_of_fold(table, fold_models, families)
    rows = np.nonzero(np.isin(table.families, list(families)))[0]
    out = {}
    for kind in ("turn", "first"):
        sel = rows[table.kinds[rows] == kind]
        named = np.array(families)[probs[sel].argmax(1)]
        gated = np.where(probs[sel].max(1) >= threshold, named, UNKNOWN)
        out[f"{name}/{kind}"] = {
            "forced": score(table.families[sel], named, list(families)).to_dict(),
            "with_unknown": score(table.families[sel], gated, list(families)).to_dict()}
    return out


def _call_summary(calls: list[dict]) -> dict:
    """Shares of replayed calls whose first and final decisions named the right family, the
    wrong one, or none (``unknown``; a call shorter than the minimum speech never decides)."""

    def shares(key: str) -> dict:
        said = [c[key] or UNKNOWN for c in calls]
        right = sum(s == c["family"] for s, c in zip(said, calls, strict=True))
        unknown = sum(s == UNKNOWN for s in said)
        n = max(1, len(calls))
        return {"right": round(right / n, 4), "unknown": round(unknown / n, 4),
                "wrong": round((len(calls) - right - unknown) / n, 4)}

    return {"calls": len(calls), "first_decision": shares("first_decision"),
            "final": shares("final")}


def _print_scores(report: dict, out) -> None:
    print(f"families {', '.join(report['families'])}; speakers {report['speakers']}; "
          f"threshold {report['threshold']}", file=out)
    for key, value in report["scores"].items():
        if not isinstance(value, dict):
            print(f"{key}: {value:.1%} of units said unknown", file=out)
            continue
        forced, gated = value["forced"], value["with_unknown"]
        print(f"\n{key}: n={forced['n']} accuracy {forced['accuracy']:.1%} (balanced "
              f"{forced['balanced_accuracy']:.1%}); with unknown: right "
              f"{gated['accuracy']:.1%}, unknown {_unknown_share(gated):.1%}", file=out)
        s = forced["confusion"]
        print(Scores(tuple(s["rows_true"]), tuple(s["columns_predicted"]),
                     np.array(s["counts"]), forced["n"], forced["accuracy"],
                     forced["balanced_accuracy"], forced["recall"]).table(), file=out)
    for key, summary in report["calls"].items():
        print(f"\ncalls ({key}: each held-out speaker's turns in order, {summary['calls']} "
              f"speakers): first decision {summary['first_decision']}, "
              f"final {summary['final']}", file=out)


def _unknown_share(scores: dict) -> float:
    cols = scores["confusion"]["columns_predicted"]
    if UNKNOWN not in cols:
        return 0.0
    counts = np.array(scores["confusion"]["counts"])
    return float(counts[:, cols.index(UNKNOWN)].sum() / max(1, counts.sum()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tierline train dialect-id``."""
    from tierline.dialects.dialect_id import DIALECT_ID_PATH

    parser.add_argument("--out", default=str(DIALECT_ID_PATH), metavar="FILE",
                        help="ONNX file to write (default: the shipped one)")
    parser.add_argument("--work", metavar="DIR",
                        help="feature cache (default $TIERLINE_HOME/dialect_id)")
    parser.add_argument("--data", metavar="DIR",
                        help="shared public data (default $TIERLINE_DATA or ../shared/data)")
    parser.add_argument("--report", metavar="FILE",
                        help="evaluation JSON (default WORK/dialect_id_eval.json)")
    parser.add_argument("--families", metavar="A,B,...",
                        help="families to learn (default: those with --min-speakers)")
    parser.add_argument("--min-speakers", type=int, default=8,
                        help="speaker groups a family needs to take part (default 8)")
    parser.add_argument("--folds", type=int, default=5, help="speaker-disjoint folds")
    parser.add_argument("--c", type=float, default=0.1, help="inverse L2 strength")
    parser.add_argument("--target", type=float, default=0.9,
                        help="accuracy of named families the threshold aims at (default 0.9)")
    parser.add_argument("--recipes", default=",".join(TRAIN_RECIPES),
                        help="augmentation recipes trained on (clean,ulaw,alaw,noise,speed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--include-sample-calls", action="store_true",
                        help="also learn from the speakers of the sample calls (left out by "
                             "default, so the sample calls test unheard voices)")
    parser.add_argument("--window", choices=("dynamic", "fixed"), default="dynamic",
                        help="encoder window the states come from: as the recogniser that "
                             "feeds the identifier runs (default dynamic)")
    parser.add_argument("--check-fixed", action="store_true",
                        help="also score the fold models on telephone audio encoded in the "
                             "fixed 30 s window (slow: ~10x the encoder time)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def run(args: argparse.Namespace) -> int:
    """Build features, cross-validate, fit on everything, write the ONNX and the report."""
    from tierline.audio.io import load_audio
    from tierline.dialects.dialect_id import MIN_SPEECH_S
    from tierline.dialects.encoder_states import WhisperEncoder
    from tierline.dialects.errors import ModelError
    from tierline.dialects.evaluation.dialect_eval import SplitError
    from tierline.dialects.evaluation.sample_calls import SAMPLE_SPEAKERS
    from tierline.dialects.families import FAMILIES
    from tierline.dialects.models import tierline_home, whisper_base_dir
    from tierline.dialects.training.dialect_corpus import load_corpus
    from tierline.dialects.training.dialect_features import build_features
    from tierline.dialects.training.line_augment import RECIPES
    from tierline.nlu.data import shared_data_dir

    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    recipes = tuple(r for r in args.recipes.split(",") if r)
    bad = [r for r in recipes if r not in RECIPES]
    if bad or "clean" not in recipes or args.folds < 2:
        raise SplitError(f"--recipes must include clean and name only {', '.join(RECIPES)}; "
                         "--folds at least 2")
    families = tuple(f for f in (args.families or "").split(",") if f)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise SplitError(f"unknown families {unknown} (known: {', '.join(FAMILIES)})")
    base = whisper_base_dir()
    if not (base / ".verified").is_file():
        raise ModelError(f"Whisper base is not assembled in {base}; run `tierline models "
                         "assemble`")
    work = Path(args.work) if args.work else tierline_home() / "dialect_id"
    clips = load_corpus(shared_data_dir(args.data))
    if not args.include_sample_calls:
        clips = [c for c in clips if c.speaker not in SAMPLE_SPEAKERS]
    groups: dict[str, set[str]] = {}
    for clip in clips:
        groups.setdefault(clip.family, set()).add(clip.speaker)
    if not families:
        families = tuple(f for f in FAMILIES if len(groups.get(f, ())) >= args.min_speakers)
    held_back = tuple(f for f in FAMILIES if f in groups and f not in families)
    if len(families) < 2:
        raise SplitError(f"only {len(families)} famil(ies) with {args.min_speakers}+ speaker "
                         "groups: nothing to tell apart")
    log(f"{len(clips)} clips; speaker groups: "
        + ", ".join(f"{f} {len(groups.get(f, ()))}" for f in FAMILIES)
        + f"; learning {', '.join(families)}; held back {', '.join(held_back) or 'none'}")
    encoder = WhisperEncoder(base, window=args.window, threads=args.threads)
    tables = {r: build_features(clips, encoder, r, work, load_audio, log)
              for r in dict.fromkeys((*recipes, *EVAL_RECIPES))}
    report = cross_validate(tables, recipes, families, args.folds, args.c, args.target,
                            args.seed, MIN_SPEECH_S, held_back, log)
    fold_models = report.pop("_fold_models")
    if args.check_fixed:
        fixed = WhisperEncoder(base, window="fixed", threads=args.threads)
        table = build_features(clips, fixed, "ulaw", work, load_audio, log)
        report["scores"].update(score_fold_models(table, fold_models, families,
                                                  report["threshold"], "ulaw_fixed_window"))
    report.update({"window": encoder.window, "recipes": list(recipes), "c": args.c,
                   "held_back": list(held_back), "clips": len(clips)})
    xs, ys, gs = [], [], []
    width = _width_of(tables["clean"])
    for r in recipes:
        table = tables[r]
        rows = np.nonzero(np.isin(table.families, list(families)))[0]
        xs.append(table.states[rows, :width])
        ys.append(table.families[rows])
        gs.append(table.speakers[rows])
    model = fit(np.vstack(xs), np.concatenate(ys), np.concatenate(gs), families, args.c)
    out = Path(args.out)
    export_onnx(model, out, {"families": json.dumps(list(families)),
                             "threshold": str(report["threshold"]), "width": str(width),
                             "window": encoder.window, "recipes": ",".join(recipes),
                             "c": str(args.c)})
    report_path = Path(args.report) if args.report else work / "dialect_id_eval.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    _print_scores(report, sys.stderr)
    log(f"wrote {out} ({out.stat().st_size:,} bytes) and {report_path}")
    return 0
