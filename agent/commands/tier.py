"""`tierline tier --dialog D.json`: the tier and route logic on text turns (no audio)."""

from __future__ import annotations

import argparse
import sys

from tierline.agent.clikit import UsageError, emit, summary_line, turn_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tier", help="tier text dialogs (no audio)")
    p.add_argument("--dialog", required=True, metavar="D.json",
                   help='{"id","customer","utterances"} or a list of them')
    p.add_argument("--json", action="store_true", help="one replay-style object per dialog")
    p.add_argument("--baseline", choices=["rfm"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.agent.dialogs import load_dialogs
    from tierline.agent.policy import RoutingPolicy
    from tierline.agent.session import CallSession, Models
    from tierline.nlu.pipeline import Nlu

    if args.baseline:
        raise UsageError("--baseline rfm arrives with the tiering issue; not available yet")
    dialogs = load_dialogs(args.dialog)
    models = Models(nlu=Nlu())
    for dialog in dialogs:
        call = {"id": dialog.id, "source": "text", "customer": dialog.customer.id or None}
        session = CallSession(models, dialog.customer, call, RoutingPolicy())
        for i, text in enumerate(dialog.utterances):
            turn = session.on_text(text, start_s=float(i), end_s=float(i))
            if not args.json:
                print(turn_line(turn))
        result = {"id": dialog.id, **session.record.to_dict()}
        if args.json:
            emit(sys.stdout, result)
        else:
            print(summary_line(dialog.id, result))
            print("   reasons: " + "; ".join(session.record.final_tier.reasons))
    return 0
