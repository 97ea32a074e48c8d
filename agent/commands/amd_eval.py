"""`tierline amd-eval`: precision/recall of the answering-machine detector on constructed calls.

Humans are real speech excerpts from the shared data followed by the silence of someone
waiting (half of them answer the bot); voicemail and IVR are asterisk's real telephone prompts
and Mandarin prompts spoken by espeak-ng, voicemail with a beep; all through G.711
(tierline.audio.evaluation.amd_cases). ``--split tune`` is the half the thresholds were set
on, ``test`` (default) the other half.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from tierline.agent.clikit import UsageError, emit, open_out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("amd-eval", help="answering-machine detection: precision/recall per "
                                        "outcome on constructed calls")
    p.add_argument("--data", metavar="DIR",
                   help="shared data folder with real speech (default $TIERLINE_DATA, "
                        "else ../shared/data)")
    p.add_argument("--sounds", metavar="DIR", default="/usr/share/asterisk/sounds/en",
                   help="asterisk-core-sounds-en-wav folder (make setup installs it)")
    p.add_argument("--split", choices=("tune", "test", "all"), default="test",
                   help="which half of the sources to score (default test)")
    p.add_argument("--no-mandarin", action="store_true",
                   help="leave out the espeak-ng Mandarin prompts")
    p.add_argument("--errors", action="store_true", help="list every wrong decision")
    p.add_argument("--json", metavar="OUT|-", help="write one JSON object per case and a "
                                                   "summary object")
    p.set_defaults(func=run)


def _data_dir(arg: str | None) -> Path:
    if arg:
        path = Path(arg)
    elif os.environ.get("TIERLINE_DATA"):
        path = Path(os.environ["TIERLINE_DATA"])
    else:
        path = Path.cwd().parent / "shared" / "data"
    if not (path / "asr_manifest.tsv").is_file():
        raise UsageError(f"no shared data at {path} (asr_manifest.tsv missing): "
                         "give --data or set TIERLINE_DATA")
    return path


def _fmt(x: float) -> str:
    return "  n/a" if math.isnan(x) else f"{x:5.3f}"


def run(args: argparse.Namespace) -> int:
    from tierline.audio.evaluation.amd_cases import all_cases
    from tierline.audio.evaluation.amdeval import confusion, decision_times, evaluate, scores
    from tierline.audio.synthetic.espeak import available

    data = _data_dir(args.data)
    sounds = Path(args.sounds)
    if not (sounds / "vm-intro.wav").is_file():
        raise UsageError(f"asterisk prompts not found in {sounds}: apt-get install "
                         "asterisk-core-sounds-en-wav (make setup installs it)")
    mandarin = not args.no_mandarin
    if mandarin and not available():
        raise UsageError("espeak-ng is not installed (make setup), or pass --no-mandarin")
    cases = [c for c in all_cases(data, sounds, mandarin)
             if args.split == "all" or c.split == args.split]
    if not cases:
        raise UsageError("no cases built: check --data and --sounds")
    results = evaluate(cases)
    table = scores(results)
    out, close = open_out(args.json)
    for r in results:
        emit(out, {"case": r.case.name, "label": r.case.label, "family": r.case.family,
                   "split": r.case.split, "codec": r.case.codec,
                   "reply": r.case.reply is not None, **r.decision.to_dict()})
    accuracy = sum(r.correct for r in results) / len(results)
    emit(out, {"summary": True, "split": args.split, "cases": len(results),
               "accuracy": accuracy, "scores": table,
               "median_decision_s": decision_times(results)})
    if close and out is not None:
        out.close()
    print(f"answering-machine detection, split {args.split}: {len(results)} cases "
          f"(groups alternate tune/test by speaker, prompt chain or text)")
    print(f"{'outcome':<10} {'precision':>9} {'recall':>7} {'said':>5} {'true':>5}")
    for label, s in table.items():
        print(f"{label:<10} {_fmt(s['precision']):>9} {_fmt(s['recall']):>7} "
              f"{s['said']:>5} {s['support']:>5}")
    print(f"accuracy {accuracy:.3f}")
    for label, row in confusion(results).items():
        said = ", ".join(f"{k} {v}" for k, v in sorted(row.items()))
        print(f"  true {label:<9} → {said}")
    times = decision_times(results)
    print("median decision after " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    if args.errors:
        for r in results:
            if not r.correct:
                print(f"  {r.case.name} ({r.case.label}) → {r.decision.outcome}: "
                      f"{'; '.join(r.decision.reasons)} at {r.decision.at_s:.1f} s")
    return 0
