"""Recall and precision of opt-out and callback detection on turns never trained on.

    python -m tierline.agent.dialog.call_acts_eval [--kb F] [--model F] [--data DIR] [--json]

Three detectors of opt-out are measured: the knowledge base's phrase list alone (the floor),
the call-act model alone (:mod:`tierline.nlu.call_acts`, as the dialog reads it: the KB's
``not_before`` words taken out), and what the dialog uses, either of the two
(:class:`tierline.agent.dialog.compliance.OptOut`); a callback counts when the turn is no
opt-out. Sets:

- ``heldout``: nlu/data/call_acts_heldout.tsv, written from the definitions before the
  training rows; ``heldout_far``: its rows with no training row within character-bigram
  Jaccard :data:`NEAR` (so a near copy cannot make the numbers);
- ``others``: the dev, test and challenge rows of the intent corpus, texts by other authors,
  labelled for call acts (nlu/data/call_acts_heldout_others.tsv);
- ``public``: the held-out 20 % of the SMP2017 and CrossWOZ user turns (real text, none an
  opt-out or a callback request): the share flagged is a false-alarm rate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tierline.agent.dialog.compliance import OptOut
from tierline.agent.dialog.kb import KbError, load_kb
from tierline.nlu.call_acts import load_call_acts
from tierline.nlu.data import Example, load_ood_other, shared_data_dir
from tierline.nlu.data.call_acts import heldout, heldout_others, training_rows
from tierline.nlu.errors import NluError

NEAR = 0.5
DEFAULT_KB = Path(__file__).resolve().parents[2] / "samples" / "kb" / "yunfan.yaml"


def _bigrams(text: str) -> set[str]:
    t = "".join(ch for ch in text if ch.isalnum())
    return {t[i:i + 2] for i in range(len(t) - 1)} or {t}


def far_from(rows: list[Example], train: list[Example]) -> list[Example]:
    """Rows with no training row within Jaccard :data:`NEAR` of their character bigrams."""
    grams = [_bigrams(r.text) for r in train]
    out = []
    for r in rows:
        b = _bigrams(r.text)
        if all(len(b & g) / max(1, len(b | g)) < NEAR for g in grams):
            out.append(r)
    return out


def _score(flags: list[bool], truth: list[bool]) -> dict[str, float | int]:
    tp = sum(f and t for f, t in zip(flags, truth, strict=True))
    return {"positives": sum(truth), "flagged": sum(flags), "hits": tp,
            "recall": round(tp / max(1, sum(truth)), 4),
            "precision": round(tp / max(1, sum(flags)), 4)}


def evaluate(rows: list[Example], dialog: OptOut) -> dict:
    """Opt-out (three detectors) and callback scores on ``rows``."""
    model = dialog.model
    assert model is not None
    opt = [r.label == "opt_out" for r in rows]
    reads = [model.read(r.text).label for r in rows]
    by_phrase = [dialog.phrase(r.text) is not None for r in rows]
    by_dialog = [dialog.match(r.text) is not None for r in rows]
    by_model = [dialog.by_model(r.text) is not None for r in rows]
    return {
        "rows": len(rows),
        "opt_out": {
            "phrases": _score(by_phrase, opt),
            "model": _score(by_model, opt),
            "model_or_phrases": _score(by_dialog, opt),
        },
        "callback": _score([x == "callback" and not d for x, d in zip(reads, by_dialog,
                                                                       strict=True)],
                           [r.label == "callback" for r in rows]),
        "missed_opt_out": [r.text for r, d, t in zip(rows, by_dialog, opt, strict=True)
                           if t and not d],
        "false_opt_out": [r.text for r, d, t in zip(rows, by_dialog, opt, strict=True)
                          if d and not t],
    }


def run(kb_path: Path, model_path: str | None, data: str | None) -> dict:
    kb = load_kb(kb_path)
    model = load_call_acts(model_path)
    dialog = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before, model)
    train = training_rows()
    held = heldout()
    report = {"model": {"thresholds": model.thresholds, "info": model.info},
              "heldout": evaluate(held, dialog),
              "heldout_far": evaluate(far_from(held, train), dialog),
              "others": evaluate(heldout_others(), dialog)}
    try:
        public = [e for e in load_ood_other(shared_data_dir(data)) if e.split == "test"]
    except NluError:
        public = []
    if public:
        reads = [model.read(e.text).label for e in public]
        report["public"] = {
            "rows": len(public),
            "opt_out_rate": round(sum(dialog.match(e.text) is not None for e in public)
                                  / len(public), 4),
            "callback_rate": round(reads.count("callback") / len(public), 4)}
    return report


def _line(name: str, part: dict) -> str:
    o = part["opt_out"]
    cells = "  ".join(f"{k} R {v['recall']:.3f} P {v['precision']:.3f}" for k, v in o.items())
    cb = part["callback"]
    return (f"{name:<13}{part['rows']:>6}  opt_out ({o['model']['positives']}): {cells}  |  "
            f"callback ({cb['positives']}): R {cb['recall']:.3f} P {cb['precision']:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tierline.agent.dialog.call_acts_eval",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--kb", default=str(DEFAULT_KB), help="knowledge base (phrase list)")
    ap.add_argument("--model", default=None, help="call-act model (default: the shipped one)")
    ap.add_argument("--data", default=None, help="shared public data (for the public set)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        report = run(Path(args.kb), args.model, args.data)
    except (NluError, KbError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    for name in ("heldout", "heldout_far", "others"):
        print(_line(name, report[name]))
    if "public" in report:
        p = report["public"]
        print(f"public       {p['rows']:>6}  flagged opt_out {p['opt_out_rate']:.2%}, "
              f"callback {p['callback_rate']:.2%} (false alarms)")
    for name in ("heldout", "others"):
        for kind in ("missed_opt_out", "false_opt_out"):
            for text in report[name][kind]:
                print(f"  {name} {kind}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
