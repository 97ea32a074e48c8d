"""`tierline nlu TEXT... | --file F`: intents, entities and sentiment, one result per line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tierline.agent.clikit import UsageError, add_nlu_flags, emit, load_nlu


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nlu", help="intents, entities and sentiment of text")
    p.add_argument("text", nargs="*", metavar="TEXT")
    p.add_argument("--file", metavar="F", help="one utterance per line")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_nlu_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    if args.file:
        try:
            texts = Path(args.file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"cannot read {args.file}: {reason}") from None
    else:
        texts = args.text
    if not texts:
        raise UsageError("give TEXT arguments or --file F")
    nlu = load_nlu(args)
    for text in texts:
        t0 = time.perf_counter()
        r = nlu.analyze(text)
        ms = (time.perf_counter() - t0) * 1000
        obj = {"text": text, "intent": {"label": r.intent.label, "score": round(r.intent.score, 4)},
               "intents": {i.label: round(i.score, 4) for i in r.intents},
               "entities": r.entities.to_dict(), "sentiment": round(r.sentiment, 3),
               "latency_ms": round(ms, 3)}
        if args.json:
            emit(sys.stdout, obj)
        else:
            print(f"{r.intent.label:<17} {r.intent.score:.2f}  {obj['entities']}  {text}")
    return 0
