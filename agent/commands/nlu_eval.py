"""`tierline nlu-eval`: intent and sentiment quality on the held-out split, beside baselines.

Prints macro-F1 of the trained intent model, the keyword rules and a TF-IDF baseline (fitted
in the same run) on the clean test split and on its noisy-ASR copy, then per-intent F1, the
model's confusion matrices and the sentiment scores. ``asr_heard`` is the part of the noisy
copy where Whisper kept at least a third of what was said; ``asr_kokoro`` the copy spoken by a
neural voice instead of espeak-ng; ``asr_beam`` and ``asr_kokoro_beam`` are those copies read from
all of Whisper's final-beam readings, as a call reads a turn; ``challenge`` is the challenge set
and ``challenge_asr_beam`` / ``challenge_asr_kokoro_beam`` its copies (test split only). Each
copy is then split by the character error rate of its transcripts, with the reader ceilings
(:mod:`tierline.nlu.evaluation.recogniser_bound`). ``--json`` prints the whole report as
one JSON object.
"""

from __future__ import annotations

import argparse
import sys

from tierline.agent.clikit import UsageError, emit
from tierline.nlu.errors import NluError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nlu-eval", help="NLU macro-F1, per-intent F1 and confusion vs baselines")
    p.add_argument("--split", choices=["test", "dev"], default="test")
    p.add_argument("--model", metavar="F", help="intent model file (default: the shipped one)")
    p.add_argument("--sentiment-model", metavar="F",
                   help="sentiment model file (default: the shipped one)")
    p.add_argument("--data", metavar="DIR",
                   help="shared public data for the out-of-domain and review sets "
                        "(default $TIERLINE_DATA or ../shared/data; skipped when absent)")
    p.add_argument("--json", action="store_true", help="one JSON object with the full report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.nlu.data import shared_data_dir
    from tierline.nlu.evaluation.evaluate import evaluate_intents, evaluate_sentiment
    from tierline.nlu.models import INTENT_MODEL, SENTIMENT_MODEL
    from tierline.nlu.onnx_models import OnnxIntentClassifier, OnnxSentiment

    try:
        data_dir = shared_data_dir(args.data)
    except NluError:
        if args.data:
            raise
        data_dir = None
        print("nlu-eval: shared data not found; public-corpus sets skipped", file=sys.stderr)
    model_path = args.model or INTENT_MODEL
    if args.model is None and not INTENT_MODEL.is_file():
        raise UsageError(f"no intent model at {INTENT_MODEL}; run `tierline train nlu`")
    model = OnnxIntentClassifier(model_path)
    sent_path = args.sentiment_model or SENTIMENT_MODEL
    sentiment = OnnxSentiment(sent_path) if (args.sentiment_model or
                                             SENTIMENT_MODEL.is_file()) else None
    progress = (lambda m: print(f"nlu-eval: {m}", file=sys.stderr)) if not args.json else None
    report = {"intents": evaluate_intents(model, args.split, data_dir, progress),
              "sentiment": evaluate_sentiment(sentiment, data_dir, args.split),
              "model": {"path": str(model.model.path), "info": model.model.info}}
    if args.json:
        emit(sys.stdout, report)
    else:
        print_report(report)
    return 0


def _pct(v: float) -> str:
    return f"{v * 100:5.1f}"


def print_report(report: dict) -> None:
    """Human-readable tables of an evaluation report."""
    from tierline.nlu.vocab import INTENTS

    rep = report["intents"]
    systems = rep["systems"]
    sets = [s for s in ("clean", "asr", "asr_beam", "asr_heard", "asr_kokoro",
                        "asr_kokoro_beam", "challenge", "challenge_asr_beam",
                        "challenge_asr_kokoro_beam")
            if s in rep["sizes"]]
    names = list(systems)
    print(f"== intents, {rep['split']} split: macro-F1 / accuracy (%)")
    print(f"{'set':<28}{'turns':>6}" + "".join(f"{n:>15}" for n in names))
    for s in sets:
        print(f"{s:<28}{rep['sizes'][s]:>6}" + "".join(
            f"{_pct(systems[n][s]['macro_f1']) + ' /' + _pct(systems[n][s]['accuracy']):>15}"
            for n in names))
    if "public_other" in rep["sizes"]:
        print(f"{'public other, false alarms':<28}{rep['sizes']['public_other']:>6}" + "".join(
            f"{_pct(systems[n]['public_other']['false_alarm_rate']):>15}" for n in names))
    print("\n-- per-intent F1 (%)")
    for s in sets:
        print(f"{s:<18}" + "".join(f"{n:>10}" for n in names))
        for intent in INTENTS:
            print(f"  {intent:<16}" + "".join(
                f"{_pct(systems[n][s]['f1'].get(intent, 0.0)):>10}" for n in names))
    if "model" in systems:
        short = [i[:6] for i in INTENTS]
        for s in sets:
            print(f"\n-- confusion matrix, model, {s} (rows truth, columns predicted)")
            print(f"{'':<18}" + "".join(f"{c:>7}" for c in short))
            conf = systems["model"][s]["confusion"]
            for t in INTENTS:
                print(f"{t:<18}" + "".join(f"{conf[t][p] or '.':>7}" for p in INTENTS))
    print_recogniser_bound(rep["recogniser_bound"])
    sent = report["sentiment"]
    print(f"\n== sentiment, {sent['split']} split: "
          + ", ".join(f"{k} {v}" for k, v in sent["sizes"].items()))
    for name, res in sent["systems"].items():
        line = f"{name:<10} caller utterances neg/neu/pos macro-F1 {_pct(res['own']['macro_f1'])}"
        if "reviews" in res:
            line += f"   review polarity accuracy {_pct(res['reviews']['polarity_accuracy'])}"
        print(line)


def print_recogniser_bound(bounds: dict) -> None:
    """Per noisy copy: the model's right turns by transcript CER band, read from what Whisper
    heard and from what was said, and the reader ceilings
    (:mod:`tierline.nlu.evaluation.recogniser_bound`)."""
    for copy, b in bounds.items():
        print(f"\n-- {copy} copy by transcript CER (corpus CER {_pct(b['cer']).strip()} %): "
              f"model macro-F1 {_pct(b['macro_f1_heard']).strip()} on what was heard, "
              f"{_pct(b['macro_f1_clean']).strip()} on what was said")
        print(f"{'CER band':<14}{'turns':>7}{'right heard':>13}{'right said':>12}")
        for band in b["bands"]:
            high = "" if band["high"] is None else f"{band['high']:.2f}"
            print(f"{band['low']:.2f}-{high:<9}{band['turns']:>7}{band['right_heard']:>13}"
                  f"{band['right_clean']:>12}")
        print("reader ceiling (transcripts below the CER read as well as what was said): "
              + ", ".join(f"< {c['below_cer']:.2f}: {_pct(c['macro_f1']).strip()}"
                          for c in b["ceilings"]))
